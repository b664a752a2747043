// Chart aggregates for report.html: small, fixed-size summaries of the per-request columns, so the
// report's size does not grow with the run (a million records plot the same few thousand numbers).
// Pure: collector + report in, plain JSON-able data out. Warm-up records are excluded, as everywhere.
//
//   TTFT CDF         ≤ 111 quantile points per arm (P0..P99 by 1, P99.1..P99.9 by 0.1, P100)
//   over time        per-bucket P50/P99 TTFT, P99 send lag per arm, P99 |arm skew|; 1 s buckets,
//                    widened (1, 2, 5, 10, 15, 30, 60 s...) so there are at most MAX_BUCKETS
//   improvement      histogram of baseline − candidate TTFT per ok pair, ≤ 60 bins over P0.5..P99.5
//   similarity       histogram of pair ratios in 50 bins of 0.02, candidate and A/A repeat
import { BASELINE, BASELINE_REPEAT, CANDIDATE } from '../core/record.ts';
import { PRESENT_MEASURED, type ArmColumns, type RunCollector } from '../analysis/collect.ts';
import type { Report } from '../analysis/report.ts';
import { percentileSorted } from '../analysis/stats/stats.ts';

export const MAX_BUCKETS = 2000;
export const MAX_BINS = 60;
const SIMILARITY_BINS = 50;
const OK = 0; // OUTCOME_KINDS[0] === 'ok'

export interface CdfArm {
  arm: string;
  /** TTFT (ms) at each of `probabilities`. */
  values: number[];
  count: number;
}

export interface OverTimeArm {
  arm: string;
  /** Measured requests sent in each bucket. */
  requests: number[];
  ttft_p50_ms: Array<number | null>;
  ttft_p99_ms: Array<number | null>;
  send_lag_p99_ms: Array<number | null>;
}

export interface Histogram {
  /** Bin edges, bins + 1 of them; bin k is [edges[k], edges[k+1]) (the last one closed). */
  edges: number[];
  counts: number[];
  /** Values outside the plotted range, not in `counts`. */
  below: number;
  above: number;
  total: number;
}

export interface ChartData {
  version: 1;
  ttft_cdf: { probabilities: number[]; arms: CdfArm[] };
  over_time: {
    /** Bucket width (s) and each bucket's start (s since run start, by send time). */
    bucket_s: number;
    start_s: number[];
    arms: OverTimeArm[];
    /** P99 of |candidate sent − baseline sent| (ms) per bucket (by the baseline's send time). */
    arm_skew_abs_p99_ms: Array<number | null>;
  };
  /** baseline − candidate TTFT (ms) per ok pair; null without pairs. */
  ttft_improvement: (Histogram & { mean: number; ci_low: number | null; ci_high: number | null }) | null;
  similarity: {
    threshold: number;
    candidate: Histogram | null;
    /** The A/A baseline vs its repeat: the noise floor of output similarity. */
    repeat: Histogram | null;
  };
}

/** Quantile probabilities of the CDF: dense in the tail, where migrations go wrong. */
export const CDF_PROBABILITIES: number[] = [
  ...Array.from({ length: 100 }, (_, k) => k / 100),
  ...Array.from({ length: 9 }, (_, k) => (991 + k) / 1000),
  1,
];

/** Values of column `c` at indices measured on this arm (and ok, when okOnly), NaN skipped. */
function measured(a: ArmColumns, size: number, c: Float64Array, okOnly: boolean): Float64Array {
  const limit = Math.min(size, a.capacity);
  const out = new Float64Array(limit);
  let n = 0;
  for (let i = 0; i < limit; i++) {
    if (a.present[i] !== PRESENT_MEASURED || (okOnly && a.outcome[i] !== OK)) continue;
    const v = c[i] as number;
    if (v === v) out[n++] = v;
  }
  return out.subarray(0, n);
}

/** Rounds for the embedded JSON: 4 decimals is far below any latency resolution that matters. */
const r4 = (v: number): number => Math.round(v * 1e4) / 1e4;

export function ttftCdf(collector: RunCollector, arms: string[]): ChartData['ttft_cdf'] {
  const out: CdfArm[] = [];
  for (const arm of arms) {
    const a = collector.arms.get(arm);
    if (!a) continue;
    const sorted = measured(a, collector.size, a.ttft, true).slice().sort();
    if (sorted.length === 0) continue;
    out.push({ arm, count: sorted.length, values: CDF_PROBABILITIES.map((p) => r4(percentileSorted(sorted, p * 100))) });
  }
  return { probabilities: CDF_PROBABILITIES, arms: out };
}

/** Smallest "nice" bucket width (s) giving at most MAX_BUCKETS buckets over span_s. */
export function bucketWidth(spanS: number, maxBuckets = MAX_BUCKETS): number {
  const nice = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600];
  for (const w of nice) if (Math.floor(spanS / w) + 1 <= maxBuckets) return w;
  return Math.ceil(spanS / (maxBuckets - 1) / 3600) * 3600;
}

