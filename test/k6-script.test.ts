// The k6 script's logic, bundled exactly as for k6 but with k6/http, k6/execution, k6/metrics,
// k6/data and k6/x/sse mapped to Node doubles (test/doubles/k6/) that send real requests to
// simulated endpoints: records are valid, arms cover the same items, execution segments split
// the indices exactly once, buffered mode marks token timing as not measured.
import test from 'ava';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseWorkload } from '../core/workload/workload.ts';
import { createPlan } from '../core/plan.ts';
import { readRecords } from '../io/records-file.ts';
import { convertK6Console, droppedIterations, k6Warnings } from '../k6/collect.ts';
import { resolvedWorkloadJsonl } from '../cli/load-k6.ts';
import { DEFAULT_GATES } from '../analysis/gates.ts';
import { gatesToThresholds } from '../k6/script/thresholds.ts';
import { K6_CONFIG_VERSION, scenarioVus, type K6ScriptConfig } from '../k6/script/config.ts';
import type { RequestRecord } from '../core/record.ts';
import { latencySamples } from '../core/metrics.ts';
import { samples } from './doubles/k6/metrics.ts';
import httpDouble from './doubles/k6/http.ts';
import {
  buildTestBundle,
  loadInstance,
  restoreConsole,
  runIteration,
  segmentIterations,
  startSimThread,
  summaryData,
  waitUntil,
  type ScriptModule,
  type SimThread,
} from './doubles/k6/runtime.ts';

const dir = mkdtempSync(join(tmpdir(), 'sb-k6-'));
let bundle: string;
let sims: SimThread;
const ITEMS = 4;
const QPS = 40;

// Small items built from integers: short prompts, 6 output tokens each.
const workloadText =
  Array.from({ length: ITEMS }, (_, i) =>
    JSON.stringify({ id: `item-${i}`, messages: [{ role: 'user', content: `count to ${i + 3}` }], max_tokens: 6 }),
  ).join('\n') + '\n';
const workload = parseWorkload(workloadText, { file: 'fixture.jsonl', seed: 7, model: 'meta-llama/Llama-3.1-8B-Instruct' });
const workloadFile = join(dir, 'k6-workload.jsonl');
writeFileSync(workloadFile, resolvedWorkloadJsonl(workload));

test.before(async () => {
  bundle = await buildTestBundle(join(dir, 'bundle'));
  sims = await startSimThread([
    { profile: 'vllm-single-node', seed: 1, timeScale: 0.05 },
    { profile: 'dynamo-disaggregated', seed: 2, timeScale: 0.05, faults: {} },
  ]);
  // Node-side start-up costs (undici compiles its HTTP parser on the first connection) are not the
  // script's latency: pay them once before the measured requests. k6's Go client has no such cost.
  for (const url of sims.urls) httpDouble.get(`${url}/v1/models`);
});
test.serial(
  'a sending VU (__VU ≥ 1) exports no options and builds its plan on its first request: the same requests as the options context',
  async (t) => {
    // Real k6 reads `options` in a __VU 0 init context and sends from VUs 1, 2, …, each evaluating the
    // init code again: the script keeps a VU's start-up to the config, the shared items and the metrics.
    const c = config('vu1');
    const configFile = join(dir, 'vu1-config.json');
    writeFileSync(configFile, JSON.stringify(c));
    const consoleFile = join(dir, 'vu1-console.log');
    writeFileSync(consoleFile, '');
    const optionsContext = await loadInstance(bundle, { SB_CONFIG_FILE: configFile }, consoleFile);
    t.deepEqual(Object.keys(optionsContext.options.scenarios), ['baseline', 'candidate']);
    const data = optionsContext.setup();
    const vu = await loadInstance(bundle, { SB_CONFIG_FILE: configFile }, consoleFile, undefined, 1);
    t.deepEqual(vu.options, {} as never);
    const start = Date.now();
    for (const arm of ['baseline', 'candidate']) runIteration({ ...vu, options: optionsContext.options }, arm, 2, start, data);
    restoreConsole();
    const out = join(dir, 'vu1-records.jsonl');
    await convertK6Console([consoleFile], out);
    const { records } = await readRecords(out);
    const plan = createPlan(workload, { arrival: 'constant', qps: QPS, requests: 6, warmup: 1, order: 'shuffle', seed: 7 });
    t.deepEqual(
      records.map((r) => [r.arm, r.index, r.item_id, r.outcome.kind]),
      ['baseline', 'candidate'].map((arm) => [arm, 2, plan.request(2).item.id, 'ok']),
    );
  },
);

