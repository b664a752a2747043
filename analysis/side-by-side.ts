// The migration guide's side-by-side table (per arm, with the candidate − baseline delta), shared by
// report.html and summary.md so both say the same thing. Pure.
import { BASELINE, CANDIDATE } from '../core/record.ts';
import type { ArmReport, Report } from './report.ts';
import type { ServerMetrics } from './server-metrics.ts';

export interface SideBySideRow {
  label: string;
  unit: 'ms' | 'tok/s' | 'req/s' | 'fraction';
  /** Which direction is better for the candidate (colours the delta). */
  better: 'lower' | 'higher';
  /** One value per arm of `arms`, null = not measured. */
  values: Array<number | null>;
  /** candidate − baseline, null when either is missing. */
  delta: number | null;
  /** delta / baseline, null when the baseline is 0 or missing. */
  relative: number | null;
}

export interface SideBySide {
  arms: string[];
  hasDelta: boolean;
  rows: SideBySideRow[];
}

type Getter = (a: ArmReport, server: ServerMetrics | undefined) => number | null | undefined;
const ROWS: Array<[string, SideBySideRow['unit'], SideBySideRow['better'], Getter]> = [
  ['TTFT P50', 'ms', 'lower', (a) => a.metrics.ttft_ms?.p50],
  ['TTFT P99', 'ms', 'lower', (a) => a.metrics.ttft_ms?.p99],
  ['ITL P50', 'ms', 'lower', (a) => a.metrics.itl_ms?.p50],
  ['ITL P99', 'ms', 'lower', (a) => a.metrics.itl_ms?.p99],
  ['Output throughput', 'tok/s', 'higher', (a) => a.throughput.output_tokens_per_s],
  ['Request throughput', 'req/s', 'higher', (a) => a.throughput.requests_per_s],
  ['Error rate', 'fraction', 'lower', (a) => a.error_rate],
  ['Timeout rate', 'fraction', 'lower', (a) => a.timeout_rate],
];
const KV_ROW: (typeof ROWS)[number] = ['KV-cache (prefix) hit rate', 'fraction', 'higher', (_a, s) => s?.prefix_cache?.hit_rate];

export function sideBySide(report: Report, serverMetrics: readonly ServerMetrics[] = []): SideBySide {
  const arms = report.arms.map((a) => a.arm);
  const bi = arms.indexOf(BASELINE);
  const ci = arms.indexOf(CANDIDATE);
  const hasDelta = bi >= 0 && ci >= 0;
  const server = (arm: string) => serverMetrics.find((s) => s.arm === arm);
  // The KV-cache row only when some arm was scraped and reported prefix-cache counters.
  const scraped = report.arms.some((a) => server(a.arm)?.prefix_cache?.hit_rate != null);
  const rows = (scraped ? [...ROWS, KV_ROW] : ROWS).map(([label, unit, better, get]): SideBySideRow => {
    const values = report.arms.map((a) => get(a, server(a.arm)) ?? null);
    const b = hasDelta ? values[bi] : null;
    const c = hasDelta ? values[ci] : null;
    // delta = candidate − baseline (in the row's unit); relative = delta / baseline
    const delta = b !== null && b !== undefined && c !== null && c !== undefined ? c - b : null;
    const relative = delta !== null && b ? delta / b : null;
    return { label, unit, better, values, delta, relative };
  });
  return { arms, hasDelta, rows };
}

/** Display form of a table value: ms with 2 decimals, rates as percentages. */
export function formatValue(v: number | null, unit: SideBySideRow['unit']): string {
  if (v === null || !Number.isFinite(v)) return '—';
  if (unit === 'fraction') return `${(v * 100).toFixed(2)} %`;
  return `${v.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 })} ${unit}`;
}

/** Display form of a delta: signed, percentage points for rates, plus the relative change. */
export function formatDelta(row: SideBySideRow): string {
  if (row.delta === null) return '—';
  const sign = row.delta > 0 ? '+' : row.delta < 0 ? '−' : '±';
  const abs = Math.abs(row.delta);
  const main = row.unit === 'fraction' ? `${sign}${(abs * 100).toFixed(2)} pt` : `${sign}${abs.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 })} ${row.unit}`;
  return row.relative === null || row.unit === 'fraction' ? main : `${main} (${row.relative > 0 ? '+' : row.relative < 0 ? '−' : '±'}${Math.abs(row.relative * 100).toFixed(1)} %)`;
}

/** Whether the delta favours the candidate: 'better', 'worse' or 'same' (or null when not measured). */
export function deltaDirection(row: SideBySideRow): 'better' | 'worse' | 'same' | null {
  if (row.delta === null) return null;
  if (row.delta === 0) return 'same';
  return (row.delta < 0) === (row.better === 'lower') ? 'better' : 'worse';
}
