// Server-side figures a client cannot see — prefix/KV-cache hit rate, running / waiting requests,
// KV-cache usage, GPU utilisation — derived from the Prometheus samples the scraper wrote to
// `results/<run>/metrics/<arm>.jsonl` (io/prometheus-scrape.ts). Pure: entries in, figures out.
import { stringify } from 'csv-stringify/sync';

/** Version of the lines in metrics/<arm>.jsonl; readers refuse versions they do not know. */
export const METRICS_FILE_VERSION = 1;

/** Non-finite sample values are kept as the exposition spells them (JSON has no NaN or Infinity). */
export type SampleValue = number | 'NaN' | '+Inf' | '-Inf';

/** One sample line of the exposition: `name{labels} value`. Histogram parts keep their `_bucket` / `_sum` / `_count` names. */
export interface MetricSample {
  name: string;
  labels: Record<string, string>;
  value: SampleValue;
}

interface EntryBase {
  v: typeof METRICS_FILE_VERSION;
  arm: string;
  /** Attempt number, 0-based, counting gaps. */
  seq: number;
  /** When the scrape started: monotonic nanoseconds since run start (same origin as the records). */
  mono_ns: number;
  /** When the scrape started, wall clock (ISO-8601). */
  wall: string;
  /** How long the fetch and parse took, ms. */
  duration_ms: number;
}

/** A successful scrape. */
export interface ScrapeSample extends EntryBase {
  kind: 'scrape';
  samples: MetricSample[];
}

/** A failed scrape: the target was down, slow, answered an error status, or sent something that is not Prometheus text. */
export interface ScrapeGap extends EntryBase {
  kind: 'gap';
  error: string;
}

export type ScrapeEntry = ScrapeSample | ScrapeGap;

/**
 * Reads the lines of one metrics/<arm>.jsonl. A bad line throws `file:line: what is wrong`;
 * an unterminated, unparseable last line (the writer was stopped mid-write) is skipped and reported.
 */
export function parseMetricsLines(text: string, file: string): { entries: ScrapeEntry[]; warnings: string[] } {
  const entries: ScrapeEntry[] = [];
  const warnings: string[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i] as string;
    if (raw.trim() === '') continue;
    const where = `${file}:${i + 1}`;
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch (error) {
      if (i === lines.length - 1) {
        warnings.push(`${where}: last line is incomplete; ignored (the scraper was probably stopped while writing)`);
        continue;
      }
      throw new Error(`${where}: not valid JSON (${(error as Error).message})`);
    }
    const problem = entryError(value);
    if (problem) throw new Error(`${where}: ${problem}`);
    entries.push(value as ScrapeEntry);
  }
  return { entries, warnings };
}

function entryError(value: unknown): string | null {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'expected a JSON object';
  const e = value as Record<string, unknown>;
  if (e.v !== METRICS_FILE_VERSION) return `unknown metrics line version ${JSON.stringify(e.v)} (this build reads ${METRICS_FILE_VERSION})`;
  if (e.kind !== 'scrape' && e.kind !== 'gap') return `kind: expected "scrape" or "gap", got ${JSON.stringify(e.kind)}`;
  if (typeof e.arm !== 'string') return 'arm: expected a string';
  if (!Number.isSafeInteger(e.mono_ns)) return 'mono_ns: expected integer nanoseconds';
  if (e.kind === 'gap') return typeof e.error === 'string' ? null : 'error: expected a string';
  if (!Array.isArray(e.samples)) return 'samples: expected an array';
  for (const s of e.samples as unknown[]) {
    const sample = s as Record<string, unknown> | null;
    if (typeof sample !== 'object' || sample === null || typeof sample.name !== 'string' || typeof sample.labels !== 'object') {
      return 'samples: each sample needs a name, labels and a value';
    }
    const v = sample.value;
    if (!(typeof v === 'number' || v === 'NaN' || v === '+Inf' || v === '-Inf')) return `samples: bad value ${JSON.stringify(v)} for ${sample.name}`;
  }
  return null;
}

/**
 * Metric names looked up, first match wins per scrape. vLLM V1 names first, then the V0 names of
 * older releases (`gpu_` prefixes), so baselines on older vLLM still report. Dynamo's vLLM workers
 * expose the same `vllm:` names; GPU utilisation comes from NVIDIA's DCGM exporter.
 */