test.serial(
  'arms share one schedule however far apart k6 started their scenarios: an early iteration waits, a late one shows as lag',
  async (t) => {
    // k6 anchors each constant-arrival-rate scenario to its own start and activates every pre-allocated
    // VU before the first tick (grafana/k6 lib/executor/constant_arrival_rate.go, Run): under real k6
    // the two arms' starts were 2-17 ms apart, a constant skew for the whole run. Here the candidate's
    // scenario "starts" at once and the baseline's 30 ms after request 0 is due.
    const c = config('align', { start_delay_s: 0.2 }); // a start delay, so the first call is well before the due time even on a busy machine
    const configFile = join(dir, 'align-config.json');
    writeFileSync(configFile, JSON.stringify(c));
    const consoleFile = join(dir, 'align-console.log');
    writeFileSync(consoleFile, '');
    const module = await loadInstance(bundle, { SB_CONFIG_FILE: configFile }, consoleFile);
    const data = module.setup();
    const dueMs = (i: number) => data.origin_unix_ms + c.start_delay_s * 1000 + scenarioVus(c).holdMs + (i * 1000) / QPS;
    const calledMs = Date.now();
    runIteration(module, 'candidate', 0, calledMs, data);
    waitUntil(dueMs(0) + 30);
    runIteration(module, 'baseline', 0, Date.now(), data);
    restoreConsole();
    const out = join(dir, 'align-records.jsonl');
    await convertK6Console([consoleFile], out);
    const { records } = await readRecords(out);
    const byArm = Object.fromEntries(records.map((r) => [r.arm, r]));
    const expected = Math.round((dueMs(0) - data.origin_unix_ms) * 1e6);
    t.is(byArm.candidate!.scheduled_ns, expected, 'due at origin + start delay + hold + i / qps');
    t.is(byArm.baseline!.scheduled_ns, expected, 'the same instant for both arms');
    const lagMs = (r: RequestRecord) => (r.sent_ns! - r.scheduled_ns) / 1e6;
    t.true(calledMs < dueMs(0) - 50, 'the candidate iteration started well before its due time');
    t.true(lagMs(byArm.candidate!) >= 0, `and waited for it: lag ${lagMs(byArm.candidate!)} ms`);
    // 30 ms after its due time by the harness clock; the script reads its own (anchored to Date.now, sub-ms apart).
    t.true(lagMs(byArm.baseline!) >= 25, `the late one is late: ${lagMs(byArm.baseline!)} ms`);
  },
);

test.after.always(async () => {
  restoreConsole();
  await sims?.close();
});

function config(name: string, overrides: Partial<K6ScriptConfig> = {}): K6ScriptConfig {
  return {
    v: K6_CONFIG_VERSION,
    run_id: `k6-${name}`,
    mode: 'sse',
    qps: QPS,
    total_requests: 7,
    warmup: 1,
    seed: 7,
    order: 'shuffle',
    workload_file: workloadFile,
    workload: { format: 'openai' },
    arms: [
      { arm: 'baseline', url: sims.urls[0]!, model: null },
      { arm: 'candidate', url: sims.urls[1]!, model: null },
    ],
    timeout_s: 10,
    expected_latency_s: 0.5,
    max_vus: 0,
    start_delay_s: 0,
    thresholds: gatesToThresholds(DEFAULT_GATES),
    summary_file: join(dir, `${name}-summary.json`),
    ...overrides,
  };
}

interface InstanceRun {
  module: ScriptModule;
  consoleFile: string;
  indices: number[];
  summaryFile: string;
  thresholdsFailed: boolean;
}

