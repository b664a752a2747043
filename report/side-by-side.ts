// The migration guide's side-by-side table (per arm, with the candidate − baseline delta), shared by
// report.html and summary.md so both say the same thing. Pure.
import { BASELINE, CANDIDATE } from '../core/record.ts';
import type { ArmCost } from '../analysis/cost.ts';
import type { ArmReport, Report } from '../analysis/report.ts';
import type { ServerMetrics } from '../analysis/server-metrics.ts';

export interface SideBySideRow {
  label: string;
  /** price: in the currency of the --*-cost-per-hour / --gpu-hour-price flags. */
  unit: 'ms' | 'tok/s' | 'req/s' | 'fraction' | 'price';
  /** Which direction is better for the candidate (colours the delta); neither: no colour (e.g. GPU utilisation). */
  better: 'lower' | 'higher' | 'neither';
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

type Getter = (a: ArmReport, server: ServerMetrics | undefined, cost: ArmCost | undefined) => number | null | undefined;
const ROWS: Array<[string, SideBySideRow['unit'], SideBySideRow['better'], Getter]> = [
  ['TTFT P50', 'ms', 'lower', (a) => a.metrics.ttft_ms?.p50],
  ['TTFT P99', 'ms', 'lower', (a) => a.metrics.ttft_ms?.p99],
  ['ITL P50', 'ms', 'lower', (a) => a.metrics.itl_ms?.p50],
  ['ITL P99', 'ms', 'lower', (a) => a.metrics.itl_ms?.p99],
  ['Output throughput', 'tok/s', 'higher', (a) => a.throughput.output_tokens_per_s],
  ['Request throughput', 'req/s', 'higher', (a) => a.throughput.requests_per_s],
  // The offered load: the same for both arms in a paired run; beside the throughput, whose window includes the drain.
  ['Send rate (achieved)', 'req/s', 'neither', (a) => a.throughput.send_rate_per_s],
  ['Error rate', 'fraction', 'lower', (a) => a.error_rate],
  ['Timeout rate', 'fraction', 'lower', (a) => a.timeout_rate],
];
/**
 * Server-side counterparts of client rows, from the histograms an arm exposes (the Dynamo
 * frontend's, else the engines'; P50 / P99 by Prometheus' histogram_quantile, so within a bucket):
 * each shown right under its client row when some arm has it. The gap between the two is network
 * plus anything before the server's clock starts, a check that the client measures truly.
 */
const SERVER_ROWS: Record<string, (typeof ROWS)[number]> = {
  'TTFT P50': ['TTFT P50 (server-side)', 'ms', 'lower', (_a, s) => s?.ttft_server_ms?.p50],
  'TTFT P99': ['TTFT P99 (server-side)', 'ms', 'lower', (_a, s) => s?.ttft_server_ms?.p99],
  'ITL P50': ['ITL P50 (server-side)', 'ms', 'lower', (_a, s) => s?.itl_server_ms?.p50],
  'ITL P99': ['ITL P99 (server-side)', 'ms', 'lower', (_a, s) => s?.itl_server_ms?.p99],
};
/**
 * Rows from beside the records (scraped server metrics, prices), each shown only when some arm has a
 * value. GPU utilisation has no better direction: at the same offered load a lower figure is more
 * headroom, but a deployment with more GPUs shows a lower one too.
 */
const OPTIONAL_ROWS: typeof ROWS = [
  // Only arms whose responses reasoned have it (report.ts): what a reasoning model's user waits for.
  ['Time to first answer token P50', 'ms', 'lower', (a) => a.metrics.ttfa_ms?.p50],
  ['Time to first answer token P99', 'ms', 'lower', (a) => a.metrics.ttfa_ms?.p99],
  ['KV-cache (prefix) hit rate', 'fraction', 'higher', (_a, s) => s?.prefix_cache?.hit_rate],
  // GPU utilisation as a fraction = mean over scrapes of the mean DCGM_FI_DEV_GPU_UTIL (%) over GPUs ÷ 100
  ['GPU utilisation (mean)', 'fraction', 'neither', (_a, s) => (s?.gpu_utilization_pct ? s.gpu_utilization_pct.mean / 100 : null)],
  ['Monthly cost', 'price', 'lower', (_a, _s, c) => c?.monthly_cost],
  ['Cost per 1,000 queries', 'price', 'lower', (_a, _s, c) => c?.cost_per_1k_queries],
  ['Cost per 1M output tokens', 'price', 'lower', (_a, _s, c) => c?.cost_per_1m_output_tokens],
];

/** The table; server figures and costs default to the report's own (summary.json `server_metrics`, `cost`). */
export function sideBySide(
  report: Report,
  serverMetrics: readonly ServerMetrics[] = report.server_metrics ?? [],
  costs: readonly ArmCost[] = report.cost ?? [],
): SideBySide {
  const arms = report.arms.map((a) => a.arm);
  const bi = arms.indexOf(BASELINE);
  const ci = arms.indexOf(CANDIDATE);
  const hasDelta = bi >= 0 && ci >= 0;
  const server = (arm: string) => serverMetrics.find((s) => s.arm === arm);
  const cost = (arm: string) => costs.find((c) => c.arm === arm);
  const present = OPTIONAL_ROWS.filter(([, , , get]) => report.arms.some((a) => get(a, server(a.arm), cost(a.arm)) != null));
  const has = (row: (typeof ROWS)[number]) => report.arms.some((a) => row[3](a, server(a.arm), cost(a.arm)) != null);
  const withServer = ROWS.flatMap((row) => {
    const partner = SERVER_ROWS[row[0]];
    return partner !== undefined && has(partner) ? [row, partner] : [row];
  });
  const rows = [...withServer, ...present].map(([label, unit, better, get]): SideBySideRow => {
    const values = report.arms.map((a) => get(a, server(a.arm), cost(a.arm)) ?? null);
    const b = hasDelta ? values[bi] : null;
    const c = hasDelta ? values[ci] : null;
    // delta = candidate − baseline (in the row's unit); relative = delta / baseline
    const delta = b !== null && b !== undefined && c !== null && c !== undefined ? c - b : null;
    const relative = delta !== null && b ? delta / b : null;
    return { label, unit, better, values, delta, relative };
  });
  return { arms, hasDelta, rows };
}

/** A price: 2 decimals from 1 up, 3 significant digits below (a cost per query can be 0.000412). */
const price = (v: number): string =>
  v >= 1 ? v.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 }) : String(Number(v.toPrecision(3)));

