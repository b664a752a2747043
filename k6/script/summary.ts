// The k6 facts a run folder needs from k6's end-of-test summary (handleSummary's argument):
// dropped iterations per arm and which thresholds held. Pure; shared by the k6 entry and the
// Node-side converter (io/k6-records.ts), which merges one of these per k6 instance.

import { K6_METRICS } from './config.ts';

/** Console lines the converter recognises besides records: one object under one of these keys. */
export const META_KEY = 'shadowbench_k6_meta';
export const SUMMARY_KEY = 'shadowbench_k6_summary';

/** Written once per instance by setup(): how this instance keeps time. */
export interface K6InstanceMeta {
  v: 1;
  run_id: string;
  instance: string;
  mode: string;
  /** Unix ms every *_ns field of this instance's records counts from. */
  origin_unix_ms: number;
  clock: string;
  /** Finest step of the timestamps in ns (1e6: Date.now, whole milliseconds). */
  resolution_ns: number;
}

export interface K6ThresholdResult {
  metric: string;
  condition: string;
  ok: boolean;
}

export interface K6SummaryFacts {
  v: 1;
  run_id: string;
  instance: string;
  /** Iterations k6 could not start on time for lack of a free VU (dropped_iterations), per arm. */
  dropped_iterations: Record<string, number>;
  /** Iterations that ran to their end (the `iterations` counter), per arm. */
  iterations: Record<string, number>;
  /**
   * Iterations that were due on this instance, per arm: started (the script's `request_started`
   * counter, interrupted ones included) + dropped. Each started iteration prints one record, so
   * planned − records = requests due but never recorded (dropped, or cut off by an abort). k6
   * numbers started iterations only (exec.scenario.iterationInTest): after a drop, an arm's later
   * indices move up, and the plan's tail indices are the ones never sent. An instance that runs the
   * whole test (no execution segment) reports at least the plan's total: a k6 starved of CPU can
   * reach the scenario's end before it has started the last due iterations, and counts them
   * neither as started nor as dropped (seen at 50 pairs/s on a loaded 2-core machine: 185 of 200
   * started, 0 dropped). Absent from summaries of older scripts.
   */
  planned?: Record<string, number>;
  thresholds: K6ThresholdResult[];
}

/** The part of k6's summary data read here (https://grafana.com/docs/k6/latest/results-output/end-of-test/custom-summary/). */
export interface K6SummaryData {
  metrics: Record<string, { values?: Record<string, number>; thresholds?: Record<string, { ok: boolean }> } | undefined>;
}

/**
 * Submetric thresholds that always pass, so that k6 keeps per-arm counts of dropped and completed
 * iterations in the summary (k6 reports submetrics only when a threshold names them).
 */
export function perArmCounterThresholds(arms: readonly string[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const arm of arms) {
    out[`dropped_iterations{scenario:${arm}}`] = ['count>=0'];
    out[`iterations{scenario:${arm}}`] = ['count>=0'];
    out[`${K6_METRICS.started}{scenario:${arm}}`] = ['count>=0'];
  }
  return out;
}

export function summaryFacts(
  data: K6SummaryData,
  runId: string,
  instance: string,
  arms: readonly string[],
  ownThresholds: Record<string, string[]>,
  /** Iterations per arm the plan gives this instance, when it runs the whole test (else unknown here). */
  due?: number,
): K6SummaryFacts {
  const count = (name: string) => data.metrics[name]?.values?.count ?? 0;
  const dropped: Record<string, number> = {};
  const iterations: Record<string, number> = {};
  const planned: Record<string, number> = {};
  for (const arm of arms) {
    dropped[arm] = count(`dropped_iterations{scenario:${arm}}`);
    iterations[arm] = count(`iterations{scenario:${arm}}`);
    planned[arm] = Math.max(count(`${K6_METRICS.started}{scenario:${arm}}`) + dropped[arm], due ?? 0);
  }
  const thresholds: K6ThresholdResult[] = [];
  for (const [metric, conditions] of Object.entries(ownThresholds)) {
    for (const condition of conditions) {
      const ok = data.metrics[metric]?.thresholds?.[condition]?.ok;
      // A threshold on a metric that got no samples is absent from the summary: k6 does not fail it.
      thresholds.push({ metric, condition, ok: ok ?? true });
    }
  }
  return { v: 1, run_id: runId, instance, dropped_iterations: dropped, iterations, planned, thresholds };
}

/** A few human-readable lines for the terminal (k6 prints no default summary when handleSummary exists). */
export function summaryText(facts: K6SummaryFacts): string {
  const arms = Object.keys(facts.iterations);
  const lines = [`shadowbench k6 summary${facts.instance ? ` (instance ${facts.instance})` : ''}:`];
  for (const arm of arms)
    lines.push(
      `  ${arm}: ${facts.planned?.[arm] ?? '?'} planned, ${facts.iterations[arm]} completed, ${facts.dropped_iterations[arm]} dropped`,
    );
  for (const t of facts.thresholds) lines.push(`  threshold ${t.metric} ${t.condition}: ${t.ok ? 'ok' : 'FAILED'}`);
  return lines.join('\n') + '\n';
}