/** One k6 instance: init, setup, the due iterations of every arm, handleSummary (files written as k6 writes them). */
async function runInstance(c: K6ScriptConfig, name: string, segment?: string, parts = 1): Promise<InstanceRun> {
  const configFile = join(dir, `${name}-config.json`);
  writeFileSync(configFile, JSON.stringify(c));
  const consoleFile = join(dir, `${name}-console.log`);
  writeFileSync(consoleFile, '');
  const module = await loadInstance(bundle, { SB_CONFIG_FILE: configFile }, consoleFile, segment);
  const data = module.setup();
  const start = Date.now();
  const indices = segmentIterations(c.total_requests, segment, parts);
  for (const i of indices) {
    waitUntil(start + (i * 1000) / c.qps);
    for (const arm of c.arms) runIteration(module, arm.arm, i, start, data);
  }
  const iterations = Object.fromEntries(c.arms.map((a) => [a.arm, indices.length]));
  const summary = summaryData(module.options.thresholds, iterations);
  const out = module.handleSummary(summary);
  for (const [file, text] of Object.entries(out)) if (file !== 'stdout') writeFileSync(file, text);
  if (c.summary_file === null) writeFileSync(consoleFile, out.stdout!, { flag: 'a' }); // pod log: stdout and console interleave
  restoreConsole();
  return { module, consoleFile, indices, summaryFile: c.summary_file ?? '', thresholdsFailed: summary.failed };
}

