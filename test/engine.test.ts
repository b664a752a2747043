// The Node engine end to end, through the load command's own code path (cli/load.ts run), against
// the real simulated endpoints (startSim on port 0, or a sim child process where timing matters) and
// the real workload loader. Serial: these tests measure time and share a 2-core machine.
import test from 'ava';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { OutcomeKind, RequestRecord } from '../core/record.ts';
import type { RunManifest } from '../core/run.ts';
import { readRecords } from '../io/records-file.ts';
import { run } from '../cli/load.ts';
import { startSimProcess } from '../engine/sim-process.ts';
import { startSim, type SimServer } from '../sim/server.ts';
import { startTestSim as sim, tempDir } from './support/load-helpers.ts';

const tmp = () => tempDir('sb-engine-');

/** Runs `load` in this process against the given URLs; returns the exit code, records and run.json. */
async function load(args: string[], env: Record<string, string> = {}): Promise<{ code: number; dir: string; records: RequestRecord[]; manifest: RunManifest & { counts: { pairs_sent: number; records: number } } }> {
  const dir = join(tmp(), 'run');
  const code = await run(['--no-progress', '--no-analyze', '--out', dir, ...args], env);
  const { records, summary } = await readRecords(join(dir, 'records.jsonl'));
  if (summary.truncatedLastLine !== null) throw new Error('truncated records file');
  const manifest = JSON.parse(readFileSync(join(dir, 'run.json'), 'utf8'));
  return { code, dir, records, manifest };
}

const endpoints = (b: SimServer, c: SimServer) => ['--baseline', b.url, '--candidate', c.url];

/** Least-squares rate of events at the given times (ns): 1e9 / slope of time against rank. */
function fittedRate(timesNs: number[]): number {
  const ts = [...timesNs].sort((a, b) => a - b);
  const n = ts.length;
  const meanI = (n - 1) / 2;
  const meanT = ts.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  ts.forEach((t, i) => {
    num += (i - meanI) * (t - meanT);
    den += (i - meanI) ** 2;
  });
  return 1e9 / (num / den);
}

const byArm = (records: RequestRecord[], arm: string) => records.filter((r) => r.arm === arm).sort((a, b) => a.index - b.index);

test.serial('constant arrivals: 200 requests at 100 QPS, achieved rate within 1 %, every request recorded on both arms', async (t) => {
  const [b, c] = [await sim(t), await sim(t, { profile: 'dynamo-disaggregated' })];
  const { code, records, manifest } = await load([...endpoints(b, c), '--qps', '100', '--requests', '200']);
  t.is(code, 0);
  t.is(records.length, 400);
  t.is(manifest.counts.pairs_sent, 200);
  for (const arm of ['baseline', 'candidate']) {
    const rs = byArm(records, arm);
    t.deepEqual(rs.map((r) => r.index), Array.from({ length: 200 }, (_, i) => i));
    t.true(rs.every((r) => r.outcome.kind === 'ok'), 'every request succeeded');
    const rate = fittedRate(rs.map((r) => r.sent_ns!));
    t.true(Math.abs(rate / 100 - 1) < 0.01, `${arm} achieved ${rate.toFixed(2)} QPS`);
    t.deepEqual(rs.map((r) => r.scheduled_ns).slice(0, 3), [0, 10_000_000, 20_000_000]);
  }
  t.is(manifest.interrupted, null);
  t.truthy(manifest.ended_at);
  t.regex(manifest.mono_origin_ns ?? '', /^\d+$/);
});

