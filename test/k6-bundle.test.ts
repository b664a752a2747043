// The k6 bundle (valid ES module; only k6/* and https:// imports left; no Node built-ins), the
// options it exports (two identical arrival-rate scenarios) and gates → k6 thresholds. The
// k6-operator manifest is tested in k6-manifest.test.ts.
import test from 'ava';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { buildK6 } from '../k6/build.ts';
import {
  arrivalRate,
  buildScenarios,
  checkK6Config,
  K6_CONFIG_VERSION,
  scheduleHoldMs,
  vuBudget,
  type K6ScriptConfig,
} from '../k6/script/config.ts';
import { gatesToThresholds, thresholdSources } from '../k6/script/thresholds.ts';
import { DEFAULT_GATES, parseGates } from '../analysis/gates.ts';

const dir = mkdtempSync(join(tmpdir(), 'sb-k6-bundle-'));

test('bundle: an ES module exporting the scenario functions, importing only k6 modules, no Node built-ins', async (t) => {
  const [file] = await buildK6({ outdir: dir });
  const code = readFileSync(file!, 'utf8');
  // Re-read the output as an entry with every import external: esbuild lists its imports and exports.
  const meta = await build({
    entryPoints: [file!],
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'neutral',
    metafile: true,
    logLevel: 'silent',
    plugins: [
      {
        name: 'all-external',
        setup: (b) => b.onResolve({ filter: /.*/ }, (a) => (a.kind === 'entry-point' ? undefined : { path: a.path, external: true })),
      },
    ],
  });
  const input = Object.values(meta.metafile.inputs)[0]!;
  const imports = input.imports.map((i) => i.path).sort();
  t.deepEqual(imports, ['k6', 'k6/data', 'k6/execution', 'k6/http', 'k6/metrics', 'k6/x/sse']);
  t.true(input.imports.every((i) => i.kind === 'import-statement'));
  t.is(input.format, 'esm');
  const exports = Object.values(meta.metafile.outputs)[0]!.exports.sort();
  t.deepEqual(exports, ['baseline', 'baseline_repeat', 'candidate', 'handleSummary', 'options', 'setup']);
  t.false(/\brequire\(|\bprocess\.|node:|__dirname|\bBuffer\b/.test(code), 'no CommonJS or Node globals');
  // Every VU evaluates the bundle: the workload parsers stay on the Node side (k6/script/workload.ts).
  const modules = [...code.matchAll(/^\/\/ (\S+\.ts)$/gm)].map((m) => m[1]!);
  t.true(modules.includes('k6/script/workload.ts'), modules.join(' '));
  t.deepEqual(
    modules.filter((m) => m.startsWith('core/workload/') && m !== 'core/workload/source.ts' && m !== 'core/workload/common.ts'),
    [],
  );
});

test('bundle: a Node built-in anywhere in the script graph fails the build', async (t) => {
  const entry = join(dir, 'bad.ts');
  writeFileSync(entry, "import { readFileSync } from 'node:fs';\nexport const x = readFileSync;\n");
  const error = await t.throwsAsync(buildK6({ outdir: join(dir, 'bad'), entries: [entry] }));
  t.regex(error.message, /node:fs is a Node built-in/);
});

function config(overrides: Partial<K6ScriptConfig> = {}): K6ScriptConfig {
  return checkK6Config({
    v: K6_CONFIG_VERSION,
    run_id: 'r',
    mode: 'sse',
    qps: 100,
    total_requests: 3000,
    warmup: 0,
    seed: 1,
    order: 'sequential',
    workload_file: '/w.jsonl',
    workload: {},
    arms: [
      { arm: 'baseline', url: 'http://a:1', model: null },
      { arm: 'candidate', url: 'http://b:2', model: 'm' },
    ],
    timeout_s: 60,
    expected_latency_s: 2,
    max_vus: 0,
    start_delay_s: 0,
    thresholds: {},
    summary_file: null,
    ...overrides,
  });
}

test('scenarios: one per arm, identical rate, start and duration; exactly total iterations; VUs from qps × latency', (t) => {
  const s = buildScenarios(config());
  t.deepEqual(Object.keys(s), ['baseline', 'candidate']);
  const { baseline, candidate } = s;
  for (const key of ['executor', 'rate', 'timeUnit', 'duration', 'startTime', 'preAllocatedVUs', 'maxVUs', 'gracefulStop'] as const)
    t.is(baseline![key], candidate![key], key);
  t.is(baseline!.exec, 'baseline');
  t.deepEqual(candidate!.tags, { arm: 'candidate' });
  t.is(baseline!.rate, 100);
  t.is(baseline!.timeUnit, '1s');
  // Iterations due at i/qps for i/qps < duration: (3000 − ½)/100 s holds i = 0 … 2999.
  t.is(baseline!.duration, '29995.000ms');
  t.deepEqual(vuBudget(100, 2, 60), { preAllocatedVUs: 301, maxVUs: 6001 });
  t.deepEqual(vuBudget(100, 2, 60, 500), { preAllocatedVUs: 301, maxVUs: 500 });
  // The scenarios add the VUs that wait out the schedule hold: qps × hold.
  const vus = vuBudget(100, 2, 60);
  const hold = scheduleHoldMs(vus.preAllocatedVUs);
  t.true(hold > scheduleHoldMs(vuBudget(10, 3, 60).preAllocatedVUs), 'more VUs to activate, a longer hold');
  t.is(baseline!.preAllocatedVUs, vus.preAllocatedVUs + Math.ceil((100 * hold) / 1000));
  t.is(baseline!.maxVUs, vus.maxVUs + Math.ceil((100 * hold) / 1000));
  t.deepEqual(arrivalRate(2.5), { rate: 2500, timeUnit: '1000s' });
  t.throws(() => config({ arms: [{ arm: 'canary', url: 'http://c', model: null }] }), {
    message: /arm names among baseline, candidate, baseline_repeat/,
  });
  t.throws(() => config({ warmup: 3000 }), { message: /warmup: expected an integer from 0 to total_requests − 1/ });
});

test("thresholds: every absolute gate, with the gates file's values, on the candidate arm", (t) => {
  t.deepEqual(gatesToThresholds(DEFAULT_GATES), {
    'request_failed{arm:candidate}': ['rate<=0.01'],
    'request_timeout{arm:candidate}': ['rate<=0.05'],
    dropped_iterations: ['count==0'],
  });
  const gates = parseGates(
    'rollback: { max_candidate_error_rate: 0.02, max_candidate_timeout_rate: 0.1 }\nslo: { ttft_p99_ms: 300, itl_p99_ms: 40, enforce: true }\nvalidity: { allow_dropped_iterations: true }\n',
    'gates.yaml',
  );
  t.deepEqual(gatesToThresholds(gates), {
    'request_failed{arm:candidate}': ['rate<=0.02'],
    'request_timeout{arm:candidate}': ['rate<=0.1'],
    'ttft{arm:candidate}': ['p(99)<=300'],
    'itl{arm:candidate}': ['p(99)<=40'],
  });
  t.deepEqual(
    thresholdSources(gates).map((s) => s.gate),
    ['rollback.max_candidate_error_rate', 'rollback.max_candidate_timeout_rate', 'slo.ttft_p99_ms', 'slo.itl_p99_ms'],
  );
});
