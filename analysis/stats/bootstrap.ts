// Seeded percentile bootstrap for the mean and a percentile of paired differences, so a gate can
// tell a real regression from noise.
//
// Each resample draws n values with replacement (mulberry32 from core/random.ts, seeded) and
// computes the resample's mean and its numpy-linear percentile. The
// interval is the (1 − c)/2 and (1 + c)/2 percentiles of the B resampled statistics.
// Speed: the resample is never sorted. Drawing fills a count per original value; the values are
// sorted once, so the resample's order statistics near the top (P99) are found by walking the
// counts down from the largest value — O(n) per resample, the same answer as sorting it.
// Large bootstraps are split by resample over threads (bootstrap-parallel.ts): mulberry32's state
// is a counter, so resample b's draws start at state seed + b·n·step, reachable in O(1), and every
// thread produces exactly the numbers the single-threaded loop would.
import { seededRandom } from '../../core/random.ts';
import { finishJob, startJob } from './bootstrap-parallel.ts';
import { type BootstrapJob } from './bootstrap-blocks.ts';
import { percentileSorted } from './stats.ts';
import { newCounts, resampleRange } from './resample.ts';

export interface Interval {
  low: number;
  high: number;
}

export interface BootstrapResult {
  resamples: number;
  confidence: number;
  mean: Interval;
  /** Interval for the percentile named by `p`. */
  percentile: Interval & { p: number };
}

/** Below this many draws (n × resamples) a bootstrap stays on the calling thread (a helper thread costs ~50 ms to start). */
export const PARALLEL_DRAWS = 50_000_000;

/**
 * values: finite numbers (at least 1). The interval ends are percentiles of bootstrapReplicates.
 * `parallelDraws` overrides PARALLEL_DRAWS (tests force the threaded path with it).
 */
export function bootstrap(
  values: Float64Array,
  options: { resamples: number; seed: number; confidence: number; p: number; parallelDraws?: number },
): BootstrapResult {
  const { resamples, confidence, p } = options;
  const { means, pcts } = bootstrapReplicates(values, options);
  means.sort();
  pcts.sort();
  const lowP = ((1 - confidence) / 2) * 100;
  const highP = ((1 + confidence) / 2) * 100;
  return {
    resamples,
    confidence,
    mean: { low: percentileSorted(means, lowP), high: percentileSorted(means, highP) },
    percentile: { p, low: percentileSorted(pcts, lowP), high: percentileSorted(pcts, highP) },
  };
}

/**
 * The B bootstrap replicates of `values` (finite, at least 1), in resample order: means[b] and
 * pcts[b] are the mean and the p-th percentile of resample b, which draws n values with replacement
 * with seededRandom(seed)'s draws b·n to (b + 1)·n − 1 — the order a plain loop over
 * seededRandom(seed) draws them in, on any number of threads. Resampling draws ranks of the sorted
 * sample (a bijection of the indices, so the same distribution); the resample mean is
 * Σ count[r]·sorted[r] / n, summed in rank order after the draws so the draw loop touches only the counts.
 */
export function bootstrapReplicates(
  values: Float64Array,
  options: { resamples: number; seed: number; p: number; parallelDraws?: number },
): { means: Float64Array; pcts: Float64Array } {
  const n = values.length;
  if (n === 0) throw new RangeError('bootstrap of an empty set');
  const { resamples, p } = options;
  const seed = options.seed >>> 0;
  const sorted = Float64Array.from(values).sort();
  if (n * resamples >= (options.parallelDraws ?? PARALLEL_DRAWS)) {
    const job = takeStarted(sorted, seed, p, resamples) ?? startJob(sorted, seed, p, resamples);
    if (job !== null) return finishJob(job, resampleRange, newCounts);
  }
  const stats = { means: new Float64Array(resamples), pcts: new Float64Array(resamples) };
  resampleRange(sorted, seed, p, 0, resamples, stats.means, stats.pcts, newCounts(n));
  return stats;
}

/** Bootstraps started ahead of need (prestartBootstrap), waiting to be joined by bootstrapReplicates(). */
const started: Array<{ sorted: Float64Array; seed: number; p: number; resamples: number; job: BootstrapJob }> = [];
/** How many bootstrapReplicates() calls joined a prestarted job (tests check that the head start is used). */
export const prestartStats = { started: 0, joined: 0 };

/**
 * Starts bootstrap(values, options) on the helper threads now, so it runs while the caller does
 * other work; the bootstrap() (or bootstrapReplicates()) call with the same values and options later
 * joins it and returns the same result it would have computed alone. Only large bootstraps (the threaded path) start.
 */
export function prestartBootstrap(
  values: Float64Array,
  options: { resamples: number; seed: number; p: number; parallelDraws?: number },
): void {
  const n = values.length;
  if (n === 0 || n * options.resamples < (options.parallelDraws ?? PARALLEL_DRAWS)) return;
  const sorted = Float64Array.from(values).sort();
  const seed = options.seed >>> 0;
  const job = startJob(sorted, seed, options.p, options.resamples);
  if (job === null) return;
  started.push({ sorted, seed, p: options.p, resamples: options.resamples, job });
  prestartStats.started++;
  if (started.length > 8) started.shift(); // never joined (inputs changed): stop holding it
}

/** The prestarted job for exactly these inputs, if any (removed from the waiting list). */
function takeStarted(sorted: Float64Array, seed: number, p: number, resamples: number): BootstrapJob | null {
  const at = started.findIndex((s) => s.seed === seed && s.p === p && s.resamples === resamples && sameValues(s.sorted, sorted));
  if (at === -1) return null;
  prestartStats.joined++;
  return (started.splice(at, 1)[0] as (typeof started)[number]).job;
}

function sameValues(a: Float64Array, b: Float64Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return false;
  return true;
}

/** The same bootstrap done the slow, obvious way (draw, sort, take the percentile); for tests. */
export function bootstrapNaive(
  values: Float64Array,
  options: { resamples: number; seed: number; confidence: number; p: number },
): BootstrapResult {
  const n = values.length;
  const random = seededRandom(options.seed);
  const sorted = Float64Array.from(values).sort();
  const means = new Float64Array(options.resamples);
  const pcts = new Float64Array(options.resamples);
  const sample = new Float64Array(n);
  for (let b = 0; b < options.resamples; b++) {
    const drawn = new Array<number>(n).fill(0);
    for (let k = 0; k < n; k++) {
      const r = Math.floor(random() * n);
      sample[k] = sorted[r] as number;
      drawn[r] = (drawn[r] as number) + 1;
    }
    const resample = Float64Array.from(sample).sort();
    let sum = 0;
    for (let r = 0; r < n; r++) sum += (drawn[r] as number) * (sorted[r] as number); // the resample mean, by definition Σ count·value / n
    means[b] = sum / n;
    pcts[b] = percentileSorted(resample, options.p);
  }
  means.sort();
  pcts.sort();
  const lowP = ((1 - options.confidence) / 2) * 100;
  const highP = ((1 + options.confidence) / 2) * 100;
  return {
    resamples: options.resamples,
    confidence: options.confidence,
    mean: { low: percentileSorted(means, lowP), high: percentileSorted(means, highP) },
    percentile: { p: options.p, low: percentileSorted(pcts, lowP), high: percentileSorted(pcts, highP) },
  };
}