test.serial('streaming: one valid record per request per arm, both arms on the same items, timestamps match the server', async (t) => {
  const c = config('sse');
  const run = await runInstance(c, 'sse');
  const out = join(dir, 'sse-records.jsonl');
  const converted = await convertK6Console([run.consoleFile], out, { summaryFiles: [run.summaryFile] });
  const { records } = await readRecords(out); // validates every line against core/record.ts
  t.is(records.length, 14);
  t.is(converted.metas.length, 1);
  t.is(converted.metas[0]!.clock, 'performance.now');
  t.deepEqual(converted.ignoredLines[run.consoleFile], 0);

  const plan = createPlan(workload, { arrival: 'constant', qps: QPS, requests: 6, warmup: 1, order: 'shuffle', seed: 7 });
  for (const arm of ['baseline', 'candidate']) {
    const mine = records.filter((r) => r.arm === arm).sort((a, b) => a.index - b.index);
    t.deepEqual(
      mine.map((r) => r.index),
      [0, 1, 2, 3, 4, 5, 6],
    );
    t.deepEqual(
      mine.map((r) => r.item_id),
      [...plan].map((p) => p.item.id),
      `${arm} follows the plan's item order`,
    );
    t.deepEqual(
      mine.map((r) => r.warmup),
      [true, false, false, false, false, false, false],
    );
  }
  for (const r of records) {
    t.is(r.source, 'k6');
    t.is(r.outcome.kind, 'ok', JSON.stringify(r.outcome));
    t.true(r.token_timing && r.streaming);
    t.true(r.content_ns.length >= 1 && r.output_text.length > 0);
    t.true(r.sent_ns! <= r.headers_ns! && r.headers_ns! <= r.first_content_ns! && r.first_content_ns! <= r.end_ns!);
    // The first-content time is the first chunk's own (a TTFT comparison could not tell it from the last's).
    t.is(r.first_content_ns, r.content_ns[0] ?? null);
    t.true(r.content_ns.every((ns, k) => k === 0 || ns >= r.content_ns[k - 1]!) && r.content_ns.at(-1)! <= r.end_ns!);
    t.not(r.usage?.completion_tokens ?? null, null);
  }
  // Due time: origin + hold + i / qps for every arm (config.ts scheduleHoldMs), and no request before it.
  const holdNs = Math.round(scenarioVus(c).holdMs * 1e6);
  t.deepEqual(
    records.map((r) => r.scheduled_ns - Math.round((r.index * 1e9) / QPS)),
    records.map(() => holdNs),
  );
  t.true(records.every((r) => r.sent_ns! >= r.scheduled_ns));
  // TTFT seen by the script against the server's first-content − received: the client can never see it
  // earlier (causality, within the 0.5 ms of k6's millisecond timestamps). How much later depends on the
  // machine's load, so it is logged, not judged (accuracy is `npm run check:timing` and `npm run bench`).
  const excess: number[] = [];
  for (const r of records) {
    const res = await fetch(
      `${r.arm === 'baseline' ? sims.urls[0] : sims.urls[1]}/sim/ground-truth?id=${encodeURIComponent(`${r.run_id}:${r.arm}:${r.index}`)}`,
    );
    t.is(res.status, 200);
    const truth = (await res.json()) as { received_mono_ns: string; first_content_mono_ns: string };
    const serverTtftMs = Number(BigInt(truth.first_content_mono_ns) - BigInt(truth.received_mono_ns)) / 1e6;
    const clientTtftMs = (r.first_content_ns! - r.sent_ns!) / 1e6;
    t.true(clientTtftMs >= serverTtftMs - 0.5, `${r.arm}:${r.index} client ${clientTtftMs} ms vs server ${serverTtftMs} ms`);
    excess.push(clientTtftMs - serverTtftMs);
  }
  excess.sort((a, b) => a - b);
  t.log(`median client − server TTFT ${excess[Math.floor(excess.length / 2)]?.toFixed(2)} ms`);
  // k6 metrics: only measured requests (no warm-up), tagged by arm through the scenario tags.
  const ttft = samples.get('ttft')!.values;
  t.is(ttft.filter((s) => s.tags.arm === 'candidate').length, 6);
  t.is(ttft.filter((s) => s.tags.arm === 'baseline').length, 6);
  // No threshold reads ITL with the default gates (slo.enforce off): the script adds no ITL samples.
  t.is(samples.get('itl')!.values.length, 0);
  t.false(run.thresholdsFailed);
  const summary = JSON.parse(readFileSync(run.summaryFile, 'utf8'));
  t.deepEqual(summary.iterations, { baseline: 7, candidate: 7 });
  t.deepEqual(droppedIterations(converted.summaries), { total: 0, byArm: { baseline: 0, candidate: 0 } });
  // Planned per arm = started + dropped, from each instance's summary; no dropped-iterations warning when none dropped.
  t.deepEqual(summary.planned, { baseline: 7, candidate: 7 });
  t.deepEqual(converted.planned, { baseline: 7, candidate: 7 });
  t.false(k6Warnings(converted).some((w) => w.startsWith('dropped_iterations')));
});

test.serial('buffered mode: core k6/http only, end-to-end latency and output recorded, TTFT/ITL not measured', async (t) => {
  const run = await runInstance(config('buffered', { mode: 'buffered' }), 'buffered');
  const out = join(dir, 'buffered-records.jsonl');
  await convertK6Console([run.consoleFile], out);
  const { records } = await readRecords(out);
  t.is(records.length, 14);
  for (const r of records) {
    t.is(r.source, 'k6-buffered');
    t.is(r.outcome.kind, 'ok', JSON.stringify(r.outcome));
    t.false(r.streaming);
    t.false(r.token_timing);
    t.deepEqual(r.content_ns, []);
    t.is(r.first_content_ns, null);
    t.is(r.first_chunk_ns, null);
    t.true(r.output_text.length > 0);
    t.true(r.sent_ns! < r.headers_ns! && r.headers_ns! <= r.end_ns!);
  }
  t.is(samples.get('ttft')!.values.length, 0);
  t.is(samples.get('itl')!.values.length, 0);
  t.is(samples.get('e2e')!.values.length, 12);
});

