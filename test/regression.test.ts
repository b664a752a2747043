import test from 'ava';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serializeRecord, type RequestRecord } from '../core/record.ts';
import { DEFAULT_GATES, GatesError, parseGates, type Gates } from '../analysis/gates.ts';
import { bootstrapReplicates } from '../analysis/stats/bootstrap.ts';
import { bernoulliReplicates, compareRuns, compareSetups, type RegressionSamples, type RuleResult } from '../analysis/regression.ts';
import { percentile } from '../analysis/stats/stats.ts';
import { seededRandom } from '../core/random.ts';
import { fixtureRun } from './fixtures/analysis/build-run.ts';
import { runCli } from './support/run-cli.ts';

const gates: Gates = DEFAULT_GATES;
const f = (values: number[]) => Float64Array.from(values);
const range = (n: number, at: (i: number) => number) => Array.from({ length: n }, (_, i) => at(i));

/** A run's candidate samples: 1,000 requests, TTFT 40–139 ms, 10–14 tokens, no error, all pairs consistent. */
function samples(o: Partial<RegressionSamples> = {}): RegressionSamples {
  return {
    run_id: 'run',
    ttft_ms: f(range(1000, (i) => 40 + ((i * 37) % 100))),
    ok_tokens: f(range(1000, (i) => 10 + (i % 5))),
    window_s: 100,
    errors: f(range(1000, () => 0)),
    consistent: f(range(1000, () => 1)),
    ...o,
  };
}
const rule = (results: RuleResult[], name: string) => results.find((r) => r.rule === `regression.${name}`) as RuleResult;

test('the same run against itself passes every rule with zero worsening', (t) => {
  const result = compareRuns(samples(), samples(), gates);
  t.false(result.failed);
  t.deepEqual(
    result.rules.map((r) => r.status),
    ['skipped', 'pass', 'pass', 'pass', 'pass'],
    'no run.json given: comparability not checked',
  );
  for (const r of result.rules.filter((r) => r.rule !== 'regression.comparable')) t.is(r.worsening, 0, r.rule);
});

test('TTFT P99 up 30 % on 1,000 requests fails; the interval is beyond 10 %', (t) => {
  const reference = samples();
  const tonight = samples({ ttft_ms: reference.ttft_ms.map((v) => v * 1.3) });
  const r = rule(compareRuns(tonight, reference, gates).rules, 'max_ttft_p99_increase');
  t.is(r.status, 'fail');
  t.is(r.tonight, percentile(tonight.ttft_ms, 99));
  t.is(r.reference, percentile(reference.ttft_ms, 99));
  t.true(Math.abs((r.worsening as number) - 0.3) < 1e-12);
  t.true((r.ci?.low as number) > 0.1);
  t.regex(
    r.message,
    /TTFT P99 increase: tonight 179\.413 ms vs reference 138\.01 ms \(\+30 %, 95 % CI \+\d+(\.\d+)? % to \+\d+(\.\d+)? %\); beyond the 10 % allowed, and the whole interval is beyond it: a regression/,
  );
});

test('TTFT P99 up 15 % on 30 requests whose P99 hangs on one value is noise: reported, not failing', (t) => {
  const reference = samples({ ttft_ms: f([...range(29, (i) => 40 + i), 100]) });
  const tonight = samples({ ttft_ms: f([...range(29, (i) => 40 + i), 120]) });
  const result = compareRuns(tonight, reference, gates);
  const r = rule(result.rules, 'max_ttft_p99_increase');
  t.true((r.worsening as number) > 0.1, `worsening ${r.worsening}`);
  t.is(r.status, 'noise');
  t.true((r.ci?.low as number) <= 0.1);
  t.false(result.failed);
  t.regex(r.message, /within noise, not failing/);
});

