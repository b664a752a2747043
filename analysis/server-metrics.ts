// Server-side figures a client cannot see — prefix/KV-cache hit rate, running / waiting requests,
// KV-cache usage, GPU utilisation — derived from the Prometheus samples the scraper wrote to
// `results/<run>/metrics/<arm>.jsonl` (io/prometheus-scrape.ts). Pure: entries in, figures out.

import type { MetricSample, SampleValue, ScrapeEntry, ScrapeGap, ScrapeSample } from '../core/scrape-entry.ts';

/**
 * Metric names looked up, first match wins per scrape. vLLM V1 names first, then the V0 names of
 * older releases (`gpu_` prefixes), so baselines on older vLLM still report. Dynamo's vLLM workers
 * expose the same `vllm:` names; GPU utilisation comes from NVIDIA's DCGM exporter.
 */
export const SERVER_METRIC_NAMES = {
  prefixCacheQueries: [
    'vllm:prefix_cache_queries_total',
    'vllm:prefix_cache_queries',
    'vllm:gpu_prefix_cache_queries_total',
    'vllm:gpu_prefix_cache_queries',
  ],
  prefixCacheHits: [
    'vllm:prefix_cache_hits_total',
    'vllm:prefix_cache_hits',
    'vllm:gpu_prefix_cache_hits_total',
    'vllm:gpu_prefix_cache_hits',
  ],
  requestsRunning: ['vllm:num_requests_running'],
  requestsWaiting: ['vllm:num_requests_waiting'],
  /** A fraction 0..1 despite the "perc" in the name (vLLM documents 1 = 100 %). */
  kvCacheUsage: ['vllm:kv_cache_usage_perc', 'vllm:gpu_cache_usage_perc'],
  /** Percent 0..100, one series per GPU (label `gpu`). */
  gpuUtilization: ['DCGM_FI_DEV_GPU_UTIL'],
} as const;

export interface GaugeStats {
  /** Mean over successful scrapes (scrapes are evenly spaced, so this approximates the time average). */
  mean: number;
  max: number;
  /** Scrapes that carried the metric. */
  samples: number;
}

export interface ServerMetrics {
  arm: string;
  /** Successful scrapes. */
  scrapes: number;
  /** Failed scrapes (target down, error status, unparseable body). */
  gaps: number;
  /** The failed scrapes, in order, with their error messages. */
  gap_list: Array<{ mono_ns: number; wall: string; error: string }>;
  /** Seconds between the first and last successful scrape; null with fewer than two. */
  span_s: number | null;
  /** Increase of the prefix-cache counters over the run (tokens, in vLLM V1), and hits / queries. */
  prefix_cache: { queries: number; hits: number; hit_rate: number | null } | null;
  /** Requests in the running batch, summed over engines / models. */
  requests_running: GaugeStats | null;
  /** Requests queued, summed over engines / models. */
  requests_waiting: GaugeStats | null;
  /** KV-cache blocks in use, percent, averaged over engines. */
  kv_cache_usage_pct: GaugeStats | null;
  /** GPU utilisation, percent, averaged over GPUs at each scrape; `gpus` = most GPUs seen in one scrape. */
  gpu_utilization_pct: (GaugeStats & { gpus: number }) | null;
}

const finite = (v: SampleValue): v is number => typeof v === 'number' && Number.isFinite(v);

/** Samples of the first name in `names` present in this scrape (finite values only). */
function pick(scrape: ScrapeSample, names: readonly string[]): MetricSample[] {
  for (const name of names) {
    const found = scrape.samples.filter((s) => s.name === name && finite(s.value));
    if (found.length > 0) return found;
  }
  return [];
}

const seriesKey = (s: MetricSample): string =>
  s.name +
  '{' +
  Object.keys(s.labels)
    .sort()
    .map((k) => `${k}=${JSON.stringify(s.labels[k])}`)
    .join(',') +
  '}';

/**
 * Increase of a counter over the scrapes, summed over its series.
 * Per series: Σ (v_i − v_{i−1}) over consecutive observations; when v_i < v_{i−1} the counter
 * was reset (server restart), so the increase since the reset is v_i itself. A series first seen
 * mid-run counts from its first observation. Null when no scrape carried the counter.
 */
