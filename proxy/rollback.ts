// Automatic rollback: the migration guide's rollback triggers evaluated over the proxy's sliding
// window of recently completed requests. Pure: window statistics and thresholds in, decision out.
import { DEFAULT_GATES, type Gates } from '../analysis/gates.ts';
import type { ArmWindowStats, WindowStats } from './window.ts';

/**
 * The rollback thresholds. They come from the gates file (analysis/gates.ts) so the proxy and the
 * offline verdict trip on the same numbers; `rollbackThresholds` below is the one place that maps them.
 */
export interface RollbackThresholds {
  /** Candidate failure share (non-ok, client cancellations excluded) above which to roll back; 0.01 = 1 %. */
  maxCandidateErrorRate: number;
  /** Candidate TTFT P99 above this multiple of the baseline's TTFT P99 rolls back. */
  maxTtftP99Ratio: number;
  /** Candidate timeout share above which to roll back; 0.05 = 5 %. */
  maxCandidateTimeoutRate: number;
  /** Fewer candidate requests than this in the window: no rate is judged (one error in three is not a 33 % error rate). */
  minRequests: number;
}

/** The gates' `rollback` section; the window's minimum sample is the gates' `validity.min_ok_pairs`. */
export function rollbackThresholds(gates: Gates): RollbackThresholds {
  return {
    maxCandidateErrorRate: gates.rollback.max_candidate_error_rate,
    maxTtftP99Ratio: gates.rollback.max_ttft_p99_ratio,
    maxCandidateTimeoutRate: gates.rollback.max_candidate_timeout_rate,
    minRequests: gates.validity.min_ok_pairs,
  };
}

export const DEFAULT_ROLLBACK_THRESHOLDS: RollbackThresholds = rollbackThresholds(DEFAULT_GATES);

export interface RollbackDecision {
  trigger: boolean;
  /** Why it triggered (empty when it did not). */
  reasons: string[];
  /** Triggers that could not be judged for lack of data, e.g. "TTFT ratio: 3 baseline samples (< 20)". */
  skipped: string[];
}

const pct = (x: number) => `${(x * 100).toFixed(2)} %`;

function enough(stats: ArmWindowStats, min: number): boolean {
  return stats.requests >= min;
}

/** Applies each rollback trigger to the window; any one that fires triggers the rollback. */
export function evaluateRollback(window: WindowStats, thresholds: RollbackThresholds): RollbackDecision {
  const reasons: string[] = [];
  const skipped: string[] = [];
  const { baseline, candidate } = window;
  if (!enough(candidate, thresholds.minRequests)) {
    skipped.push(
      `error and timeout rates: ${candidate.requests} candidate requests in the last ${window.window_s} s (< ${thresholds.minRequests})`,
    );
  } else {
    const errorRate = candidate.errors / candidate.requests;
    if (errorRate > thresholds.maxCandidateErrorRate) {
      reasons.push(
        `candidate error rate ${pct(errorRate)} (${candidate.errors}/${candidate.requests}) > ${pct(thresholds.maxCandidateErrorRate)}`,
      );
    }
    const timeoutRate = candidate.timeouts / candidate.requests;
    if (timeoutRate > thresholds.maxCandidateTimeoutRate) {
      reasons.push(
        `candidate timeout rate ${pct(timeoutRate)} (${candidate.timeouts}/${candidate.requests}) > ${pct(thresholds.maxCandidateTimeoutRate)}`,
      );
    }
  }
  if (
    candidate.ttft_samples < thresholds.minRequests ||
    baseline.ttft_samples < thresholds.minRequests ||
    candidate.ttft_p99_ms === null ||
    baseline.ttft_p99_ms === null
  ) {
    skipped.push(
      `TTFT P99 ratio: ${candidate.ttft_samples} candidate / ${baseline.ttft_samples} baseline successful requests (< ${thresholds.minRequests})`,
    );
  } else if (baseline.ttft_p99_ms > 0 && candidate.ttft_p99_ms > thresholds.maxTtftP99Ratio * baseline.ttft_p99_ms) {
    const ratio = candidate.ttft_p99_ms / baseline.ttft_p99_ms;
    reasons.push(
      `candidate TTFT P99 ${candidate.ttft_p99_ms.toFixed(1)} ms is ${ratio.toFixed(2)}× baseline ${baseline.ttft_p99_ms.toFixed(1)} ms (> ${thresholds.maxTtftP99Ratio}×)`,
    );
  }
  return { trigger: reasons.length > 0, reasons, skipped };
}
