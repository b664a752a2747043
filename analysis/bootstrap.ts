// Seeded percentile bootstrap for the mean and a percentile of paired differences, so a gate can
// tell a real regression from noise.
//
// Each resample draws n values with replacement (mulberry32 from core/random.ts, seeded) and
// computes the resample's mean and its numpy-linear percentile. The
// interval is the (1 − c)/2 and (1 + c)/2 percentiles of the B resampled statistics.
// Speed: the resample is never sorted. Drawing fills a count per original value; the values are
// sorted once, so the resample's order statistics near the top (P99) are found by walking the
// counts down from the largest value — O(n) per resample, the same answer as sorting it.
import { seededRandom } from '../core/random.ts';
import { lerp, percentilePosition, percentileSorted } from './stats.ts';

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

/**
 * values: finite numbers (at least 1). Resampling draws ranks of the sorted sample (a bijection of
 * the indices, so the same distribution); the resample mean is Σ count[r]·sorted[r] / n, summed in
 * rank order after the draws so the draw loop touches only the counts.
 */
export function bootstrap(values: Float64Array, options: { resamples: number; seed: number; confidence: number; p: number }): BootstrapResult {
  const n = values.length;
  if (n === 0) throw new RangeError('bootstrap of an empty set');
  const { resamples, confidence, p } = options;
  const random = seededRandom(options.seed);
  const sorted = Float64Array.from(values).sort();
  // A count can never exceed n; above 65,535 values a 16-bit count would need 65,536 draws of one
  // value out of n ≥ 65,536 (probability < 10^-300000), and halves the memory the draws touch.
  const counts = n < 65_536 ? new Uint32Array(n) : new Uint16Array(n);
  const means = new Float64Array(resamples);
  const pcts = new Float64Array(resamples);
  const { lo, hi, t } = percentilePosition(n, p);
  // Ranks counted from the top: walking down from the largest is short for high percentiles.
  const fromTop = p >= 50;
  for (let b = 0; b < resamples; b++) {
    counts.fill(0);
    for (let k = 0; k < n; k++) {
      const r = Math.floor(random() * n);
      counts[r] = (counts[r] as number) + 1;
    }
    let sum = 0;
    for (let r = 0; r < n; r++) sum += (counts[r] as number) * (sorted[r] as number);
    means[b] = sum / n;
    pcts[b] = lerp(orderStatistic(sorted, counts, lo, fromTop), orderStatistic(sorted, counts, hi, fromTop), t);
  }
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

/** The rank-th smallest element of the resample described by counts over sorted values. */
function orderStatistic(sorted: Float64Array, counts: Uint32Array | Uint16Array, rank: number, fromTop: boolean): number {
  const n = sorted.length;
  if (fromTop) {
    const fromEnd = n - 1 - rank; // rank counted from the largest
    let seen = 0;
    for (let r = n - 1; r >= 0; r--) {
      seen += counts[r] as number;
      if (seen > fromEnd) return sorted[r] as number;
    }
  } else {
    let seen = 0;
    for (let r = 0; r < n; r++) {
      seen += counts[r] as number;
      if (seen > rank) return sorted[r] as number;
    }
  }
  throw new Error('unreachable: counts sum to n');
}

/** The same bootstrap done the slow, obvious way (draw, sort, take the percentile); for tests. */
export function bootstrapNaive(values: Float64Array, options: { resamples: number; seed: number; confidence: number; p: number }): BootstrapResult {
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
