// WorkloadSource helpers: the eager adapter for parsed workloads (openai, sharegpt, small files and
// k6's SharedArray), and seeded sampling over indices (line offsets), shared by the eager and the
// streamed paths so both keep the same items. Runtime-agnostic.
import type { Api } from '../openai.ts';
import { derivedRandom } from '../random.ts';
import { emptyReport, type Workload, type WorkloadItem, type WorkloadSource } from './common.ts';

export function isWorkloadSource(value: Workload | WorkloadSource): value is WorkloadSource {
  return !('items' in value) && typeof value.item === 'function';
}

/** A parsed workload as a source (its items are already built). Only length and index access on items (k6 SharedArray). */
export function eagerSource(workload: Workload): WorkloadSource {
  const { items } = workload;
  const n = items.length;
  let timestamps: Float64Array | null = null;
  let apis: Api[] | null = null;
  let models: string[] | null = null;
  const scan = () => {
    const a = new Set<Api>();
    const m = new Set<string>();
    for (let k = 0; k < n; k++) {
      const item = items[k]!;
      a.add(item.api);
      if (typeof item.body.model === 'string') m.add(item.body.model);
    }
    apis = [...a];
    models = [...m];
  };
  return {
    source: workload.source,
    format: workload.format,
    length: n,
    get timestamps() {
      if (timestamps === null) {
        const out = new Float64Array(n);
        for (let k = 0; k < n; k++) {
          const t = items[k]!.timestamp_ms;
          if (t === null) return null;
          out[k] = t;
        }
        timestamps = out;
      }
      return timestamps;
    },
    get apis() {
      if (apis === null) scan();
      return apis!;
    },
    get models() {
      if (models === null) scan();
      return models!;
    },
    // The workload's notes (its skips, samples, assumptions) are the report's: they become run.json warnings.
    report: { ...(workload.report ?? { ...emptyReport(), examined: n, kept: n }), notes: workload.notes ?? workload.report?.notes ?? [] },
    item: (index: number): WorkloadItem => {
      const item = items[index];
      if (item === undefined) throw new RangeError(`item ${index} is outside the workload (0 .. ${n - 1})`);
      return item;
    },
  };
}

/**
 * A seeded random subset of `count` of the indices 0 .. n−1, sorted (so a trace stays in time order):
 * a Fisher–Yates shuffle of a Uint32Array, the first `count` kept. The same for the eager and the
 * streamed readers, so `--sample` picks the same lines either way.
 */
export function sampleIndices(n: number, count: number, seed: number): Uint32Array {
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  const random = derivedRandom(seed, 'workload:sample');
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const t = order[i]!;
    order[i] = order[j]!;
    order[j] = t;
  }
  return order.slice(0, count).sort();
}