/**
 * Percentiles of `values` grouped by `bucket` (−1 = skip): a counting sort by bucket, then each
 * bucket's slice sorted. O(n log n) overall, one extra array.
 */
export function bucketPercentiles(bucket: Int32Array, values: Float64Array, buckets: number, ps: number[]): Array<Array<number | null>> {
  const counts = new Int32Array(buckets + 1);
  for (let i = 0; i < bucket.length; i++) {
    const b = bucket[i] as number;
    if (b >= 0 && values[i] === values[i]) counts[b + 1] = (counts[b + 1] as number) + 1;
  }
  for (let b = 0; b < buckets; b++) counts[b + 1] = (counts[b + 1] as number) + (counts[b] as number);
  const grouped = new Float64Array(counts[buckets] as number);
  const fill = counts.slice(0, buckets);
  for (let i = 0; i < bucket.length; i++) {
    const b = bucket[i] as number;
    const v = values[i] as number;
    if (b < 0 || v !== v) continue;
    grouped[fill[b] as number] = v;
    fill[b] = (fill[b] as number) + 1;
  }
  const out = ps.map(() => new Array<number | null>(buckets).fill(null));
  for (let b = 0; b < buckets; b++) {
    const slice = grouped.subarray(counts[b], counts[b + 1]);
    if (slice.length === 0) continue;
    slice.sort();
    ps.forEach((p, k) => ((out[k] as Array<number | null>)[b] = r4(percentileSorted(slice, p))));
  }
  return out;
}

export function overTime(collector: RunCollector, arms: string[]): ChartData['over_time'] {
  let first = Infinity;
  let last = -Infinity;
  const present = arms.map((arm) => collector.arms.get(arm)).filter((a): a is ArmColumns => a !== undefined);
  for (const a of present) {
    for (let i = 0; i < Math.min(collector.size, a.capacity); i++) {
      const s = a.sentNs[i] as number;
      if (a.present[i] !== PRESENT_MEASURED || s !== s) continue;
      if (s < first) first = s;
      if (s > last) last = s;
    }
  }
  if (first > last) return { bucket_s: 1, start_s: [], arms: [], arm_skew_abs_p99_ms: [] };
  const firstS = first / 1e9;
  const width = bucketWidth(last / 1e9 - firstS);
  const origin = Math.floor(firstS / width) * width;
  const buckets = Math.floor((last / 1e9 - origin) / width) + 1;
  const bucketOf = (a: ArmColumns): Int32Array => {
    const limit = Math.min(collector.size, a.capacity);
    const out = new Int32Array(limit).fill(-1);
    for (let i = 0; i < limit; i++) {
      const s = a.sentNs[i] as number;
      if (a.present[i] === PRESENT_MEASURED && s === s) out[i] = Math.min(buckets - 1, Math.floor((s / 1e9 - origin) / width));
    }
    return out;
  };
  const armSeries: OverTimeArm[] = [];
  for (const a of present) {
    const bucket = bucketOf(a);
    const requests = new Array<number>(buckets).fill(0);
    for (const b of bucket) if (b >= 0) requests[b] = (requests[b] as number) + 1;
    const okTtft = a.ttft.subarray(0, bucket.length).map((v, i) => (a.outcome[i] === OK ? v : Number.NaN));
    const [p50, p99] = bucketPercentiles(bucket, okTtft, buckets, [50, 99]) as [Array<number | null>, Array<number | null>];
    const [lag] = bucketPercentiles(bucket, a.sendLag.subarray(0, bucket.length), buckets, [99]) as [Array<number | null>];
    armSeries.push({ arm: a.arm, requests, ttft_p50_ms: p50, ttft_p99_ms: p99, send_lag_p99_ms: lag });
  }
  let skew: Array<number | null> = new Array<number | null>(buckets).fill(null);
  const base = collector.arms.get(BASELINE);
  const cand = collector.arms.get(CANDIDATE);
  if (base && cand) {
    const bucket = bucketOf(base);
    const abs = new Float64Array(bucket.length).fill(Number.NaN);
    for (let i = 0; i < Math.min(bucket.length, cand.capacity); i++) {
      if (cand.present[i] !== PRESENT_MEASURED) continue;
      // |arm skew| (ms) = |candidate sent − baseline sent|
      abs[i] = Math.abs((cand.sentNs[i] as number) - (base.sentNs[i] as number)) / 1e6;
    }
    [skew] = bucketPercentiles(bucket, abs, buckets, [99]) as [Array<number | null>];
  }
  return {
    bucket_s: width,
    start_s: Array.from({ length: buckets }, (_, b) => r4(origin + b * width)),
    arms: armSeries,
    arm_skew_abs_p99_ms: skew,
  };
}