/** Display form of a table value: ms with 2 decimals, rates as percentages, prices without a currency. */
export function formatValue(v: number | null, unit: SideBySideRow['unit']): string {
  if (v === null || !Number.isFinite(v)) return '—';
  if (unit === 'fraction') return `${(v * 100).toFixed(2)} %`;
  if (unit === 'price') return price(v);
  return `${v.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 })} ${unit}`;
}

/** Display form of a delta: signed, percentage points for rates, plus the relative change. */
export function formatDelta(row: SideBySideRow): string {
  if (row.delta === null) return '—';
  const sign = row.delta > 0 ? '+' : row.delta < 0 ? '−' : '±';
  const abs = Math.abs(row.delta);
  const main =
    row.unit === 'fraction'
      ? `${sign}${(abs * 100).toFixed(2)} pt`
      : row.unit === 'price'
        ? `${sign}${price(abs)}`
        : `${sign}${abs.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 })} ${row.unit}`;
  return row.relative === null || row.unit === 'fraction'
    ? main
    : `${main} (${row.relative > 0 ? '+' : row.relative < 0 ? '−' : '±'}${Math.abs(row.relative * 100).toFixed(1)} %)`;
}

/** Whether the delta favours the candidate: 'better', 'worse' or 'same' (null when not measured or the row has no better direction). */
export function deltaDirection(row: SideBySideRow): 'better' | 'worse' | 'same' | null {
  if (row.delta === null || row.better === 'neither') return null;
  if (row.delta === 0) return 'same';
  return row.delta < 0 === (row.better === 'lower') ? 'better' : 'worse';
}
