// The cost flags, declared once: the load (or analyze) command spreads COST_OPTIONS into its own
// option table and turns the values into per-arm prices with costSpecsFromOptions. The arithmetic
// lives in analysis/cost.ts.
import { num, UsageError, flagOf, type OptionTable } from '../core/options.ts';
import { nodesCostPerHour, type CostSpec } from './cost.ts';

/**
 * The cost options, declared once; the load (or analyze) command spreads them into its table.
 * An arm is priced either directly (`--<arm>-cost-per-hour`) or as `--<arm>-nodes` ×
 * `--<arm>-gpus-per-node` × `--gpu-hour-price`.
 */
export const COST_OPTIONS = {
  baselineCostPerHour: num({
    min: 0,
    meta: 'PRICE',
    help: 'baseline deployment price per hour (for cost per 1,000 queries / 1M tokens) [default: not priced]',
  }),
  candidateCostPerHour: num({ min: 0, meta: 'PRICE', help: 'candidate deployment price per hour [default: not priced]' }),
  baselineNodes: num({ min: 1, integer: true, help: 'baseline node count (priced with --gpu-hour-price instead of a direct price)' }),
  candidateNodes: num({ min: 1, integer: true, help: 'candidate node count (priced with --gpu-hour-price)' }),
  baselineGpusPerNode: num({ min: 1, integer: true, default: 8, help: 'GPUs per baseline node' }),
  candidateGpusPerNode: num({ min: 1, integer: true, default: 8, help: 'GPUs per candidate node' }),
  gpuHourPrice: num({ min: 0, meta: 'PRICE', help: 'price of one GPU-hour, used with --baseline-nodes / --candidate-nodes' }),
} satisfies OptionTable;

type Arms = 'baseline' | 'candidate';

function numberAt(values: Record<string, unknown>, key: string): number | undefined {
  const v = values[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0)
    throw new UsageError(`${flagOf(key)}: got ${JSON.stringify(v)}; expected a number ≥ 0`);
  return v;
}

/**
 * Each arm's CostSpec from option values (the parsed flags, or run.json's `config`, which holds
 * them under the same camelCase keys); null for an arm without a price. Conflicting or incomplete
 * pricing throws UsageError naming the flags.
 */
export function costSpecsFromOptions(values: Record<string, unknown>): Record<Arms, CostSpec | null> {
  const gpuHourPrice = numberAt(values, 'gpuHourPrice');
  const specFor = (arm: Arms): CostSpec | null => {
    const direct = numberAt(values, `${arm}CostPerHour`);
    const nodes = numberAt(values, `${arm}Nodes`);
    const gpusPerNode = numberAt(values, `${arm}GpusPerNode`) ?? 8;
    if (direct !== undefined && nodes !== undefined) {
      throw new UsageError(`${flagOf(`${arm}CostPerHour`)} and ${flagOf(`${arm}Nodes`)} both given; price the ${arm} one way`);
    }
    if (direct !== undefined) return { cost_per_hour: direct, basis: { kind: 'direct' } };
    if (nodes === undefined) return null;
    if (gpuHourPrice === undefined)
      throw new UsageError(`${flagOf(`${arm}Nodes`)} needs ${flagOf('gpuHourPrice')} (the price of one GPU-hour)`);
    return {
      cost_per_hour: nodesCostPerHour(nodes, gpusPerNode, gpuHourPrice),
      basis: { kind: 'nodes', nodes, gpus_per_node: gpusPerNode, gpu_hour_price: gpuHourPrice },
    };
  };
  return { baseline: specFor('baseline'), candidate: specFor('candidate') };
}