test('output throughput down 20 % fails; down 6 % on a few very uneven requests is noise', (t) => {
  const reference = samples();
  const slower = compareRuns(samples({ window_s: 125 }), reference, gates);
  const r = rule(slower.rules, 'max_throughput_decrease');
  t.is(r.status, 'fail');
  t.is(r.reference, (12 * 1000) / 100); // mean 12 tokens × 1,000 requests / 100 s
  t.true(Math.abs((r.worsening as number) - 0.2) < 1e-12);
  const uneven = (n: number) => f(range(20, (i) => (i % 4 === 0 ? n : 1)));
  const noisy = rule(
    compareRuns(samples({ ok_tokens: uneven(94) }), samples({ ok_tokens: uneven(100) }), gates).rules,
    'max_throughput_decrease',
  );
  t.true((noisy.worsening as number) > 0.05);
  t.is(noisy.status, 'noise');
});

test('consistency down 8 points fails; down 1.5 points on 200 pairs is noise', (t) => {
  const share = (n: number, consistent: number) => f(range(n, (i) => (i < consistent ? 1 : 0)));
  const r = rule(
    compareRuns(samples({ consistent: share(1000, 900) }), samples({ consistent: share(1000, 980) }), gates).rules,
    'max_consistency_decrease',
  );
  t.is(r.status, 'fail');
  t.true(Math.abs((r.worsening as number) - 0.08) < 1e-12);
  t.regex(r.message, /tonight 90 % vs reference 98 % \(−8 points/);
  const n = rule(
    compareRuns(samples({ consistent: share(200, 193) }), samples({ consistent: share(200, 196) }), gates).rules,
    'max_consistency_decrease',
  );
  t.true(Math.abs((n.worsening as number) - 0.015) < 1e-12);
  t.is(n.status, 'noise');
});

test('error rate up 3 points fails; thresholds come from the gates file', (t) => {
  const errors = (k: number) => f(range(1000, (i) => (i < k ? 1 : 0)));
  const tonight = samples({ errors: errors(30) });
  const r = rule(compareRuns(tonight, samples(), gates).rules, 'max_error_rate_increase');
  t.is(r.status, 'fail');
  t.is(r.tonight, 0.03);
  const lenient = parseGates('regression:\n  max_error_rate_increase: 0.05\n', 'g.yaml');
  t.is(rule(compareRuns(tonight, samples(), lenient).rules, 'max_error_rate_increase').status, 'pass');
});

test('a rule with nothing to measure on either run is skipped, not failed', (t) => {
  const result = compareRuns(samples({ ttft_ms: f([]), consistent: f([]) }), samples(), gates);
  t.is(rule(result.rules, 'max_ttft_p99_increase').status, 'skipped');
  t.regex(rule(result.rules, 'max_ttft_p99_increase').message, /not compared \(nothing measured tonight\)/);
  t.is(rule(result.rules, 'max_consistency_decrease').status, 'skipped');
  t.false(result.failed);
});

test('nothing comparable at all fails regression.comparable: an empty reference never passes the gate silently', (t) => {
  const empty = samples({ ttft_ms: f([]), ok_tokens: f([]), errors: f([]), consistent: f([]), window_s: null });
  const result = compareRuns(samples(), empty, gates);
  t.deepEqual(
    result.rules.map((r) => r.status),
    ['fail', 'skipped', 'skipped', 'skipped', 'skipped'],
  );
  t.regex(rule(result.rules, 'comparable').message, /not one rule could be compared/);
  t.true(result.failed);
});

test('runs driven differently are not comparable: rate, arrival, streaming or workload differ; what is unknown is said so, never "the same"', (t) => {
  const run = (
    config: Record<string, unknown>,
    workload: { path: string; format: string; items: number } | null = { path: '/ci/a/workloads/chat.jsonl', format: 'openai', items: 300 },
  ) => ({ config, workload });
  const differences = (a: ReturnType<typeof run>, b: ReturnType<typeof run>) => compareSetups(a, b).differences;
  const tonight = run({ plan: { arrival: 'constant', qps: 8 }, stream: true });
  t.deepEqual(differences(tonight, run({ plan: { arrival: 'constant', qps: 20 }, stream: true })), ['QPS 8 vs 20']);
  t.deepEqual(
    differences(
      tonight,
      run({ plan: { arrival: 'constant', qps: 8 }, stream: true }, { path: 'workloads/chat.jsonl', format: 'openai', items: 300 }),
    ),
    [],
    'the same workload file from another folder',
  );
  t.deepEqual(
    differences(
      tonight,
      run({ plan: { arrival: 'poisson', qps: 8 }, stream: false }, { path: 'other.jsonl', format: 'openai', items: 50 }),
    ),
    ['arrival constant vs poisson', 'streaming true vs false', 'workload chat.jsonl vs other.jsonl', 'workload items 300 vs 50'],
  );
  t.deepEqual(
    differences(run({ arrival: 'trace', timeScale: 2 }), run({ arrival: 'trace', timeScale: 1, qps: 100 })),
    ['time scale 2 vs 1'],
    'trace replay: the time scale, not a QPS',
  );
  t.deepEqual(compareSetups(tonight, run({}, null)), { compared: [], differences: [] }, 'nothing known about the reference');
  t.deepEqual(
    differences(
      run({ plan: { arrival: 'constant', qps: 8 }, maxInflight: 0, timeout: 60 }),
      run({ plan: { arrival: 'constant', qps: 8 }, maxInflight: 16, timeout: 5 }),
    ),
    ['max in flight 0 vs 16', 'timeout (s) 60 vs 5'],
    'a cap on pairs in flight changes the load; the timeout decides what counts as an error',
  );
  t.deepEqual(
    compareSetups({ engine: 'proxy', config: { stream: true } }, { engine: 'k6', config: { stream: true } }).differences,
    ['traffic live (proxy) vs replayed'],
    'mirrored live traffic against a replay',
  );
  t.deepEqual(
    compareSetups({ engine: 'node', config: {} }, { engine: 'k6', config: {} }),
    { compared: ['traffic'], differences: [] },
    'the two load engines replay alike',
  );

  const differ = compareRuns(samples(), samples(), gates, { compared: ['QPS'], differences: ['QPS 8 vs 20'] });
  t.is(rule(differ.rules, 'comparable').status, 'fail');
  t.regex(rule(differ.rules, 'comparable').message, /driven differently \(tonight vs reference: QPS 8 vs 20\)/);
  t.true(differ.failed);
  const alike = rule(compareRuns(samples(), samples(), gates, compareSetups(tonight, tonight)).rules, 'comparable');
  t.deepEqual(
    [alike.status, alike.message],
    ['pass', 'Comparable runs: same arrival, QPS, streaming, workload, workload format, workload items'],
  );
  const noManifest = rule(compareRuns(samples(), samples(), gates, null).rules, 'comparable');
  t.deepEqual([noManifest.status, noManifest.message], ['skipped', 'Comparable runs: not checked, a run folder has no run.json']);
  const nothingShared = rule(compareRuns(samples(), samples(), gates, compareSetups(tonight, run({}, null))).rules, 'comparable');
  t.is(nothingShared.status, 'skipped');
});

test('seeded: the same inputs give the same intervals; replicates are resamples of the values', (t) => {
  const a = compareRuns(samples({ window_s: 110 }), samples(), gates);
  const b = compareRuns(samples({ window_s: 110 }), samples(), gates);
  t.deepEqual(a, b);
  // Replicate b is the resample drawn by seededRandom(seed)'s draws b·n to (b + 1)·n − 1, as a plain loop draws them
  // (integer values: the sums are exact in any order).
  const values = f([5, 1, 4, 2, 3, 3, 9]);
  const reps = bootstrapReplicates(values, { resamples: 200, seed: 9, p: 99 });
  const sorted = Float64Array.from(values).sort();
  const random = seededRandom(9);
  for (let b = 0; b < 200; b++) {
    const resample = f(range(values.length, () => sorted[Math.floor(random() * values.length)] as number));
    t.is(reps.means[b], resample.reduce((a, x) => a + x, 0) / values.length, `mean ${b}`);
    t.is(reps.pcts[b], percentile(resample, 99), `P99 ${b}`);
  }
  t.true(new Set(reps.means).size > 5, 'resamples differ');
});

test('0/1 replicates draw Binomial(n, k/n) exactly: mean and variance of the resampled share', (t) => {
  for (const [n, k] of [
    [1000, 30],
    [1000, 970],
    [400, 200],
  ] as const) {
    const values = f(range(n, (i) => (i < k ? 1 : 0)));
    const reps = bernoulliReplicates(values, 4000, 11);
    const p = k / n;
    const mean = reps.reduce((a, x) => a + x, 0) / reps.length;
    const variance = reps.reduce((a, x) => a + (x - mean) ** 2, 0) / reps.length;
    t.true(Math.abs(mean - p) < 4 * Math.sqrt((p * (1 - p)) / n / reps.length), `n=${n} k=${k}: mean ${mean}`);
    t.true(Math.abs(variance / ((p * (1 - p)) / n) - 1) < 0.1, `n=${n} k=${k}: variance ratio ${variance / ((p * (1 - p)) / n)}`);
  }
  t.deepEqual([...bernoulliReplicates(f([0, 0, 0]), 5, 1)], [0, 0, 0, 0, 0]);
  t.deepEqual([...bernoulliReplicates(f([1, 1]), 3, 1)], [1, 1, 1]);
});

test('gates file: regression thresholds are validated like the rest', (t) => {
  t.is(parseGates('regression:\n  max_ttft_p99_increase: 0.2\n', 'g').regression.max_ttft_p99_increase, 0.2);
  t.throws(() => parseGates('regression:\n  max_throughput_decrease: 1.5\n', 'g'), {
    instanceOf: GatesError,
    message: /g: regression\.max_throughput_decrease: got 1\.5; expected a number from 0 to 1/,
  });
  t.throws(() => parseGates('regression:\n  max_p99: 1\n', 'g'), {
    instanceOf: GatesError,
    message:
      /regression\.max_p99: unknown key; accepted in regression: max_ttft_p99_increase, max_throughput_decrease, max_consistency_decrease, max_error_rate_increase/,
  });
});

const gate = (args: string[]) => runCli(['gate', ...args]);
function folder(records: RequestRecord[]): string {
  const dir = mkdtempSync(join(tmpdir(), 'sb-regression-'));
  writeFileSync(join(dir, 'records.jsonl'), records.map((r) => serializeRecord(r) + '\n').join(''));
  return dir;
}

test('npm run gate -- tonight --against reference: exit 0 without regression, 1 on a regression even when PROCEED, 2 for a bad reference; writes junit.xml and summary.md', async (t) => {
  // The reference candidate was 20 ms faster than its baseline; tonight's only 5 ms: still PROCEED, but its TTFT P99 rose ~35 %.
  const reference = folder(fixtureRun({ withRepeat: false, indices: 200, runId: 'reference', candidateTtftShiftMs: -20 }));
  const same = folder(fixtureRun({ withRepeat: false, indices: 200, runId: 'same', candidateTtftShiftMs: -20 }));
  const slower = folder(fixtureRun({ withRepeat: false, indices: 200, runId: 'slower', candidateTtftShiftMs: -5 }));
  const lenient = join(reference, 'lenient.yaml');
  writeFileSync(lenient, 'regression:\n  max_ttft_p99_increase: 0.5\n');
  // (runs writing into the same folder go one after the other)
  const [ok, regressed] = await Promise.all([
    gate([same, '--against', reference, '--allow-incomplete']),
    gate([slower, '--against', reference, '--allow-incomplete']),
  ]);
  const junit = readFileSync(join(slower, 'junit.xml'), 'utf8');
  const md = readFileSync(join(slower, 'summary.md'), 'utf8');
  const html = readFileSync(join(slower, 'report.html'), 'utf8');
  const [allowed, missing, self] = await Promise.all([
    gate([slower, '--against', reference, '--gates', lenient, '--quiet', '--allow-incomplete']),
    gate([same, '--against', join(reference, 'nope')]),
    gate([same, '--against', same]),
  ]);
  t.is(ok.code, 0, ok.stderr);
  t.regex(ok.stdout, /VERDICT: PROCEED/);
  t.regex(ok.stdout, /REGRESSION against reference: none/);
  t.is(regressed.code, 1, regressed.stderr);
  t.regex(regressed.stdout, /VERDICT: PROCEED/);
  t.regex(regressed.stdout, /FAIL +regression\.max_ttft_p99_increase: TTFT P99 increase: tonight .* a regression/);
  t.regex(regressed.stderr, /gate: PROCEED, regression \(exit 1\)/);
  t.is(allowed.code, 0, allowed.stderr);
  t.is(missing.code, 2);
  t.regex(missing.stderr, /--against: .*nope: no such run folder/);
  t.is(self.code, 2);
  t.regex(self.stderr, /--against .*: is tonight's run folder itself/);

  t.regex(junit, /<testsuite name="regression slower against reference" tests="5" failures="1" errors="0" skipped="1">/); // no run.json in these folders: comparability not checked
  t.regex(
    junit,
    /<testcase classname="shadowbench.regression" name="regression.max_ttft_p99_increase">\n +<failure type="regression" message="TTFT P99 increase: /,
  );
  t.regex(
    md,
    /^# shadowbench gate: ❌ failed\n\nRun `slower` against reference `reference`: verdict \*\*PROCEED\*\*, \*\*regression\*\* \(exit 1\)\./,
  );
  t.regex(md, /\| ❌ fail \| `regression.max_ttft_p99_increase` \|/);
  t.regex(html, /Regression against the reference run/);
  t.regex(readFileSync(join(same, 'summary.md'), 'utf8'), /^# shadowbench gate: ✅ passed/);
  for (const dir of [reference, same, slower]) rmSync(dir, { recursive: true });
});

test('gate --against a reference without candidate requests, or an interrupted one, is refused (exit 2); one driven at another rate fails as not comparable', async (t) => {
  const records = fixtureRun({ withRepeat: false, indices: 60, runId: 'tonight' });
  const manifest = (qps: number, runId: string) =>
    JSON.stringify({
      v: 1,
      run_id: runId,
      arms: [{ arm: 'baseline' }, { arm: 'candidate' }],
      workload: { path: 'w.jsonl', format: 'openai', items: 60 },
      config: { plan: { arrival: 'constant', qps } },
      warnings: [],
    });
  const tonight = folder(records);
  writeFileSync(join(tonight, 'run.json'), manifest(20, 'tonight'));
  const baselineOnly = folder(records.filter((r) => r.arm === 'baseline'));
  const otherRate = folder(fixtureRun({ withRepeat: false, indices: 60, runId: 'reference' }));
  writeFileSync(join(otherRate, 'run.json'), manifest(8, 'reference'));
  const interrupted = folder(fixtureRun({ withRepeat: false, indices: 60, runId: 'stopped' }));
  writeFileSync(
    join(interrupted, 'run.json'),
    JSON.stringify({ ...JSON.parse(manifest(20, 'stopped')), engine: 'node', interrupted: 'SIGINT' }),
  );
  const [noCandidate, differentRate, stopped] = await Promise.all([
    gate([tonight, '--against', baselineOnly, '--quiet', '--allow-incomplete']),
    gate([tonight, '--against', otherRate]),
    gate([tonight, '--against', interrupted, '--quiet']),
  ]);
  t.is(stopped.code, 2);
  t.regex(stopped.stderr, /--against .*: the reference run is not complete, run.json status "interrupted" \(SIGINT\)/);
  t.is(noCandidate.code, 2);
  t.regex(noCandidate.stderr, /--against .*: the reference run has no measured candidate requests \(arms: baseline\)/);
  t.is(differentRate.code, 1, differentRate.stderr);
  t.regex(
    differentRate.stdout,
    /FAIL +regression\.comparable: Comparable runs: no, the runs were driven differently \(tonight vs reference: QPS 20 vs 8\)/,
  );
  for (const dir of [tonight, baselineOnly, otherRate, interrupted]) rmSync(dir, { recursive: true });
});
