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
  itl: K6MetricLike;
  e2e: K6MetricLike;
  failed: K6MetricLike;
  timedOut: K6MetricLike;
}

/** Adds one measured record (the caller leaves warm-up records out; latencySamples does too). */
export function addRecordMetrics(m: K6RecordMetrics, r: RequestRecord): void {
  if (r.warmup) return;
  m.failed.add(r.outcome.kind !== 'ok');
  m.timedOut.add(r.outcome.kind === 'timeout');
  latencySamples(r, {
    ttft: (v) => m.ttft.add(v),
    itl: (v) => m.itl.add(v),
    e2e: (v) => m.e2e.add(v),
  });
}
