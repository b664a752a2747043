// k6 thresholds from the gates file, so k6's own exit code (99 = thresholds crossed) agrees with
// the verdict on every rule k6 can evaluate. Pure; runs on the Node side (cli/load-k6.ts,
// cli/k6-manifest.ts) and travels to the script inside its config.
//
// Only absolute rules on one arm's own samples can be k6 thresholds. These cannot, and stay with
// the analysis alone (so exit 99 ⇒ INVESTIGATE, but exit 0 does not imply PROCEED):
//   proceed.min_mean_ttft_improvement_ms  paired delta between arms (k6 thresholds see one metric)
//   proceed.min_consistency / aa_tolerance output similarity (texts are not k6 metrics)
//   rollback.max_ttft_p99_ratio           a ratio of two arms' percentiles
//   validity.min_ok_pairs / max_send_lag_p99_ms / max_arm_skew_p99_ms   pairing and scheduling facts
import type { Gates } from '../../analysis/gates.ts';
import { K6_METRICS } from './config.ts';

export interface ThresholdSource {
  /** k6 threshold expression (metric{tag:value}). */
  metric: string;
  condition: string;
  /** The gates key it enforces. */
  gate: string;
}

/**
 * Each expressible gate as a k6 threshold. The condition is the pass side of the verdict's rule:
 * the verdict fires when a rate "exceeds" its limit (>) and an SLO is met at value ≤ limit, so
 * both become `<=` here.
 */
export function thresholdSources(gates: Gates): ThresholdSource[] {
  const out: ThresholdSource[] = [
    {
      metric: `${K6_METRICS.failed}{arm:candidate}`,
      condition: `rate<=${gates.rollback.max_candidate_error_rate}`,
      gate: 'rollback.max_candidate_error_rate',
    },
    {
      metric: `${K6_METRICS.timeout}{arm:candidate}`,
      condition: `rate<=${gates.rollback.max_candidate_timeout_rate}`,
      gate: 'rollback.max_candidate_timeout_rate',
    },
  ];
  if (gates.slo.enforce) {
    out.push({ metric: `${K6_METRICS.ttft}{arm:candidate}`, condition: `p(99)<=${gates.slo.ttft_p99_ms}`, gate: 'slo.ttft_p99_ms' });
    out.push({ metric: `${K6_METRICS.itl}{arm:candidate}`, condition: `p(99)<=${gates.slo.itl_p99_ms}`, gate: 'slo.itl_p99_ms' });
  }
  if (!gates.validity.allow_dropped_iterations) {
    out.push({ metric: 'dropped_iterations', condition: 'count==0', gate: 'validity.allow_dropped_iterations' });
  }
  return out;
}

/** The `thresholds` option object k6 reads. */
export function gatesToThresholds(gates: Gates): Record<string, string[]> {
  const thresholds: Record<string, string[]> = {};
  for (const t of thresholdSources(gates)) (thresholds[t.metric] ??= []).push(t.condition);
  return thresholds;
}

/** Verdict rules k6 cannot express, for run.json and the README. */
export const RULES_NOT_IN_K6 = [
  'proceed.min_mean_ttft_improvement_ms',
  'proceed.min_consistency',
  'proceed.aa_tolerance',
  'rollback.max_ttft_p99_ratio',
  'validity.min_ok_pairs',
  'validity.max_send_lag_p99_ms',
  'validity.max_arm_skew_p99_ms',
] as const;
