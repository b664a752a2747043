// The resampling kernel of the bootstrap: draws and counts one block of resamples. Shared by the
// calling thread (bootstrap.ts) and the helper threads (bootstrap-worker.ts), which import it
// directly so no thread's module graph loops back to the one that started it.
import { seededRandom } from '../../core/random.ts';
import { lerp, percentilePosition } from './stats.ts';

/**
 * A zeroed count per rank, 8-bit: the draws touch a quarter of the memory 32-bit counts would
 * (~25 % faster on 500k values). A count past 255 wraps; resampleRange notices (the counts no
 * longer add up to n) and redoes that resample with 32-bit counts, so the result never changes.
 * One element type everywhere also keeps the resampling loop monomorphic.
 */
export function newCounts(n: number): Uint8Array {
  return new Uint8Array(n);
}

/** mulberry32's state step (core/random.ts seededRandom): the state after k draws is seed + k·STEP (mod 2³²). */
const STEP = 0x6d2b79f5;

/** The generator state before resample b's first draw: b·n draws after the seed. */
const stateAt = (seed: number, b: number, n: number) => ((seed >>> 0) + Math.imul(Math.imul(b, n), STEP)) >>> 0;

/**
 * Resamples b in [from, to) of the bootstrap of `sorted` (ascending): writes the resample mean to
 * means[b] and its p-th percentile to pcts[b]. `counts` (newCounts(n)) must be zero and is left zero.
 * The draws are those of seededRandom(seed) — inlined here, same operations, same floats — with
 * resample b starting after b·n draws.
 */
export function resampleRange(
  sorted: Float64Array,
  seed: number,
  p: number,
  from: number,
  to: number,
  means: Float64Array,
  pcts: Float64Array,
  counts: Uint8Array,
): void {
  const n = sorted.length;
  const { lo, hi, t } = percentilePosition(n, p);
  // Ranks counted from the top: walking down from the largest is short for high percentiles.
  const fromTop = p >= 50;
  const loFromEnd = n - 1 - lo;
  const hiFromEnd = n - 1 - hi;
  for (let b = from; b < to; b++) {
    let state = stateAt(seed, b, n);
    for (let k = 0; k < n; k++) {
      // seededRandom's next(): a = a + STEP; t = a; ...; return (t ^ t >>> 14) >>> 0 / 2³²
      state = (state + STEP) >>> 0;
      let x = state;
      x = Math.imul(x ^ (x >>> 15), x | 1);
      x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
      const r = Math.floor((((x ^ (x >>> 14)) >>> 0) / 4294967296) * n);
      counts[r] = (counts[r] as number) + 1;
    }
    // The rank-lo and rank-hi order statistics of the resample, in one walk over the counts
    // (bounded: wrapped counts may add up to less than n).
    let low = Number.NaN;
    let high = Number.NaN;
    let seen = 0;
    if (fromTop) {
      let r = n - 1;
      while (r >= 0 && (seen += counts[r] as number) <= hiFromEnd) r--;
      if (r >= 0) {
        high = sorted[r] as number;
        while (seen <= loFromEnd && --r >= 0) seen += counts[r] as number;
        if (r >= 0) low = sorted[r] as number;
      }
    } else {
      let r = 0;
      while (r < n && (seen += counts[r] as number) <= lo) r++;
      if (r < n) {
        low = sorted[r] as number;
        while (seen <= hi && ++r < n) seen += counts[r] as number;
        if (r < n) high = sorted[r] as number;
      }
    }
    // The mean summed in rank order; the counts are cleared on the way for the next resample.
    let sum = 0;
    let drawn = 0;
    for (let r = 0; r < n; r++) {
      const c = counts[r] as number;
      sum += c * (sorted[r] as number);
      drawn += c;
      counts[r] = 0;
    }
    if (drawn !== n) {
      resampleWide(sorted, seed, p, b, means, pcts); // some count passed 255
      continue;
    }
    means[b] = sum / n;
    pcts[b] = lerp(low, high, t);
  }
}

/** Resample b with 32-bit counts and seededRandom itself: the rare case where 8-bit counts wrapped. */
export function resampleWide(sorted: Float64Array, seed: number, p: number, b: number, means: Float64Array, pcts: Float64Array): void {
  const n = sorted.length;
  const random = seededRandom(stateAt(seed, b, n));
  const counts = new Uint32Array(n);
  for (let k = 0; k < n; k++) {
    const r = Math.floor(random() * n);
    counts[r] = (counts[r] as number) + 1;
  }
  const rank = (wanted: number) => {
    let seen = 0;
    for (let r = 0; ; r++) {
      seen += counts[r] as number;
      if (seen > wanted) return sorted[r] as number;
    }
  };
  const { lo, hi, t } = percentilePosition(n, p);
  let sum = 0;
  for (let r = 0; r < n; r++) sum += (counts[r] as number) * (sorted[r] as number);
  means[b] = sum / n;
  pcts[b] = lerp(rank(lo), rank(hi), t);
}