export function counterIncrease(scrapes: readonly ScrapeSample[], names: readonly string[]): number | null {
  const last = new Map<string, number>();
  let increase = 0;
  let seen = false;
  for (const scrape of scrapes) {
    for (const s of pick(scrape, names)) {
      seen = true;
      const value = s.value as number;
      const key = seriesKey(s);
      const previous = last.get(key);
      if (previous !== undefined) increase += value >= previous ? value - previous : value;
      last.set(key, value);
    }
  }
  return seen ? increase : null;
}

/** Mean and max over scrapes of a per-scrape figure (combine = how the scrape's series make one number). */
function gaugeStats(scrapes: readonly ScrapeSample[], names: readonly string[], combine: 'sum' | 'mean', scale = 1): GaugeStats | null {
  let total = 0;
  let max = -Infinity;
  let count = 0;
  for (const scrape of scrapes) {
    const found = pick(scrape, names);
    if (found.length === 0) continue;
    const sum = found.reduce((acc, s) => acc + (s.value as number), 0);
    const value = (combine === 'sum' ? sum : sum / found.length) * scale;
    total += value;
    max = Math.max(max, value);
    count++;
  }
  return count === 0 ? null : { mean: total / count, max, samples: count };
}

/** Derives one arm's server figures from its scrape entries (any order; sorted by mono_ns here). */
export function deriveServerMetrics(arm: string, entries: readonly ScrapeEntry[]): ServerMetrics {
  const ordered = [...entries].sort((a, b) => a.mono_ns - b.mono_ns);
  const scrapes = ordered.filter((e): e is ScrapeSample => e.kind === 'scrape');
  const gaps = ordered.filter((e): e is ScrapeGap => e.kind === 'gap');
  const first = scrapes[0];
  const last = scrapes[scrapes.length - 1];
  // prefix-cache hit rate = Δhits / Δqueries over the run (unitless, 0..1); null when nothing was queried
  const queries = counterIncrease(scrapes, SERVER_METRIC_NAMES.prefixCacheQueries);
  const hits = counterIncrease(scrapes, SERVER_METRIC_NAMES.prefixCacheHits);
  const prefixCache = queries === null || hits === null ? null : { queries, hits, hit_rate: queries > 0 ? hits / queries : null };
  const gpu = gaugeStats(scrapes, SERVER_METRIC_NAMES.gpuUtilization, 'mean');
  const gpus = Math.max(0, ...scrapes.map((s) => pick(s, SERVER_METRIC_NAMES.gpuUtilization).length));
  return {
    arm,
    scrapes: scrapes.length,
    gaps: gaps.length,
    gap_list: gaps.map((g) => ({ mono_ns: g.mono_ns, wall: g.wall, error: g.error })),
    span_s: first && last && scrapes.length >= 2 ? (last.mono_ns - first.mono_ns) / 1e9 : null,
    prefix_cache: prefixCache,
    // running / waiting requests: Σ over series (engines, models) at each scrape; count
    requests_running: gaugeStats(scrapes, SERVER_METRIC_NAMES.requestsRunning, 'sum'),
    requests_waiting: gaugeStats(scrapes, SERVER_METRIC_NAMES.requestsWaiting, 'sum'),
    // KV-cache usage % = 100 × mean over engines of vllm:kv_cache_usage_perc (a 0..1 fraction)
    kv_cache_usage_pct: gaugeStats(scrapes, SERVER_METRIC_NAMES.kvCacheUsage, 'mean', 100),
    // GPU utilisation % = mean over GPUs of DCGM_FI_DEV_GPU_UTIL at each scrape, then mean / max over scrapes
    gpu_utilization_pct: gpu ? { ...gpu, gpus } : null,
  };
}

/** Rounds to 6 significant digits for display and CSV, so float noise does not reach golden files. */
export function round(n: number): number {
  return Number.isFinite(n) ? Number(n.toPrecision(6)) : n;
}
