import test from 'ava';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnSync } from 'node:child_process';
import { emptyRecord, serializeRecord } from '../core/record.ts';
import {
  assess,
  DEFAULT_THRESHOLDS,
  modelsOf,
  parseThresholds,
  peakToAverage,
  prefixReuseRate,
  promptText,
  ThresholdsError,
  type AssessInputs,
} from '../migrate/assess.ts';
import { gatherAssessInputs, ttftFromSummary } from '../migrate/assess-inputs.ts';
import { parseWorkload } from '../core/workload/workload.ts';
import { parseTraceJsonl } from '../core/workload/trace.ts';
import { generateMooncakeLikeTrace } from '../workloads/generate-trace.ts';
import { loadRunManifest, type LoadConfig } from '../engine/config.ts';

test('peak-to-average: max bin count over mean bin count', (t) => {
  // bins of 1 s: [4, 1, 1] → mean 2 → ratio 2
  t.deepEqual(peakToAverage([0, 100, 200, 300, 1500, 2500], 1), { ratio: 2, bins: 3 });
  // evenly spaced: ratio 1
  t.deepEqual(peakToAverage([0, 500, 1000, 1500, 2000, 2500], 1), { ratio: 1, bins: 3 });
  t.is(peakToAverage([0, 10, 20], 1), null); // one bin: no ratio
  t.is(peakToAverage([], 1), null);
});

test('prefix reuse: blocks already sent by an earlier prompt, over all prompt characters', (t) => {
  const shared = 'S'.repeat(40); // 4 blocks of 10
  // first prompt: 60 chars, nothing reused; second: same 40-char prefix + 20 different → 40 reused
  const r = prefixReuseRate([shared + 'a'.repeat(20), shared + 'b'.repeat(20)], 10);
  t.deepEqual(r, { rate: 40 / 120, chars: 120 });
  // the same block at a different position is not a prefix hit (the chain differs)
  t.is(prefixReuseRate(['x'.repeat(10) + 'y'.repeat(10), 'y'.repeat(10) + 'x'.repeat(10)], 10)?.rate, 0);
  // a trailing partial block never counts
  t.is(prefixReuseRate(['abcde', 'abcde'], 10)?.rate, 0);
  t.is(prefixReuseRate([], 10), null);
});

test('prompt text and models of workload items', (t) => {
  const chat = {
    id: '1',
    api: 'chat' as const,
    timestamp_ms: null,
    body: {
      model: 'a',
      messages: [
        { role: 'system', content: 'S' },
        { role: 'user', content: 'U' },
      ],
    },
  };
  const completion = { id: '2', api: 'completions' as const, timestamp_ms: null, body: { prompt: 'P' } };
  t.is(promptText(chat), '<system>S\n<user>U');
  t.is(promptText(completion), 'P');
  t.deepEqual(modelsOf([chat, completion, chat]), ['(default)', 'a']);
});

const inputs = (over: Partial<AssessInputs>): AssessInputs => ({
  run_id: 'r',
  gpu_utilization_pct: 50,
  gpu_note: '',
  ttft_p99_ms: 100,
  ttft_slo_ms: 500,
  ttft_note: '',
  models: ['m'],
  models_note: '',
  peak_to_average: 1.2,
  peak_to_average_note: 'x',
  prefix_reuse: 0.1,
  prefix_reuse_note: 'y',
  server_prefix_cache_hit_rate: null,
  ...over,
});

