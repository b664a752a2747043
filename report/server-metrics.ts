// server-metrics.csv and the terminal lines of the server-side figures. Pure: figures in, text out.
import { stringify } from 'csv-stringify/sync';
import { round, type ServerMetrics } from '../analysis/server-metrics.ts';

/** Column order of server-metrics.csv (one row per arm). */
export const SERVER_METRICS_COLUMNS = [
  'arm',
  'scrapes',
  'gaps',
  'span_s',
  'prefix_cache_queries',
  'prefix_cache_hits',
  'prefix_cache_hit_rate',
  'requests_running_mean',
  'requests_running_max',
  'requests_waiting_mean',
  'requests_waiting_max',
  'kv_cache_usage_pct_mean',
  'kv_cache_usage_pct_max',
  'gpu_utilization_pct_mean',
  'gpu_utilization_pct_max',
  'gpus',
] as const;

/** One CSV row per arm, in SERVER_METRICS_COLUMNS order; null = not exposed by the server (empty cell). */
export function serverMetricsRows(all: readonly ServerMetrics[]): Array<Array<string | number | null>> {
  return all.map((m) => [
    m.arm,
    m.scrapes,
    m.gaps,
    m.span_s,
    m.prefix_cache?.queries ?? null,
    m.prefix_cache?.hits ?? null,
    m.prefix_cache?.hit_rate ?? null,
    m.requests_running?.mean ?? null,
    m.requests_running?.max ?? null,
    m.requests_waiting?.mean ?? null,
    m.requests_waiting?.max ?? null,
    m.kv_cache_usage_pct?.mean ?? null,
    m.kv_cache_usage_pct?.max ?? null,
    m.gpu_utilization_pct?.mean ?? null,
    m.gpu_utilization_pct?.max ?? null,
    m.gpu_utilization_pct?.gpus ?? null,
  ]);
}

/** server-metrics.csv as a string (header + one row per arm). */
export function serverMetricsCsv(all: readonly ServerMetrics[]): string {
  return stringify([[...SERVER_METRICS_COLUMNS], ...serverMetricsRows(all)], { cast: { number: (n) => String(round(n)) } });
}

/** Lines for the terminal / report: one figure per line, arms side by side. Missing figures read "not exposed". */
export function formatServerMetrics(all: readonly ServerMetrics[]): string[] {
  // Terminal figures: one decimal below 100, whole numbers above (CSV and summary.json keep 6 digits).
  const figure = (n: number) => (Math.abs(n) >= 100 || Number.isInteger(n) ? n.toFixed(0) : n.toFixed(1));
  const fmt = (n: number | null | undefined, unit = '') => (n === null || n === undefined ? 'not exposed' : `${figure(n)}${unit}`);
  const rows: Array<[string, (m: ServerMetrics) => string]> = [
    ['scrapes (gaps)', (m) => `${m.scrapes} (${m.gaps})`],
    ['prefix-cache hit rate', (m) => (m.prefix_cache?.hit_rate == null ? 'not exposed' : `${figure(m.prefix_cache.hit_rate * 100)} %`)],
    ['running requests mean / max', (m) => `${fmt(m.requests_running?.mean)} / ${fmt(m.requests_running?.max)}`],
    ['waiting requests mean / max', (m) => `${fmt(m.requests_waiting?.mean)} / ${fmt(m.requests_waiting?.max)}`],
    ['KV-cache usage mean / max', (m) => `${fmt(m.kv_cache_usage_pct?.mean, ' %')} / ${fmt(m.kv_cache_usage_pct?.max, ' %')}`],
    ['GPU utilisation mean / max', (m) => `${fmt(m.gpu_utilization_pct?.mean, ' %')} / ${fmt(m.gpu_utilization_pct?.max, ' %')}`],
  ];
  const width = Math.max(...rows.map(([label]) => label.length)) + 2;
  const header = ''.padEnd(width) + all.map((m) => m.arm.padEnd(28)).join('');
  return [header.trimEnd(), ...rows.map(([label, get]) => (label.padEnd(width) + all.map((m) => get(m).padEnd(28)).join('')).trimEnd())];
}