/** Smallest of 1, 2, 2.5, 5 × 10^k at least `raw`. */
function niceStep(raw: number): number {
  const exp = Math.floor(Math.log10(raw));
  for (const m of [1, 2, 2.5, 5, 10]) {
    const step = m * 10 ** exp;
    if (step >= raw * (1 - 1e-12)) return step;
  }
  return 10 ** (exp + 1);
}

/** Histogram over [P0.5, P99.5] of the values with nice bin edges, ≤ MAX_BINS bins; the tails are counted apart. */
export function histogram(values: Float64Array, maxBins = MAX_BINS): Histogram | null {
  if (values.length === 0) return null;
  const sorted = values.slice().sort();
  let lo = percentileSorted(sorted, 0.5);
  let hi = percentileSorted(sorted, 99.5);
  if (hi - lo < 1e-9) {
    lo -= 0.5;
    hi += 0.5;
  }
  const step = niceStep((hi - lo) / (maxBins - 2));
  const start = Math.floor(lo / step) * step;
  const bins = Math.min(maxBins, Math.max(1, Math.ceil((hi - start) / step - 1e-9)));
  return fixedHistogram(sorted, start, step, bins);
}

/** Histogram with `bins` bins of width `step` from `start`; the last bin includes its upper edge. */
export function fixedHistogram(values: Float64Array, start: number, step: number, bins: number): Histogram {
  const counts = new Array<number>(bins).fill(0);
  const end = start + step * bins;
  let below = 0;
  let above = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i] as number;
    if (v < start) below++;
    else if (v > end + 1e-12 * Math.abs(end)) above++;
    else {
      const b = Math.min(bins - 1, Math.floor((v - start) / step + 1e-9));
      counts[b] = (counts[b] as number) + 1;
    }
  }
  return { edges: Array.from({ length: bins + 1 }, (_, k) => r4(start + k * step)), counts, below, above, total: values.length };
}

/** Per-pair improvement (baseline − candidate TTFT, ms) and similarity ratios, with the pairing rules of report.ts. */
export function pairValues(collector: RunCollector): {
  improvement: Float64Array;
  candidateRatio: Float64Array;
  repeatRatio: Float64Array;
} {
  const base = collector.arms.get(BASELINE);
  const cand = collector.arms.get(CANDIDATE);
  const rep = collector.arms.get(BASELINE_REPEAT);
  const empty = new Float64Array(0);
  if (!base) return { improvement: empty, candidateRatio: empty, repeatRatio: empty };
  const improvement: number[] = [];
  const candidateRatio: number[] = [];
  const repeatRatio: number[] = [];
  const simC = collector.similarity.candidate;
  const simR = collector.similarity.repeat;
  for (let i = 0; i < Math.min(collector.size, base.capacity); i++) {
    if (base.present[i] !== PRESENT_MEASURED) continue;
    if (cand && i < cand.capacity && cand.present[i] === PRESENT_MEASURED && base.outcome[i] === OK && cand.outcome[i] === OK) {
      // improvement = baseline − candidate (ms): positive means the candidate is faster
      const d = (base.ttft[i] as number) - (cand.ttft[i] as number);
      if (d === d) improvement.push(d);
      if (i < simC.length && simC[i] === simC[i]) candidateRatio.push(simC[i] as number);
    }
    if (rep && i < rep.capacity && rep.present[i] === PRESENT_MEASURED && i < simR.length && simR[i] === simR[i])
      repeatRatio.push(simR[i] as number);
  }
  return {
    improvement: Float64Array.from(improvement),
    candidateRatio: Float64Array.from(candidateRatio),
    repeatRatio: Float64Array.from(repeatRatio),
  };
}

/** Every chart's data for report.html. */
export function chartData(collector: RunCollector, report: Report): ChartData {
  const arms = report.arms.map((a) => a.arm);
  const pairs = pairValues(collector);
  const hist = histogram(pairs.improvement);
  const imp = report.comparison.ttft_improvement_ms;
  const sim = (ratios: Float64Array) => (ratios.length === 0 ? null : fixedHistogram(ratios, 0, 1 / SIMILARITY_BINS, SIMILARITY_BINS));
  return {
    version: 1,
    ttft_cdf: ttftCdf(collector, arms),
    over_time: overTime(collector, arms),
    ttft_improvement:
      hist && imp.stats
        ? { ...hist, mean: r4(imp.stats.mean), ci_low: imp.ci ? r4(imp.ci.mean.low) : null, ci_high: imp.ci ? r4(imp.ci.mean.high) : null }
        : null,
    similarity: { threshold: report.similarity.threshold, candidate: sim(pairs.candidateRatio), repeat: sim(pairs.repeatRatio) },
  };
}