test('score: each criterion met adds its points; thresholds pick MIGRATE / PILOT / STAY', (t) => {
  t.is(assess(inputs({})).score, 0);
  t.is(assess(inputs({})).recommendation, 'STAY');
  // GPU 80 % > 75 % → 3: PILOT
  const pilot = assess(inputs({ gpu_utilization_pct: 80 }));
  t.deepEqual([pilot.score, pilot.recommendation], [3, 'PILOT']);
  // + TTFT P99 450 > 0.8 × 500 → 6: MIGRATE
  const migrate = assess(inputs({ gpu_utilization_pct: 80, ttft_p99_ms: 450 }));
  t.deepEqual([migrate.score, migrate.recommendation], [6, 'MIGRATE']);
  t.regex(migrate.criteria[1]?.reason ?? '', /TTFT P99 450\.0 ms > 80 % of the 500 ms SLO: approaching the SLO$/);
  // exactly at the threshold is not above it
  t.is(assess(inputs({ gpu_utilization_pct: 75 })).criteria[0]?.met, false);
  // the thresholds file can lower the bar and set its own SLO
  const strict = { ...DEFAULT_THRESHOLDS, gpu_utilization_above_pct: 40, ttft_slo_ms: 110, migrate_at_score: 6 };
  t.is(assess(inputs({}), strict).recommendation, 'MIGRATE');
  t.is(assess(inputs({}), strict).max_score, 12);
});

test('unmeasured criteria score 0 and say why', (t) => {
  const a = assess(inputs({ gpu_utilization_pct: null, gpu_note: 'no metrics/baseline.jsonl', models: null, models_note: 'no workload' }));
  t.is(a.criteria[0]?.met, null);
  t.is(a.criteria[0]?.reason, 'GPU utilisation not measured: no metrics/baseline.jsonl');
  t.regex(a.summary, /2 criteria were not measured and scored 0/);
});

test('thresholds file: JSON or YAML, unknown keys and bad values named', (t) => {
  t.is(parseThresholds('{"gpu_utilization_above_pct": 70}', 't.json').gpu_utilization_above_pct, 70);
  t.is(parseThresholds('prefix_reuse_above: 0.5\nttft_slo_ms: 300\n', 't.yaml').ttft_slo_ms, 300);
  t.throws(() => parseThresholds('gpu_util: 70', 't.yaml'), {
    instanceOf: ThresholdsError,
    message: /^t\.yaml: gpu_util: unknown threshold \(accepted: gpu_utilization_above_pct/,
  });
  t.throws(() => parseThresholds('prefix_reuse_above: 30', 't.yaml'), {
    message: /t\.yaml: prefix_reuse_above: expected a fraction from 0 to 1, got 30/,
  });
  t.throws(() => parseThresholds('arrival_bin_s: 0', 't.yaml'), { message: /arrival_bin_s: expected seconds > 0/ });
  t.throws(() => parseThresholds('models_at_least: 1.5', 't.yaml'), { message: /models_at_least: expected a positive integer/ });
  t.throws(() => parseThresholds('pilot_at_score: 9', 't.yaml'), {
    message: /pilot_at_score \(9\) must not exceed migrate_at_score \(5\)/,
  });
  t.throws(() => parseThresholds('[1, 2]', 't.yaml'), { message: /expected a mapping/ });
});

// ---- fixture run folders ----

const SYSTEM = 'You are the support assistant of Example Corp. Answer from the policy excerpts below. '.repeat(12);

async function runFolder(
  t: { teardown(fn: () => unknown): void },
  spec: {
    gpu: number[];
    ttftP99: number;
    workloadLines: object[];
    records?: number[];
  },
): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'sb-assess-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const workload = join(dir, 'workload.jsonl');
  await writeFile(workload, spec.workloadLines.map((l) => JSON.stringify(l)).join('\n') + '\n');
  await writeFile(
    join(dir, 'run.json'),
    JSON.stringify({
      v: 1,
      run_id: 'fixture-run',
      seed: 7,
      arms: [{ arm: 'baseline', model: 'm' }],
      workload: { path: workload, format: 'openai', items: spec.workloadLines.length },
    }),
  );
  await writeFile(
    join(dir, 'summary.json'),
    JSON.stringify({
      schema: 'shadowbench.summary',
      version: 1,
      run_id: 'fixture-run',
      comparison: { baseline: 'baseline', candidate: 'candidate' },
      arms: [
        {
          arm: 'baseline',
          metrics: { ttft_ms: { p99: spec.ttftP99 } },
          slo: { ttft_p99_ms: { limit: 500, value: spec.ttftP99, met: spec.ttftP99 <= 500 } },
        },
      ],
    }),
  );
  await mkdir(join(dir, 'metrics'));
  const lines = spec.gpu.map((g, i) =>
    JSON.stringify({
      v: 1,
      kind: 'scrape',
      arm: 'baseline',
      seq: i,
      mono_ns: i * 1e9,
      wall: '2025-01-01T00:00:00.000Z',
      duration_ms: 1,
      samples: [
        { name: 'DCGM_FI_DEV_GPU_UTIL', labels: { gpu: '0' }, value: g },
        { name: 'vllm:prefix_cache_queries_total', labels: {}, value: i * 100 },
        { name: 'vllm:prefix_cache_hits_total', labels: {}, value: i * 60 },
      ],
    }),
  );
  await writeFile(join(dir, 'metrics', 'baseline.jsonl'), lines.join('\n') + '\n');
  const records = (spec.records ?? []).map((sentMs, index) => {
    const r = emptyRecord({
      run_id: 'fixture-run',
      arm: 'baseline',
      index,
      item_id: String(index),
      warmup: false,
      source: 'fixture',
      streaming: true,
      scheduled_ns: sentMs * 1e6,
    });
    return serializeRecord({ ...r, sent_ns: sentMs * 1e6, outcome: { kind: 'ok' } });
  });
  await writeFile(join(dir, 'records.jsonl'), records.join('\n') + (records.length ? '\n' : ''));
  return dir;
}