test.serial('execution segments: two instances cover every index exactly once per arm, merged into one records file', async (t) => {
  const c = config('split', { summary_file: null, total_requests: 9 });
  const a = await runInstance(c, 'split-a', '0:1/2', 2);
  const b = await runInstance(c, 'split-b', '1/2:1', 2);
  t.deepEqual(a.indices, [0, 2, 4, 6, 8]);
  t.deepEqual(b.indices, [1, 3, 5, 7]);
  const out = join(dir, 'split-records.jsonl');
  const converted = await convertK6Console([a.consoleFile, b.consoleFile], out);
  const { records } = await readRecords(out);
  t.is(converted.duplicates, 0);
  t.is(converted.metas.length, 2);
  t.is(converted.summaries.length, 2, 'each instance printed its summary line on stdout');
  // handleSummary's stdout lines (human text) are counted, not mistaken for records.
  t.true(converted.ignoredLines[a.consoleFile]! > 0);
  for (const arm of ['baseline', 'candidate']) {
    const indices = records
      .filter((r: RequestRecord) => r.arm === arm)
      .map((r) => r.index)
      .sort((x, y) => x - y);
    t.deepEqual(indices, [0, 1, 2, 3, 4, 5, 6, 7, 8]);
  }
  t.deepEqual(new Set(records.map((r) => r.instance)), new Set(['0:1/2', '1/2:1']));
  t.deepEqual(converted.planned, { baseline: 9, candidate: 9 }, 'planned per arm summed over the instances');
  // Instance b started later: its records were moved onto instance a's (earlier) origin.
  const originA = converted.metas.find((m) => m.instance === '0:1/2')!.origin_unix_ms;
  const originB = converted.metas.find((m) => m.instance === '1/2:1')!.origin_unix_ms;
  t.true(originB >= originA);
  const firstB = records.filter((r) => r.instance === '1/2:1').reduce((m, r) => Math.min(m, r.sent_ns!), Infinity);
  t.true(firstB >= (originB - originA) * 1e6);
  // A record printed twice (two instances on the same segment) is counted and kept once.
  const again = join(dir, 'split-dup.jsonl');
  const dup = await convertK6Console([a.consoleFile, a.consoleFile], again);
  t.is(dup.duplicates, 10);
});

test.serial('candidate failures cross the k6 thresholds the gates define', async (t) => {
  const failing = await startSimThread([
    { profile: 'dynamo-disaggregated', seed: 3, timeScale: 0.05, faults: { errorRate: 1, errorStatus: 503 } },
  ]);
  try {
    const c = config('fail', {
      arms: [
        { arm: 'baseline', url: sims.urls[0]!, model: null },
        { arm: 'candidate', url: failing.urls[0]!, model: null },
      ],
      total_requests: 4,
    });
    const run = await runInstance(c, 'fail');
    t.true(run.thresholdsFailed);
    const out = join(dir, 'fail-records.jsonl');
    const converted = await convertK6Console([run.consoleFile], out, { summaryFiles: [run.summaryFile] });
    const { records } = await readRecords(out);
    const candidate = records.filter((r) => r.arm === 'candidate');
    t.is(candidate.length, 4);
    for (const r of candidate) {
      t.is(r.outcome.kind, 'http_error');
      t.is(r.http_status, 503);
    }
    t.true(k6Warnings(converted).some((w) => w.startsWith('k6 thresholds crossed: request_failed{arm:candidate} rate<=0.01')));
  } finally {
    await failing.close();
  }
});

test.serial('with an ITL threshold (slo.enforce) the script adds exactly the analysis ITL samples of its records', async (t) => {
  const c = config('itl', { thresholds: gatesToThresholds({ ...DEFAULT_GATES, slo: { ...DEFAULT_GATES.slo, enforce: true } }) });
  const run = await runInstance(c, 'itl');
  const out = join(dir, 'itl-records.jsonl');
  await convertK6Console([run.consoleFile], out);
  const { records } = await readRecords(out);
  const expected: number[] = [];
  for (const r of records) latencySamples(r, { ttft: () => {}, itl: (v) => expected.push(v), e2e: () => {} });
  t.true(expected.length > 0);
  const sorted = (v: number[]) => [...v].sort((a, b) => a - b);
  t.deepEqual(sorted(samples.get('itl')!.values.map((s) => s.value)), sorted(expected));
});