export const SERVER_METRIC_NAMES = {
  prefixCacheQueries: ['vllm:prefix_cache_queries_total', 'vllm:prefix_cache_queries', 'vllm:gpu_prefix_cache_queries_total', 'vllm:gpu_prefix_cache_queries'],
  prefixCacheHits: ['vllm:prefix_cache_hits_total', 'vllm:prefix_cache_hits', 'vllm:gpu_prefix_cache_hits_total', 'vllm:gpu_prefix_cache_hits'],
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
  s.name + '{' + Object.keys(s.labels).sort().map((k) => `${k}=${JSON.stringify(s.labels[k])}`).join(',') + '}';

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

/** Column order of server-metrics.csv (one row per arm). */
export const SERVER_METRICS_COLUMNS = [
  'arm',
  'scrapes',
  'gaps',
  'span_s',
  'prefix_cache_queries',
  'prefix_cache_hits',
  'prefix_cache_hit_rate',
  'requests_running_mean',
  'requests_running_max',
  'requests_waiting_mean',
  'requests_waiting_max',
  'kv_cache_usage_pct_mean',
  'kv_cache_usage_pct_max',
  'gpu_utilization_pct_mean',
  'gpu_utilization_pct_max',
  'gpus',
] as const;

/** One CSV row per arm, in SERVER_METRICS_COLUMNS order; null = not exposed by the server (empty cell). */
export function serverMetricsRows(all: readonly ServerMetrics[]): Array<Array<string | number | null>> {
  return all.map((m) => [
    m.arm,
    m.scrapes,
    m.gaps,
    m.span_s,
    m.prefix_cache?.queries ?? null,
    m.prefix_cache?.hits ?? null,
    m.prefix_cache?.hit_rate ?? null,
    m.requests_running?.mean ?? null,
    m.requests_running?.max ?? null,
    m.requests_waiting?.mean ?? null,
    m.requests_waiting?.max ?? null,
    m.kv_cache_usage_pct?.mean ?? null,
    m.kv_cache_usage_pct?.max ?? null,
    m.gpu_utilization_pct?.mean ?? null,
    m.gpu_utilization_pct?.max ?? null,
    m.gpu_utilization_pct?.gpus ?? null,
  ]);
}

/** server-metrics.csv as a string (header + one row per arm). */
export function serverMetricsCsv(all: readonly ServerMetrics[]): string {
  return stringify([[...SERVER_METRICS_COLUMNS], ...serverMetricsRows(all)], { cast: { number: (n) => String(round(n)) } });
}

/** Rounds to 6 significant digits for display and CSV, so float noise does not reach golden files. */
export function round(n: number): number {
  return Number.isFinite(n) ? Number(n.toPrecision(6)) : n;
}

/** Lines for the terminal / report: one figure per line, arms side by side. Missing figures read "not exposed". */
export function formatServerMetrics(all: readonly ServerMetrics[]): string[] {
  // Terminal figures: one decimal below 100, whole numbers above (CSV and summary.json keep 6 digits).
  const figure = (n: number) => (Math.abs(n) >= 100 || Number.isInteger(n) ? n.toFixed(0) : n.toFixed(1));
  const fmt = (n: number | null | undefined, unit = '') => (n === null || n === undefined ? 'not exposed' : `${figure(n)}${unit}`);
  const rows: Array<[string, (m: ServerMetrics) => string]> = [
    ['scrapes (gaps)', (m) => `${m.scrapes} (${m.gaps})`],
    ['prefix-cache hit rate', (m) => (m.prefix_cache?.hit_rate == null ? 'not exposed' : `${figure(m.prefix_cache.hit_rate * 100)} %`)],
    ['running requests mean / max', (m) => `${fmt(m.requests_running?.mean)} / ${fmt(m.requests_running?.max)}`],
    ['waiting requests mean / max', (m) => `${fmt(m.requests_waiting?.mean)} / ${fmt(m.requests_waiting?.max)}`],
    ['KV-cache usage mean / max', (m) => `${fmt(m.kv_cache_usage_pct?.mean, ' %')} / ${fmt(m.kv_cache_usage_pct?.max, ' %')}`],
    ['GPU utilisation mean / max', (m) => `${fmt(m.gpu_utilization_pct?.mean, ' %')} / ${fmt(m.gpu_utilization_pct?.max, ' %')}`],
  ];
  const width = Math.max(...rows.map(([label]) => label.length)) + 2;
  const header = ''.padEnd(width) + all.map((m) => m.arm.padEnd(28)).join('');
  return [header.trimEnd(), ...rows.map(([label, get]) => (label.padEnd(width) + all.map((m) => get(m).padEnd(28)).join('')).trimEnd())];
}