test('a saturated, bursty, multi-model, prefix-heavy baseline should migrate', async (t) => {
  // bursts: 8 requests in the first second, then one a second for 4 s → bins [8,1,1,1,1], mean 2.4, ratio 3.33
  const times = [0, 50, 100, 150, 200, 250, 300, 350, 1500, 2500, 3500, 4500];
  const workloadLines = times.map((ts, i) => ({
    id: `q${i}`,
    timestamp_ms: ts,
    model: i % 2 === 0 ? 'meta-llama/Llama-3.1-8B-Instruct' : 'meta-llama/Llama-3.1-70B-Instruct',
    messages: [
      { role: 'system', content: SYSTEM },
      { role: 'user', content: `Question number ${i}?` },
    ],
  }));
  const dir = await runFolder(t, { gpu: [85, 92, 95, 90], ttftP99: 470, workloadLines });
  const a = assess(await gatherAssessInputs(dir, { thresholds: DEFAULT_THRESHOLDS }));
  t.deepEqual(
    a.criteria.map((c) => [c.name, c.met]),
    [
      ['gpu_utilization', true],
      ['ttft_p99', true],
      ['models', true],
      ['peak_to_average', true],
      ['prefix_reuse', true],
    ],
  );
  t.is(a.score, 12);
  t.is(a.recommendation, 'MIGRATE');
  t.is(a.inputs.gpu_utilization_pct, 90.5);
  t.true(Math.abs((a.inputs.peak_to_average ?? 0) - 8 / 2.4) < 1e-12);
  t.true((a.inputs.prefix_reuse ?? 0) > 0.8);
  t.is(a.inputs.server_prefix_cache_hit_rate, 0.6);
  t.regex(a.inputs.peak_to_average_note, /workload timestamps/);
});

