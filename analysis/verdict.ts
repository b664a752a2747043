// The verdict: PROCEED only when the run is a valid comparison, every proceed rule passes and no
// rollback trigger fires; otherwise INVESTIGATE. Every rule evaluated is listed with its outcome,
// so the reasons that produced the verdict are always visible.
import { BASELINE, CANDIDATE } from '../core/record.ts';
import type { Gates } from './gates.ts';
import { fmt } from './format.ts';
import type { Report, SimilarityReport } from './report.ts';
import { PART_LABEL, PARTS } from './consistency.ts';

export type Decision = 'PROCEED' | 'INVESTIGATE';

export interface Reason {
  /** Gate key path the rule reads, e.g. "rollback.max_candidate_error_rate". */
  rule: string;
  kind: 'validity' | 'proceed' | 'rollback' | 'slo';
  /** fail = pushes the verdict to INVESTIGATE; info = reported only. */
  status: 'pass' | 'fail' | 'info';
  message: string;
}

export interface Verdict {
  decision: Decision;
  /** Failing reasons first, then the rest. */
  reasons: Reason[];
}

const pct = (v: number) => `${fmt(v * 100)} %`;

export function decide(report: Omit<Report, 'verdict'>, gates: Gates): Verdict {
  const reasons: Reason[] = [];
  const add = (rule: string, kind: Reason['kind'], status: Reason['status'], message: string) =>
    reasons.push({ rule, kind, status, message });

  for (const problem of report.validity.problems) add('validity', 'validity', 'fail', `not a valid comparison: ${problem}`);

  const base = report.arms.find((a) => a.arm === BASELINE);
  const cand = report.arms.find((a) => a.arm === CANDIDATE);
  const { ttft_improvement_ms: ttft } = report.comparison;

  // Proceed rules.
  const minImprovement = gates.proceed.min_mean_ttft_improvement_ms;
  if (ttft.stats === null) {
    add(
      'proceed.min_mean_ttft_improvement_ms',
      'proceed',
      'fail',
      'mean TTFT improvement not measured (no ok pair with token timing on both arms)',
    );
  } else {
    const ci = ttft.ci ? ` (${fmt(ttft.ci.confidence * 100)} % CI ${fmt(ttft.ci.mean.low)} to ${fmt(ttft.ci.mean.high)} ms)` : '';
    const passed = ttft.stats.mean > minImprovement;
    add(
      'proceed.min_mean_ttft_improvement_ms',
      'proceed',
      passed ? 'pass' : 'fail',
      `mean TTFT improvement ${fmt(ttft.stats.mean)} ms${ci} ${passed ? '>' : '≤'} ${minImprovement} ms${passed ? '' : ': the candidate is not faster to first token'}`,
    );
  }
  const sim = report.similarity.baseline_vs_candidate;
  const aa = report.similarity.baseline_vs_repeat;
  const minConsistency = gates.proceed.min_consistency;
  const breakdown = inconsistencyBreakdown(sim, aa);
  if (sim.consistency === null) {
    add('proceed.min_consistency', 'proceed', 'fail', 'output consistency not measured (no ok pair)');
  } else if (sim.consistency > minConsistency) {
    add(
      'proceed.min_consistency',
      'proceed',
      'pass',
      `output consistency ${pct(sim.consistency)} > ${pct(minConsistency)} (pairs with answer similarity ≥ ${report.similarity.threshold}, matching tool calls${gates.consistency.finish_reason ? ' and finish reasons' : ''})${breakdown}`,
    );
  } else if (aa && aa.consistency !== null && sim.consistency >= aa.consistency - gates.proceed.aa_tolerance) {
    add(
      'proceed.min_consistency',
      'proceed',
      'pass',
      `output consistency ${pct(sim.consistency)} ≤ ${pct(minConsistency)}${breakdown}, but the baseline agrees with itself only ${pct(aa.consistency)} of the time (A/A); the candidate diverges no more than that (proceed.aa_tolerance ${gates.proceed.aa_tolerance})`,
    );
  } else {
    const aaNote = aa && aa.consistency !== null ? `; the baseline's own A/A consistency is ${pct(aa.consistency)}` : '';
    add(
      'proceed.min_consistency',
      'proceed',
      'fail',
      `output consistency ${pct(sim.consistency)} ≤ ${pct(minConsistency)}${breakdown}${aaNote}: the candidate says different things`,
    );
  }
  reasoningRule(report, gates, add);

  // Rollback triggers.
  if (cand) {
    // Rates of the requests the server was let finish: none when every request was cancelled.
    const notJudged = `not measured: ${cand.requests === 0 ? 'no measured candidate request' : `all ${cand.requests} measured candidate requests were cancelled by shadowbench`}`;
    const maxError = gates.rollback.max_candidate_error_rate;
    if (cand.error_rate === null) add('rollback.max_candidate_error_rate', 'rollback', 'info', `candidate error rate ${notJudged}`);
    else {
      const errorFired = cand.error_rate > maxError;
      add(
        'rollback.max_candidate_error_rate',
        'rollback',
        errorFired ? 'fail' : 'pass',
        `candidate error rate ${pct(cand.error_rate)} ${errorFired ? '>' : '≤'} ${pct(maxError)}${errorFired ? ` (${describeFailures(cand.outcomes)})` : ''}`,
      );
    }
    const maxTimeout = gates.rollback.max_candidate_timeout_rate;
    if (cand.timeout_rate === null) add('rollback.max_candidate_timeout_rate', 'rollback', 'info', `candidate timeout rate ${notJudged}`);
    else {
      const timeoutFired = cand.timeout_rate > maxTimeout;
      add(
        'rollback.max_candidate_timeout_rate',
        'rollback',
        timeoutFired ? 'fail' : 'pass',
        `candidate timeout rate ${pct(cand.timeout_rate)} ${timeoutFired ? '>' : '≤'} ${pct(maxTimeout)}`,
      );
    }
    const bp = base?.metrics.ttft_ms?.p99;
    const cp = cand.metrics.ttft_ms?.p99;
    const ratio = gates.rollback.max_ttft_p99_ratio;
    if (bp === undefined || cp === undefined) {
      add('rollback.max_ttft_p99_ratio', 'rollback', 'info', 'TTFT P99 ratio not measured on one of the arms');
    } else {
      const fired = cp > ratio * bp;
      add(
        'rollback.max_ttft_p99_ratio',
        'rollback',
        fired ? 'fail' : 'pass',
        `candidate TTFT P99 ${fmt(cp)} ms ${fired ? '>' : '≤'} ${ratio} × baseline P99 ${fmt(bp)} ms`,
      );
    }
  }

  // SLOs: reported per arm; they decide only when slo.enforce is set (and then for the candidate).
  for (const a of report.arms) {
    for (const [key, label] of [
      ['ttft_p99_ms', 'TTFT P99'],
      ['itl_p99_ms', 'ITL P99'],
    ] as const) {
      const check = a.slo[key];
      const status = check.met === false && gates.slo.enforce && a.arm === CANDIDATE ? 'fail' : 'info';
      const text =
        check.value === null
          ? 'not measured'
          : `${fmt(check.value)} ms ${check.met ? '≤' : '>'} ${check.limit} ms (${check.met ? 'met' : 'missed'})`;
      add(`slo.${key}`, 'slo', status, `${a.arm} ${label} ${text}`);
    }
  }

  const decision: Decision = reasons.some((r) => r.status === 'fail') ? 'INVESTIGATE' : 'PROCEED';
  const rank = { fail: 0, pass: 1, info: 2 } as const;
  reasons.sort((x, y) => rank[x.status] - rank[y.status]);
  return { decision, reasons };
}

