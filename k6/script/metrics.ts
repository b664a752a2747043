// The k6 custom metrics one record adds (Trends ttft / itl / e2e, Rates request_failed /
// request_timeout). Pure, no k6 imports: the entry (shadow.ts) passes k6's own Trend and Rate
// objects; tests pass doubles. Latencies come from core/metrics.ts (latencySamples), the very
// functions the analysis uses, so k6 thresholds judge the samples the verdict judges.
import { latencySamples } from '../../core/metrics.ts';
import type { RequestRecord } from '../../core/record.ts';

/** What k6's Trend and Rate have in common here. */
export interface K6MetricLike {
  add(value: number | boolean): void;
}

export interface K6RecordMetrics {
  ttft: K6MetricLike;
  /** null when no threshold reads it: ~127 samples per 128-token request that nothing would use. */
  itl: K6MetricLike | null;
  e2e: K6MetricLike;
  failed: K6MetricLike;
  timedOut: K6MetricLike;
}

const noSample = (): void => {};

/** Whether any threshold reads the metric `name` (k6 thresholds are keyed `name` or `name{tag:value}`). */
export function thresholdReads(thresholds: Record<string, unknown>, name: string): boolean {
  return Object.keys(thresholds).some((k) => k === name || k.startsWith(`${name}{`));
}

/** Adds one measured record (the caller leaves warm-up records out; latencySamples does too). */
export function addRecordMetrics(m: K6RecordMetrics, r: RequestRecord): void {
  if (r.warmup) return;
  m.failed.add(r.outcome.kind !== 'ok');
  m.timedOut.add(r.outcome.kind === 'timeout');
  const itl = m.itl;
  latencySamples(r, {
    ttft: (v) => m.ttft.add(v),
    itl: itl === null ? noSample : (v) => itl.add(v),
    e2e: (v) => m.e2e.add(v),
  });
}