test('a comfortable single-model baseline with unique prompts and steady traffic should stay', async (t) => {
  const workloadLines = Array.from({ length: 10 }, (_, i) => ({
    id: `q${i}`,
    messages: [{ role: 'user', content: `${i} `.repeat(40) + 'unique question' }],
  }));
  // no workload timestamps: arrivals come from the run's send times, one every 100 ms for 3 s
  const dir = await runFolder(t, {
    gpu: [30, 35, 40],
    ttftP99: 120,
    workloadLines,
    records: Array.from({ length: 30 }, (_, i) => i * 100),
  });
  const a = assess(await gatherAssessInputs(dir, { thresholds: DEFAULT_THRESHOLDS }));
  t.deepEqual(
    a.criteria.map((c) => c.met),
    [false, false, false, false, false],
  );
  t.is(a.score, 0);
  t.is(a.recommendation, 'STAY');
  t.is(a.inputs.peak_to_average, 1);
  t.regex(a.inputs.peak_to_average_note, /the run's send times/);
  t.is(a.inputs.prefix_reuse, 0);
  t.deepEqual(a.inputs.models, ['(default)']);
});

test('assess CLI: prints score, reasons and recommendation, writes assessment.json; bad input exits 2', async (t) => {
  const workloadLines = [
    { messages: [{ role: 'user', content: 'hi' }], timestamp_ms: 0 },
    { messages: [{ role: 'user', content: 'yo' }], timestamp_ms: 3000 },
  ];
  const dir = await runFolder(t, { gpu: [99], ttftP99: 900, workloadLines });
  const cli = (...args: string[]) => spawnSync(process.execPath, ['cli/main.ts', 'assess', ...args], { encoding: 'utf8', timeout: 20_000 });
  const ok = cli(dir);
  t.is(ok.status, 0, ok.stderr);
  t.regex(ok.stdout, /\+3 +GPU utilisation 99\.0 % > 75 %/);
  t.regex(ok.stdout, /Score 6 \/ 12 → MIGRATE/);
  t.is(JSON.parse(await readFile(join(dir, 'assessment.json'), 'utf8')).recommendation, 'MIGRATE');
  await writeFile(join(dir, 'bad.yaml'), 'gpu_utilization_above_pct: lots\n');
  const bad = cli('--thresholds', join(dir, 'bad.yaml'), dir);
  t.is(bad.status, 2);
  t.regex(bad.stderr, /bad\.yaml: gpu_utilization_above_pct: expected a percentage from 0 to 100, got "lots"/);
  const notRun = cli(tmpdir() + '/definitely-not-a-run');
  t.is(notRun.status, 2);
  t.regex(notRun.stderr, /run\.json: not found; is this a run folder/);
});

test('summary.json reading: TTFT P99 and SLO of the baseline arm; unusable summaries say why', (t) => {
  t.deepEqual(
    ttftFromSummary(
      { schema: 'shadowbench.summary', arms: [{ arm: 'baseline', slo: { ttft_p99_ms: { limit: 300, value: 250 } } }] },
      'baseline',
    ),
    { p99: 250, slo: 300, note: 'from summary.json' },
  );
  t.regex(ttftFromSummary({ schema: 'other' }, 'baseline').note, /not a shadowbench summary/);
  t.regex(ttftFromSummary({ schema: 'shadowbench.summary', arms: [] }, 'baseline').note, /no "baseline" arm/);
});

test('assess --workload FILE that cannot be read or parsed is an error naming the flag and file(:line), exit 2', async (t) => {
  const dir = await runFolder(t, { gpu: [50], ttftP99: 100, workloadLines: [{ messages: [{ role: 'user', content: 'hi' }] }] });
  const cli = (...args: string[]) => spawnSync(process.execPath, ['cli/main.ts', 'assess', ...args], { encoding: 'utf8', timeout: 20_000 });
  const missing = cli('--workload', join(dir, 'missing.jsonl'), dir);
  t.is(missing.status, 2, missing.stdout);
  t.is(missing.stderr.trim(), `shadowbench: --workload: ${join(dir, 'missing.jsonl')}: cannot read the workload file: no such file`);
  await writeFile(join(dir, 'bad.jsonl'), '{"messages": [{"role": "user", "content": "ok"}]}\n{not json\n');
  const bad = cli('--workload', join(dir, 'bad.jsonl'), dir);
  t.is(bad.status, 2, bad.stdout);
  t.regex(bad.stderr, new RegExp(`^shadowbench: --workload: ${join(dir, 'bad.jsonl').replace(/[.]/g, '\\.')}:2(:\\d+)?: `));
  t.is(bad.stdout, '', 'nothing scored');
});

test('run.json names the workload by absolute path, so assess finds it from any folder; an unreadable one is a warning', async (t) => {
  const dir = await runFolder(t, { gpu: [50], ttftP99: 100, workloadLines: [] });
  const workload = parseWorkload(
    '{"model": "a", "messages": [{"role": "user", "content": "hi"}]}\n{"model": "b", "messages": [{"role": "user", "content": "yo"}]}\n',
    { file: 'w.jsonl', seed: 1 },
  );
  await writeFile(
    join(dir, 'w.jsonl'),
    '{"model": "a", "messages": [{"role": "user", "content": "hi"}]}\n{"model": "b", "messages": [{"role": "user", "content": "yo"}]}\n',
  );
  // As `load` run from the repository writes it, the workload given relative to there.
  const config: LoadConfig = {
    engine: 'node',
    runId: 'fixture-run',
    runDir: dir,
    arms: [],
    workload,
    workloadPath: relative(process.cwd(), join(dir, 'w.jsonl')),
    plan: { arrival: 'constant', qps: 1, requests: 2, seed: 7 },
    seed: 7,
    stream: true,
    timeoutMs: 1000,
    graceMs: 0,
    maxInflight: 0,
    workers: 0,
    pacer: 'spin',
    preflight: false,
    progress: false,
    options: {},
  };
  const manifest = loadRunManifest(config, {
    engine: 'node',
    started_at: 'x',
    ended_at: null,
    config: {},
    versions: {},
    interrupted: null,
  });
  t.is(manifest.workload?.path, join(dir, 'w.jsonl'));
  await writeFile(join(dir, 'run.json'), JSON.stringify(manifest));
  // assess run from another folder than the one load ran in
  const main = fileURLToPath(new URL('../cli/main.ts', import.meta.url));
  const cli = (...args: string[]) =>
    spawnSync(process.execPath, [main, 'assess', '--json', ...args], { encoding: 'utf8', timeout: 20_000, cwd: tmpdir() });
  const ok = cli(dir);
  t.is(ok.status, 0, ok.stderr);
  t.deepEqual(JSON.parse(ok.stdout).inputs.models, ['a', 'b']);
  t.is(ok.stderr, '');
  await rm(join(dir, 'w.jsonl'));
  const gone = cli(dir);
  t.is(gone.status, 0, 'the run folder itself is fine: assess scores what it can');
  t.regex(
    gone.stderr,
    new RegExp(
      `assess: warning: the workload named in run\\.json, ${join(dir, 'w.jsonl').replace(/[.]/g, '\\.')}, cannot be read: .*no such file.*give it with --workload FILE`,
    ),
  );
});

test('a trace workload is assessed streamed (migrate/assess-inputs.ts opens it as the load does): same models, prefix reuse and arrivals as the eager parse', async (t) => {
  const dir = await runFolder(t, { gpu: [50, 55], ttftP99: 200, workloadLines: [{ id: 'q', messages: [{ role: 'user', content: 'q' }] }] });
  const trace = join(dir, 'trace.jsonl');
  const text = generateMooncakeLikeTrace(400, 2);
  await writeFile(trace, text);
  const inputs = await gatherAssessInputs(dir, { thresholds: DEFAULT_THRESHOLDS, workload: trace });
  const items = parseTraceJsonl(text, { file: trace, seed: 7 }); // run.json's seed
  const reuse = prefixReuseRate(items.map(promptText), DEFAULT_THRESHOLDS.prefix_block_chars)!;
  t.deepEqual(inputs.models, modelsOf(items));
  t.is(inputs.models_note, 'from 400 workload requests');
  t.is(inputs.prefix_reuse, reuse.rate);
  t.true(reuse.rate > 0.3, `shared hash_ids give shared prompt prefixes (${reuse.rate})`);
  const arrivals = items.map((i) => i.timestamp_ms!);
  t.is(inputs.peak_to_average, peakToAverage(arrivals, DEFAULT_THRESHOLDS.arrival_bin_s)!.ratio);
  t.regex(inputs.peak_to_average_note, /workload timestamps/);
});