test.serial('poisson arrivals: seeded, sends follow the schedule, gaps exponential within the statistical tolerance', async (t) => {
  const [b, c] = [await sim(t), await sim(t)];
  const n = 300;
  const first = await load([...endpoints(b, c), '--qps', '100', '--requests', String(n), '--arrival', 'poisson', '--seed', '7']);
  const rs = byArm(first.records, 'baseline');
  t.is(rs.length, n);
  const gaps = rs.slice(1).map((r, i) => (r.scheduled_ns - rs[i]!.scheduled_ns) / 1e9);
  const mean = gaps.reduce((a, b) => a + b, 0) / gaps.length;
  const sd = Math.sqrt(gaps.reduce((a, g) => a + (g - mean) ** 2, 0) / (gaps.length - 1));
  // The mean of n exponential gaps has relative standard error 1/√n; allow 4 of them.
  const tolerance = 4 / Math.sqrt(gaps.length);
  t.true(Math.abs(mean * 100 - 1) < tolerance, `mean gap ${(mean * 1000).toFixed(2)} ms vs 10 ms ± ${(tolerance * 100).toFixed(0)} %`);
  t.true(Math.abs(sd / mean - 1) < 0.3, `coefficient of variation ${(sd / mean).toFixed(2)} (exponential: 1)`);
  // Achieved rate equals the planned one: the engine follows the schedule (within 1 %).
  const planned = fittedRate(rs.map((r) => r.scheduled_ns));
  const achieved = fittedRate(rs.map((r) => r.sent_ns!));
  t.true(Math.abs(achieved / planned - 1) < 0.01, `achieved ${achieved.toFixed(2)} vs planned ${planned.toFixed(2)} QPS`);
  // Same seed, same schedule.
  const again = await load([...endpoints(b, c), '--qps', '100', '--requests', '20', '--arrival', 'poisson', '--seed', '7']);
  t.deepEqual(byArm(again.records, 'baseline').map((r) => r.scheduled_ns), rs.slice(0, 20).map((r) => r.scheduled_ns));
});

test.serial('measured TTFT is within 2 ms of the server\'s ground truth at 50 QPS (sim in its own process)', async (t) => {
  const [b, c] = await Promise.all([startSimProcess('vllm-single-node', ['--time-scale', '0.2']), startSimProcess('dynamo-disaggregated', ['--time-scale', '0.2'])]);
  t.teardown(async () => {
    await b.close();
    await c.close();
  });
  // Timing on a 2-core machine shared with other work: a burst of foreign load can delay any
  // thread, so the measurement gets up to three 2-second attempts; one must meet the bound.
  let best = Infinity;
  for (let attempt = 1; attempt <= 3 && best >= 2; attempt++) {
    const { records, manifest } = await load(['--baseline', b.url, '--candidate', c.url, '--qps', '50', '--requests', '100']);
    const origin = BigInt(manifest.mono_origin_ns!);
    const errorsMs: number[] = [];
    for (const r of records) {
      const url = r.arm === 'baseline' ? b.url : c.url;
      const truth = (await (await fetch(`${url}/sim/ground-truth?id=${encodeURIComponent(`${manifest.run_id}:${r.arm}:${r.index}`)}`)).json()) as { first_content_mono_ns: string };
      errorsMs.push(Number(origin + BigInt(r.first_content_ns!) - BigInt(truth.first_content_mono_ns)) / 1e6);
    }
    errorsMs.sort((x, y) => x - y);
    const p = (q: number) => errorsMs[Math.floor(q * (errorsMs.length - 1))]!;
    t.log(`attempt ${attempt}: TTFT timestamp error vs ground truth p50 ${p(0.5).toFixed(3)} ms, p95 ${p(0.95).toFixed(3)} ms, max ${p(1).toFixed(3)} ms; warnings: ${manifest.warnings.join(' / ') || 'none'}`);
    t.is(errorsMs.length, 200);
    t.true(errorsMs[0]! >= 0, 'the client never sees a token before the server sent it (shared monotonic clock)');
    best = Math.min(best, p(0.95));
  }
  t.true(best < 2, 'at least 95 % of first-token timestamps within 2 ms of the server\'s');
});

test.serial('every injected fault maps to its outcome kind; records = arms × requests sent', async (t) => {
  const [b, c] = [await sim(t), await sim(t)];
  const cases: Array<[fault: string, kind: OutcomeKind, pattern: RegExp]> = [
    ['error-503', 'http_error', /./],
    ['stall', 'timeout', /within 0.5 s/],
    ['disconnect', 'connection_error', /mid-stream/],
    ['malformed', 'protocol_error', /not JSON/],
  ];
  for (const [fault, kind, pattern] of cases) {
    const { records, manifest } = await load([...endpoints(b, c), '--qps', '50', '--requests', '6', '--timeout', '0.5', '--candidate-header', `x-sim-fault: ${fault}`]);
    t.is(records.length, 2 * manifest.counts.pairs_sent, fault);
    t.is(manifest.counts.pairs_sent, 6);
    t.true(byArm(records, 'baseline').every((r) => r.outcome.kind === 'ok'), `${fault}: baseline untouched`);
    for (const r of byArm(records, 'candidate')) {
      t.is(r.outcome.kind, kind, `${fault} → ${kind}`);
      t.regex((r.outcome as { message: string }).message, pattern);
    }
  }
  // Random faults at the sim's own rates: still one record per request per arm.
  const [fb, fc] = [await sim(t, { faults: { errorRate: 0.1, stallRate: 0.1, disconnectRate: 0.1, malformedRate: 0.1 } }), await sim(t)];
  const { records, manifest } = await load([...endpoints(fb, fc), '--qps', '100', '--requests', '60', '--timeout', '0.5']);
  t.is(records.length, 120);
  t.is(manifest.counts.records, 120);
  const kinds = new Set(byArm(records, 'baseline').map((r) => r.outcome.kind));
  t.true(kinds.size >= 4, `baseline kinds: ${[...kinds].join(', ')}`);
});