/**
 * ": 88 of 1000 pairs inconsistent — text 40, tool arguments 35, finish reason 12 (A/A: text 5)":
 * which parts failed, with counts (a pair may fail several); '' when every pair is consistent.
 * Reports before summary version 2 have no breakdown: ''.
 */
export function inconsistencyBreakdown(sim: SimilarityReport, aa: SimilarityReport | null): string {
  const parts = (s: SimilarityReport) =>
    PARTS.filter((p) => s.inconsistent[p] > 0)
      .map((p) => `${PART_LABEL[p]} ${s.inconsistent[p]}`)
      .join(', ');
  if (sim.inconsistent === undefined || sim.inconsistent.pairs === 0) return '';
  const aaParts = aa?.inconsistent !== undefined && aa.inconsistent.pairs > 0 ? ` (A/A: ${parts(aa)})` : '';
  return `: ${sim.inconsistent.pairs} of ${sim.pairs} pairs inconsistent — ${parts(sim)}${aaParts}`;
}

/**
 * Reasoning similarity: reported (info) unless consistency.min_reasoning_consistency is set. A pair
 * whose reasoning differs but whose answer, tool calls and finish reason agree never fails the
 * default verdict.
 */
function reasoningRule(
  report: Omit<Report, 'verdict'>,
  gates: Gates,
  add: (rule: string, kind: Reason['kind'], status: Reason['status'], message: string) => void,
): void {
  const r = report.similarity.baseline_vs_candidate.reasoning;
  const rule = 'consistency.min_reasoning_consistency';
  const min = gates.consistency.min_reasoning_consistency;
  if (r === undefined || r === null || r.consistency === null) {
    if (min !== null) add(rule, 'proceed', 'info', 'reasoning similarity not measured: no pair carried reasoning');
    return;
  }
  const figures = `reasoning similarity ${fmt(Number((r.ratio?.mean ?? 0).toFixed(3)))} mean over ${r.pairs} pairs, ${pct(r.consistency)} of them ≥ ${r.threshold}`;
  if (min === null) {
    add(rule, 'proceed', 'info', `${figures}: reported only (consistency.min_reasoning_consistency is not set)`);
    return;
  }
  const passed = r.consistency > min;
  add(
    rule,
    'proceed',
    passed ? 'pass' : 'fail',
    `${figures} ${passed ? '>' : '≤'} ${pct(min)}${passed ? '' : ': the candidate reasons differently'}`,
  );
}

function describeFailures(outcomes: Record<string, number>): string {
  return Object.entries(outcomes)
    .filter(([kind, n]) => kind !== 'ok' && kind !== 'cancelled' && n > 0)
    .map(([kind, n]) => `${n} ${kind}`)
    .join(', ');
}
