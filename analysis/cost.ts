// Cost per arm, as in the migration guide's comparison table: monthly cost, cost per 1,000 queries
// and per million output tokens. Pure arithmetic on a price and the run's measured throughput.
//
// Caveat, repeated in the report: the per-query and per-token figures divide the hourly price by
// the throughput MEASURED AT THE TESTED LOAD, not by the arm's maximum capacity. A run at 10 QPS
// against a node that could do 50 shows a cost per query five times what the node would cost at
// full load. Compare arms at the same offered load (which shadowbench guarantees), and run near
// the expected production rate for absolute figures.
import { stringify } from 'csv-stringify/sync';
import { round } from './server-metrics.ts';

/** Hours in the billing month used for monthly cost: 8,760 h a year / 12 (the usual cloud-pricing month). */
export const HOURS_PER_MONTH = 730;

/** Where an arm's hourly price came from. */
export type CostBasis = { kind: 'direct' } | { kind: 'nodes'; nodes: number; gpus_per_node: number; gpu_hour_price: number };

export interface CostSpec {
  /** Price of the arm's whole deployment per hour, in the user's currency. */
  cost_per_hour: number;
  basis: CostBasis;
}

/** Measured throughput of one arm over the run's measured window (warm-up excluded). */
export interface Throughput {
  /** Completed (ok) requests per second. */
  requests_per_s: number;
  /** Output (completion) tokens per second. */
  output_tokens_per_s: number;
}

export interface ArmCost {
  arm: string;
  cost_per_hour: number;
  basis: CostBasis;
  /** cost_per_hour × 730 h. */
  monthly_cost: number;
  requests_per_s: number;
  output_tokens_per_s: number;
  /** cost_per_hour / (requests/s × 3600) × 1000; null when no request completed. */
  cost_per_1k_queries: number | null;
  /** cost_per_hour / (output tokens/s × 3600) × 1e6; null when no token was produced. */
  cost_per_1m_output_tokens: number | null;
}

/** Hourly price of a deployment of `nodes` nodes with `gpusPerNode` GPUs each at `gpuHourPrice` per GPU-hour. */
export function nodesCostPerHour(nodes: number, gpusPerNode: number, gpuHourPrice: number): number {
  // cost/h = nodes × GPUs per node × price per GPU-hour
  return nodes * gpusPerNode * gpuHourPrice;
}

/** The cost figures of one arm. */
export function armCost(arm: string, spec: CostSpec, throughput: Throughput): ArmCost {
  const queriesPerHour = throughput.requests_per_s * 3600;
  const tokensPerHour = throughput.output_tokens_per_s * 3600;
  return {
    arm,
    cost_per_hour: spec.cost_per_hour,
    basis: spec.basis,
    // monthly cost = cost/h × 730 h
    monthly_cost: spec.cost_per_hour * HOURS_PER_MONTH,
    requests_per_s: throughput.requests_per_s,
    output_tokens_per_s: throughput.output_tokens_per_s,
    // cost per 1,000 queries = cost/h ÷ queries/h × 1,000 (at the tested load)
    cost_per_1k_queries: queriesPerHour > 0 ? (spec.cost_per_hour / queriesPerHour) * 1000 : null,
    // cost per 1M output tokens = cost/h ÷ output tokens/h × 1,000,000 (at the tested load)
    cost_per_1m_output_tokens: tokensPerHour > 0 ? (spec.cost_per_hour / tokensPerHour) * 1e6 : null,
  };
}

export const COST_COLUMNS = [
  'arm',
  'cost_per_hour',
  'basis',
  'monthly_cost',
  'requests_per_s',
  'output_tokens_per_s',
  'cost_per_1k_queries',
  'cost_per_1m_output_tokens',
] as const;

const describeBasis = (b: CostBasis): string =>
  b.kind === 'direct'
    ? 'direct'
    : `${b.nodes} node${b.nodes === 1 ? '' : 's'} x ${b.gpus_per_node} GPU${b.gpus_per_node === 1 ? '' : 's'} x ${b.gpu_hour_price}/GPU-h`;

/** cost.csv: header + one row per priced arm; empty cell where a figure is undefined. */
export function costCsv(costs: readonly ArmCost[]): string {
  const rows = costs.map((c) => [
    c.arm,
    c.cost_per_hour,
    describeBasis(c.basis),
    c.monthly_cost,
    c.requests_per_s,
    c.output_tokens_per_s,
    c.cost_per_1k_queries,
    c.cost_per_1m_output_tokens,
  ]);
  return stringify([[...COST_COLUMNS], ...rows], { cast: { number: (n) => String(round(n)) } });
}

/** Lines for the terminal / report, ending with the load caveat. */
export function formatCost(costs: readonly ArmCost[]): string[] {
  const money = (n: number | null) => (n === null ? 'n/a' : n >= 100 ? n.toFixed(0) : n >= 1 ? n.toFixed(2) : n.toPrecision(3));
  const lines = costs.map(
    (c) =>
      `${c.arm.padEnd(10)} ${money(c.cost_per_hour)}/h (${describeBasis(c.basis)})  monthly ${money(c.monthly_cost)}  ` +
      `per 1k queries ${money(c.cost_per_1k_queries)}  per 1M output tokens ${money(c.cost_per_1m_output_tokens)}`,
  );
  lines.push(
    `Monthly = ${HOURS_PER_MONTH} h. Per-query and per-token costs use the throughput measured at the tested load, not maximum capacity.`,
  );
  return lines;
}

/**
 * Hook for the analysis: cost figures of every priced arm, from the per-arm throughput the
 * analysis measured (ok requests/s and output tokens/s over the measured window). Arms without a
 * price, or without measured throughput, are left out.
 */
export function costsForArms(
  specs: Readonly<Record<string, CostSpec | null>>,
  arms: ReadonlyArray<{ arm: string; throughput: { ok_requests_per_s: number | null; output_tokens_per_s: number | null } }>,
): ArmCost[] {
  const out: ArmCost[] = [];
  for (const a of arms) {
    const spec = specs[a.arm];
    if (!spec) continue;
    out.push(
      armCost(a.arm, spec, {
        requests_per_s: a.throughput.ok_requests_per_s ?? 0,
        output_tokens_per_s: a.throughput.output_tokens_per_s ?? 0,
      }),
    );
  }
  return out;
}
