import test from 'ava';
import { analyzeRecords } from '../analysis/analyze.ts';
import { DEFAULT_GATES, type Gates } from '../analysis/gates.ts';
import type { Report } from '../analysis/report.ts';
import { decide } from '../analysis/verdict.ts';
import { fixtureRun, type FixtureOptions } from './fixtures/analysis/build-run.ts';

const gates = (patch: (g: Gates) => void = () => {}): Gates => {
  const g = structuredClone(DEFAULT_GATES);
  patch(g);
  return g;
};
const run = (o: FixtureOptions = {}, g = gates()) => analyzeRecords(fixtureRun({ withRepeat: false, ...o }), g).report;
const failing = (r: Report) => r.verdict.reasons.filter((x) => x.status === 'fail').map((x) => x.rule);

test('a clean run where the candidate is faster and says the same things: PROCEED', (t) => {
  const r = run();
  t.is(r.verdict.decision, 'PROCEED');
  t.deepEqual(failing(r), []);
  t.true(r.verdict.reasons.some((x) => x.rule === 'proceed.min_mean_ttft_improvement_ms' && x.status === 'pass'));
  t.true(r.verdict.reasons.some((x) => x.rule === 'slo.ttft_p99_ms' && x.status === 'info'));
});

test('proceed rule: mean TTFT improvement must exceed the gate', (t) => {
  t.deepEqual(failing(run({ candidateTtftShiftMs: 0 })), ['proceed.min_mean_ttft_improvement_ms']); // 0 is not > 0
  t.deepEqual(failing(run({ candidateTtftShiftMs: 3 })), ['proceed.min_mean_ttft_improvement_ms']);
  t.deepEqual(
    failing(
      run(
        { candidateTtftShiftMs: -5 },
        gates((g) => (g.proceed.min_mean_ttft_improvement_ms = 6)),
      ),
    ),
    ['proceed.min_mean_ttft_improvement_ms'],
  );
});

test('proceed rule: consistency must exceed 0.95', (t) => {
  t.deepEqual(failing(run({ divergent: [1, 2] })), ['proceed.min_consistency']); // 28/30 = 93.3 %
  t.deepEqual(failing(run({ divergent: [1] })), []); // 29/30 = 96.7 %
  t.deepEqual(
    failing(
      run(
        { divergent: [1] },
        gates((g) => (g.proceed.min_consistency = 0.97)),
      ),
    ),
    ['proceed.min_consistency'],
  );
});

test('A/A: low consistency is not flagged when the baseline diverges from itself as much', (t) => {
  const noisy = analyzeRecords(fixtureRun({ divergent: [1, 2, 3], repeatDivergent: [4, 5, 6] }), gates()).report;
  t.deepEqual(failing(noisy), []);
  t.regex(noisy.verdict.reasons.find((x) => x.rule === 'proceed.min_consistency')?.message ?? '', /baseline agrees with itself only 90 %/);
  const worse = analyzeRecords(fixtureRun({ divergent: [1, 2, 3, 4, 5, 6], repeatDivergent: [7] }), gates()).report;
  t.deepEqual(failing(worse), ['proceed.min_consistency']);
});

test('rollback trigger: candidate error rate above 1 %', (t) => {
  const r = run({ candidateFailures: { 4: { kind: 'http_error', status: 500, message: 'boom' } } });
  t.deepEqual(failing(r), ['rollback.max_candidate_error_rate']);
  t.regex(r.verdict.reasons[0]?.message ?? '', /candidate error rate 3\.333 % > 1 % \(1 http_error\)/);
  t.deepEqual(
    failing(
      run(
        { candidateFailures: { 4: { kind: 'http_error', status: 500, message: 'boom' } } },
        gates((g) => (g.rollback.max_candidate_error_rate = 0.05)),
      ),
    ),
    [],
  );
});

test('rollback trigger: candidate timeout rate above 5 %', (t) => {
  const timeouts = Object.fromEntries([2, 3].map((i) => [i, { kind: 'timeout' as const, phase: 'stream' as const, message: 't' }]));
  const r = run(
    { candidateFailures: timeouts },
    gates((g) => (g.rollback.max_candidate_error_rate = 0.5)),
  );
  t.deepEqual(failing(r), ['rollback.max_candidate_timeout_rate']); // 2/30 = 6.7 %
});

test('rollback trigger: candidate TTFT P99 above 2 × baseline P99', (t) => {
  const r = run(
    { candidateTtftShiftMs: 70 },
    gates((g) => (g.proceed.min_mean_ttft_improvement_ms = -1000)),
  );
  t.deepEqual(failing(r), ['rollback.max_ttft_p99_ratio']);
});

test('validity: too few ok pairs, send lag, arm skew and dropped iterations each make the run INVESTIGATE', (t) => {
  const few = run({ indices: 10 });
  t.is(few.verdict.decision, 'INVESTIGATE');
  t.regex(few.verdict.reasons[0]?.message ?? '', /not a valid comparison: only 9 ok pairs \(validity.min_ok_pairs: 20\)/);
  const lag = run({ lagMs: 15 });
  t.false(lag.validity.valid);
  t.regex(lag.validity.problems.join(), /baseline P99 send lag 15\.0\d* ms > 10 ms/);
  const skew = run({ skewMs: 12 });
  t.regex(skew.validity.problems.join(), /P99 \|arm skew\| 12 ms > 10 ms/);
  t.is(skew.verdict.decision, 'INVESTIGATE');
  const dropped = analyzeRecords(fixtureRun({ withRepeat: false }), gates(), { context: { droppedIterations: 12 } }).report;
  t.regex(dropped.validity.problems.join(), /12 dropped iterations/);
  const allowed = analyzeRecords(
    fixtureRun({ withRepeat: false }),
    gates((g) => (g.validity.allow_dropped_iterations = true)),
    { context: { droppedIterations: 12 } },
  ).report;
  t.is(allowed.verdict.decision, 'PROCEED');
});

test('SLOs are reported per arm, and decide only with slo.enforce', (t) => {
  const tight = gates((g) => (g.slo.ttft_p99_ms = 50));
  const reported = run({}, tight);
  t.is(reported.verdict.decision, 'PROCEED');
  t.is(reported.arms.find((a) => a.arm === 'baseline')?.slo.ttft_p99_ms.met, false);
  t.true(reported.verdict.reasons.some((x) => x.rule === 'slo.ttft_p99_ms' && /candidate TTFT P99 .* > 50 ms \(missed\)/.test(x.message)));
  const enforced = run(
    {},
    gates((g) => ((g.slo.ttft_p99_ms = 50), (g.slo.enforce = true))),
  );
  t.deepEqual(failing(enforced), ['slo.ttft_p99_ms']);
});

test('every rule that fails is listed, failures first', (t) => {
  const r = run({
    candidateTtftShiftMs: 80,
    divergent: [1, 2, 3],
    candidateFailures: { 9: { kind: 'connection_error', message: 'refused' } },
  });
  t.deepEqual(failing(r).sort(), [
    'proceed.min_consistency',
    'proceed.min_mean_ttft_improvement_ms',
    'rollback.max_candidate_error_rate',
    'rollback.max_ttft_p99_ratio',
  ]);
  t.is(r.verdict.reasons[0]?.status, 'fail');
  const { verdict: _v, ...rest } = r;
  t.deepEqual(decide(rest, r.gates), r.verdict);
});