test.serial('wrong model name → http_error with the server\'s message; unreachable endpoint → connection_error (preflight off)', async (t) => {
  const [b, c] = [await sim(t), await sim(t)];
  const wrong = await load([...endpoints(b, c), '--requests', '3', '--qps', '50', '--candidate-model', 'no-such-model', '--no-preflight']);
  for (const r of byArm(wrong.records, 'candidate')) t.like(r.outcome, { kind: 'http_error', status: 404, message: 'The model `no-such-model` does not exist.' });
  const closed = await startSim({ profile: 'vllm-single-node', port: 0 });
  const deadUrl = closed.url;
  await closed.close();
  const dead = await load(['--baseline', b.url, '--candidate', deadUrl, '--requests', '3', '--qps', '50', '--no-preflight']);
  t.is(dead.records.length, 6);
  for (const r of byArm(dead.records, 'candidate')) t.like(r.outcome, { kind: 'connection_error', code: 'ECONNREFUSED' });
});

test.serial('--baseline-repeat adds the A/A arm at the same instant; --warmup flags the first requests; --workers 0 works', async (t) => {
  const [b, c] = [await sim(t), await sim(t)];
  const { records } = await load([...endpoints(b, c), '--qps', '50', '--requests', '10', '--warmup', '4', '--baseline-repeat', '--workers', '0']);
  t.is(records.length, 3 * 14);
  const repeat = byArm(records, 'baseline_repeat');
  t.deepEqual(repeat.map((r) => r.index), Array.from({ length: 14 }, (_, i) => i));
  t.deepEqual(byArm(records, 'baseline').map((r) => r.warmup), [...Array(4).fill(true), ...Array(10).fill(false)]);
  for (const r of repeat) {
    const base = byArm(records, 'baseline')[r.index]!;
    t.is(r.scheduled_ns, base.scheduled_ns);
    t.is(r.output_text, base.output_text, 'the sim answers the same prompt the same way');
    t.is(r.instance, '');
  }
});

test.serial('trace arrivals replay the workload\'s own timestamps, scaled by --time-scale', async (t) => {
  const [b, c] = [await sim(t), await sim(t)];
  const file = join(tmp(), 'trace.jsonl');
  const offsets = [1000, 1100, 1150, 1400];
  writeFileSync(file, offsets.map((ms, i) => JSON.stringify({ timestamp_ms: ms, messages: [{ role: 'user', content: `q${i}` }], max_tokens: 4 })).join('\n') + '\n');
  const { records } = await load([...endpoints(b, c), '--workload', file, '--arrival', 'trace', '--time-scale', '0.5']);
  const base = byArm(records, 'baseline');
  t.deepEqual(base.map((r) => r.scheduled_ns), [0, 50e6, 75e6, 200e6], 'one pass over the trace, offsets × 0.5 from the first');
  for (const r of base) t.true(r.sent_ns! >= r.scheduled_ns);
});

test.serial('--max-inflight holds pairs back and records the wait as queue_wait_ns', async (t) => {
  const [b, c] = [await sim(t, { timeScale: 0.3 }), await sim(t, { timeScale: 0.3 })];
  const { records } = await load([...endpoints(b, c), '--qps', '100', '--requests', '12', '--max-inflight', '2']);
  t.is(records.length, 24);
  const waited = records.filter((r) => r.queue_wait_ns > 0);
  t.true(waited.length > 0, 'some pairs waited for a slot');
  for (const r of waited) t.true(r.sent_ns! - r.scheduled_ns >= r.queue_wait_ns - 1e6, 'the wait is part of the send lag');
  // Never more than 2 pairs in flight: at any send instant, at most 2 baseline requests are open.
  const base = byArm(records, 'baseline');
  for (const r of base) {
    const open = base.filter((o) => o.sent_ns! <= r.sent_ns! && o.end_ns! > r.sent_ns!).length;
    t.true(open <= 2, `${open} in flight at index ${r.index}`);
  }
});
