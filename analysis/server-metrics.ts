// Server-side figures a client cannot see — prefix/KV-cache hit rate, running / waiting / in-flight
// requests, KV-cache usage, GPU utilisation, server-side TTFT / ITL distributions — derived from the
// Prometheus samples the scraper wrote to `results/<run>/metrics/<arm>.jsonl`
// (io/prometheus-scrape.ts). Pure: entries in, figures out.
//
// An arm may be scraped at several targets (a Dynamo frontend, each worker pod's system port, a
// node's DCGM exporter). As in Prometheus, which adds `instance` to every series, a series is
// identified by its target *and* its name and labels: two Dynamo worker pods both expose
// `vllm:prefix_cache_hits_total{engine="0",model_name=...}` and kvstats with identical labels, and
// must never be read as one series (which would turn every alternation into a counter reset).

import { matches, parseSelector, SelectorError, type Matcher } from '../core/metrics-selector.ts';
import { SERVER_HISTOGRAM_NAMES, type MetricSample, type ScrapeEntry, type ScrapeGap, type ScrapeSample } from '../core/scrape-entry.ts';

/** What a target exposes: Dynamo frontend, an engine (vLLM, Dynamo worker system port), a DCGM exporter. */
export type Role = 'frontend' | 'worker' | 'dcgm';

type Agg =
  /** Σ over (target, series) of the reset-aware increase over the run. */
  | 'counter-increase'
  /** Per scrape round: Σ over (target, series); then mean / max over rounds. */
  | 'count-sum'
  /** Per round: Σ used blocks ÷ Σ total blocks over targets; the mean of the fractions where blocks are not exposed. */
  | 'fraction-weighted'
  /** Per round: mean over (target, series). */
  | 'fraction-mean'
  /** Per round: mean over GPUs (target + UUID or gpu), after the target's selector. */
  | 'gpu-mean'
  /** Σ bucket increases by `le` over (target, series), then Prometheus' histogram_quantile. */
  | 'histogram-quantiles';

interface MetricSpec {
  /** Names in priority order: on each target the first one it exposes is read (old and new vLLM targets add up). */
  names: readonly string[];
  role: Role;
  agg: Agg;
}

const H = SERVER_HISTOGRAM_NAMES;

/**
 * Every figure, its metric names and its aggregation rule, written once. Sources: vLLM V1
 * `vllm/v1/metrics/loggers.py` (PrometheusStatLogger; counters render as `_total`, older releases
 * as `gpu_`-prefixed names); Dynamo `lib/runtime/src/metrics/prometheus_names.rs` and
 * `docs/observability/metrics.md` (frontend_service, kvstats — spelt without `kvstats_` in newer
 * releases); dcgm-exporter `etc/default-counters.csv`.
 */
export const SERVER_METRICS = {
  /** Prefix-cache tokens queried / served from cache (vLLM V1 counts tokens); hit rate = Σhits ÷ Σqueries. */
  prefixCacheQueries: {
    names: [
      'vllm:prefix_cache_queries_total',
      'vllm:prefix_cache_queries',
      'vllm:gpu_prefix_cache_queries_total',
      'vllm:gpu_prefix_cache_queries',
    ],
    role: 'worker',
    agg: 'counter-increase',
  },
  prefixCacheHits: {
    names: ['vllm:prefix_cache_hits_total', 'vllm:prefix_cache_hits', 'vllm:gpu_prefix_cache_hits_total', 'vllm:gpu_prefix_cache_hits'],
    role: 'worker',
    agg: 'counter-increase',
  },
  /** Dynamo's own hit-rate gauge: only when no counters are exposed, and said to be approximate (a mean of per-worker rates). */
  prefixCacheHitRateGauge: {
    names: ['dynamo_component_kvstats_gpu_prefix_cache_hit_rate'],
    role: 'worker',
    agg: 'fraction-mean',
  },
  /**
   * KV connector (cross-instance / offload) cache: its own rate, never folded into the local one
   * (its queries may overlap the local queries).
   */
  externalPrefixCacheQueries: { names: ['vllm:external_prefix_cache_queries_total'], role: 'worker', agg: 'counter-increase' },
  externalPrefixCacheHits: { names: ['vllm:external_prefix_cache_hits_total'], role: 'worker', agg: 'counter-increase' },
  requestsRunning: { names: ['vllm:num_requests_running'], role: 'worker', agg: 'count-sum' },
  requestsWaiting: { names: ['vllm:num_requests_waiting'], role: 'worker', agg: 'count-sum' },
  /** Dynamo frontend: from the HTTP handler's start until the response is complete. */
  inflight: { names: ['dynamo_frontend_inflight_requests'], role: 'frontend', agg: 'count-sum' },
  /** Dynamo frontend: from the handler's start until the first token (so it includes prefill). */
  queued: { names: ['dynamo_frontend_queued_requests'], role: 'frontend', agg: 'count-sum' },
  frontendRequests: { names: ['dynamo_frontend_requests_total'], role: 'frontend', agg: 'counter-increase' },
  /** KV blocks in use / available per worker (Dynamo kvstats; newer releases drop `kvstats_` and `active_blocks`). */
  kvUsedBlocks: { names: ['dynamo_component_kvstats_active_blocks'], role: 'worker', agg: 'fraction-weighted' },
  kvTotalBlocks: {
    names: ['dynamo_component_kvstats_total_blocks', 'dynamo_component_total_blocks'],
    role: 'worker',
    agg: 'fraction-weighted',
  },
  /** A 0..1 fraction despite "perc" (vLLM: "1 means 100 percent usage"); Dynamo's is 0.0-1.0 too. */
  kvUsage: {
    names: [
      'dynamo_component_kvstats_gpu_cache_usage_percent',
      'dynamo_component_gpu_cache_usage_percent',
      'vllm:kv_cache_usage_perc',
      'vllm:gpu_cache_usage_perc',
    ],
    role: 'worker',
    agg: 'fraction-weighted',
  },
  /** Percent 0..100, one series per GPU. */
  gpuUtilization: { names: ['DCGM_FI_DEV_GPU_UTIL'], role: 'dcgm', agg: 'gpu-mean' },
  /** Server-side histograms, seconds (tokens for the lengths): the frontend's where exposed, else the engines'. */
  ttft: { names: [H[0], H[5]], role: 'frontend', agg: 'histogram-quantiles' },
  itl: { names: [H[1], H[6], H[7]], role: 'frontend', agg: 'histogram-quantiles' },
  requestDuration: { names: [H[2], H[8]], role: 'frontend', agg: 'histogram-quantiles' },
  inputTokens: { names: [H[3]], role: 'frontend', agg: 'histogram-quantiles' },
  outputTokens: { names: [H[4]], role: 'frontend', agg: 'histogram-quantiles' },
} as const satisfies Record<string, MetricSpec>;

/** Kept for callers of the first version: figure → names. */
export const SERVER_METRIC_NAMES = Object.fromEntries(Object.entries(SERVER_METRICS).map(([k, v]) => [k, v.names])) as {
  [K in keyof typeof SERVER_METRICS]: (typeof SERVER_METRICS)[K]['names'];
};

export interface GaugeStats {
  /** Mean over scrape rounds (rounds are evenly spaced, so this approximates the time average). */
  mean: number;
  max: number;
  /** Rounds that carried the metric on every target that exposes it. */
  samples: number;
}

/** Where a figure came from: the role of the targets, the metric name(s) read, how many targets. */
export interface FigureSource {
  role: Role;
  names: string[];
  targets: number;
  /** How it was combined when that is not obvious (e.g. 'blocks', 'mean', 'gauge'). */
  method?: string;
}

export interface ServerQuantiles {
  /** Milliseconds for latencies, tokens for lengths. */
  p50: number | null;
  p99: number | null;
  mean: number | null;
  /** Observations over the run. */
  count: number;
  /** The buckets P50 / P99 fall in (their lower and upper bounds), in the figure's unit: the resolution. */
  p50_bucket: [number, number] | null;
  p99_bucket: [number, number] | null;
  /** Targets had different bucket layouts; their common bounds were used. */
  coarsened: boolean;
}

export interface ServerMetrics {
  arm: string;
  /** Successful scrapes (over all targets). */
  scrapes: number;
  /** Failed scrapes (target down, error status, unparseable body). */
  gaps: number;
  /** The failed scrapes, in order, with their error messages. */
  gap_list: Array<{ mono_ns: number; wall: string; error: string }>;
  /** Seconds between the first and last successful scrape; null with fewer than two. */
  span_s: number | null;
  /** The arm's scrape targets. */
  targets?: Array<{ index: number; instance: string; roles: Role[]; selector: string; scrapes: number; gaps: number }>;
  /** Increase of the prefix-cache counters over the run (tokens, in vLLM V1), and hits / queries; or Dynamo's gauge (queries / hits null). */
  prefix_cache: { queries: number | null; hits: number | null; hit_rate: number | null } | null;
  /** KV-connector (external) prefix cache, counted apart. */
  external_prefix_cache?: { queries: number; hits: number; hit_rate: number | null } | null;
  /** Requests in the running batch, summed over engines and targets at each round. */
  requests_running: GaugeStats | null;
  /** Requests queued, summed over engines and targets. */
  requests_waiting: GaugeStats | null;
  /** Dynamo frontend in-flight / queued requests, summed over frontends. */
  inflight?: GaugeStats | null;
  queued?: GaugeStats | null;
  /** Dynamo frontend requests over the run, by `status` label. */
  requests?: Record<string, number> | null;
  /** KV-cache usage, percent: Σ used ÷ Σ total blocks where exposed ('blocks'), else the mean of the engines' fractions ('mean'). */
  kv_cache_usage_pct: (GaugeStats & { method: 'blocks' | 'mean' }) | null;
  /** GPU utilisation, percent, averaged over the selected GPUs at each round; `gpus` = most GPUs seen in one round. */
  gpu_utilization_pct: (GaugeStats & { gpus: number }) | null;
  ttft_server_ms?: ServerQuantiles | null;
  itl_server_ms?: ServerQuantiles | null;
  request_duration_server_ms?: ServerQuantiles | null;
  input_tokens?: ServerQuantiles | null;
  output_tokens?: ServerQuantiles | null;
  /** Figure → where it came from. */
  sources?: Record<string, FigureSource>;
  warnings?: string[];
}

// ---------------------------------------------------------------------------------------------
// Series store: per target, its scrapes after its selector, `pid` dropped.

interface Target {
  index: number;
  instance: string;
  selector: string;
  roles: Set<Role>;
  /** Successful scrapes in time order, samples after the selector (raw kept for the warnings). */
  scrapes: Array<{ round: number; mono_ns: number; samples: MetricSample[]; raw: MetricSample[] }>;
  gaps: number;
  /** Rounds this target's scrapes covered, for carry-forward. */
}

const finite = (v: MetricSample['value']): v is number => typeof v === 'number' && Number.isFinite(v);

/** Labels as a key, sorted, without `pid` (and without `le` when asked). */
function labelKey(labels: Readonly<Record<string, string>>, drop: readonly string[] = []): string {
  return Object.keys(labels)
    .filter((k) => k !== 'pid' && !drop.includes(k))
    .sort()
    .map((k) => `${k}=${JSON.stringify(labels[k])}`)
    .join(',');
}

/**
 * vLLM multiprocess mode (several API servers, prometheus_client MultiProcessCollector) adds a
 * `pid` label to gauges in mode 'all' (vllm:kv_cache_usage_perc on some releases, every gauge on
 * old clients): replicas of one value, so `pid` is dropped and colliding samples collapse to their
 * max. Counters never carry pid (they are summed by the collector), so no counter is merged here.
 */
function dropPid(samples: readonly MetricSample[]): MetricSample[] {
  if (!samples.some((s) => 'pid' in s.labels)) return samples as MetricSample[];
  const out = new Map<string, MetricSample>();
  for (const s of samples) {
    if (!('pid' in s.labels)) {
      out.set(`${s.name}{${labelKey(s.labels)}}`, s);
      continue;
    }
    const labels = { ...s.labels };
    delete labels.pid;
    const key = `${s.name}{${labelKey(labels)}}`;
    const previous = out.get(key);
    if (previous === undefined || (finite(s.value) && (!finite(previous.value) || s.value > previous.value)))
      out.set(key, { name: s.name, labels, value: s.value });
  }
  return [...out.values()];
}

function rolesOf(samples: readonly MetricSample[]): Set<Role> {
  const roles = new Set<Role>();
  for (const s of samples) {
    if (s.name.startsWith('dynamo_frontend_')) roles.add('frontend');
    else if (s.name.startsWith('vllm:') || s.name.startsWith('dynamo_component_kvstats_') || s.name === 'dynamo_component_total_blocks')
      roles.add('worker');
    else if (s.name.startsWith('DCGM_FI_')) roles.add('dcgm');
  }
  return roles;
}

function intervalNs(entries: readonly ScrapeEntry[]): number {
  const given = entries.find((e) => typeof e.interval_ms === 'number')?.interval_ms;
  if (given !== undefined && given > 0) return given * 1e6;
  // v1 files: the median step between one target's consecutive scrapes
  const byTarget = new Map<number, number[]>();
  for (const e of entries) {
    const list = byTarget.get(e.target?.index ?? 1) ?? [];
    list.push(e.mono_ns);
    byTarget.set(e.target?.index ?? 1, list);
  }
  const steps: number[] = [];
  for (const list of byTarget.values()) for (let i = 1; i < list.length; i++) steps.push((list[i] as number) - (list[i - 1] as number));
  steps.sort((a, b) => a - b);
  return steps.length > 0 ? Math.max(1, steps[Math.floor(steps.length / 2)] as number) : 2e9;
}

function buildTargets(ordered: readonly ScrapeEntry[], warnings: string[], arm: string): Target[] {
  const interval = intervalNs(ordered);
  const targets = new Map<number, Target & { matchers: Matcher[] }>();
  for (const e of ordered) {
    const index = e.target?.index ?? 1;
    let t = targets.get(index);
    if (t === undefined) {
      let matchers: Matcher[] = [];
      const selector = e.selector ?? '';
      if (selector !== '') {
        try {
          matchers = parseSelector(selector);
        } catch (error) {
          if (!(error instanceof SelectorError)) throw error;
          warnings.push(`${arm}: target ${e.target?.instance ?? index}: selector ${selector} ignored: ${error.message}`);
        }
      }
      t = { index, instance: e.target?.instance ?? `target ${index}`, selector, roles: new Set(), scrapes: [], gaps: 0, matchers };
      targets.set(index, t);
    }
    if (e.kind === 'gap') {
      t.gaps++;
      continue;
    }
    const raw = dropPid(e.samples);
    if (t.scrapes.length === 0) t.roles = rolesOf(raw);
    const samples = t.matchers.length === 0 ? raw : raw.filter((s) => matches(s.labels, t.matchers));
    const round = Math.round(e.mono_ns / interval);
    const last = t.scrapes[t.scrapes.length - 1];
    // two scrapes in one round (the final scrape at stop): the later one stands for the round
    if (last !== undefined && last.round === round) t.scrapes.pop();
    t.scrapes.push({ round, mono_ns: e.mono_ns, samples, raw });
  }
  return [...targets.values()].sort((a, b) => a.index - b.index);
}

/** The first of `names` that target `t` exposes in any scrape, or null. */
function nameOn(t: Target, names: readonly string[]): string | null {
  for (const name of names) if (t.scrapes.some((s) => s.samples.some((x) => x.name === name && finite(x.value)))) return name;
  return null;
}

const of = (scrape: Target['scrapes'][number], name: string): MetricSample[] =>
  scrape.samples.filter((s) => s.name === name && finite(s.value));

// ---------------------------------------------------------------------------------------------
// Counters

/**
 * Reset-aware increase of one series: Σ (v_i − v_{i−1}); when v_i < v_{i−1} the counter was reset
 * (a restart), so the increase since the reset is v_i itself. A series missing from its target's
 * earlier scrapes was created since (a label value seen for the first time), so it counts from 0.
 */
function seriesIncrease(values: readonly number[]): number {
  let increase = 0;
  for (let i = 1; i < values.length; i++) {
    const v = values[i] as number;
    const p = values[i - 1] as number;
    increase += v >= p ? v - p : v;
  }
  return increase;
}

/** Per target, per series: its values in time order (the first name of `names` the target exposes). */
function seriesOf(targets: readonly Target[], names: readonly string[], drop: readonly string[] = []): Map<string, number[]> {
  const series = new Map<string, number[]>();
  for (const t of targets) {
    const name = nameOn(t, names);
    if (name === null) continue;
    for (const [i, scrape] of t.scrapes.entries()) {
      for (const s of of(scrape, name)) {
        const key = `${t.index}|${labelKey(s.labels, drop)}`;
        // a series absent from this target's earlier scrapes was created since: it started at 0
        const list = series.get(key) ?? (i > 0 ? [0] : []);
        list.push(s.value as number);
        series.set(key, list);
      }
    }
  }
  return series;
}

/**
 * Increase of a counter over the run: per series per target (reset-aware), summed over series and
 * targets. Null when no target carries it. Accepts bare scrape lists too (one target).
 */
export function counterIncrease(scrapesOrTargets: readonly ScrapeSample[] | readonly Target[], names: readonly string[]): number | null {
  const targets = isTargets(scrapesOrTargets) ? scrapesOrTargets : buildTargets(scrapesOrTargets, [], '');
  const series = seriesOf(targets, names);
  if (series.size === 0) return null;
  let total = 0;
  for (const values of series.values()) total += seriesIncrease(values);
  return total;
}

const isTargets = (x: readonly ScrapeSample[] | readonly Target[]): x is readonly Target[] => x.length > 0 && 'roles' in (x[0] as object);

function counterBy(targets: readonly Target[], names: readonly string[], label: string): Record<string, number> | null {
  const out: Record<string, number> = {};
  let seen = false;
  for (const t of targets) {
    const name = nameOn(t, names);
    if (name === null) continue;
    const series = new Map<string, { by: string; values: number[] }>();
    for (const [i, scrape] of t.scrapes.entries())
      for (const s of of(scrape, name)) {
        const key = labelKey(s.labels);
        const entry = series.get(key) ?? { by: s.labels[label] ?? '', values: i > 0 ? [0] : [] };
        entry.values.push(s.value as number);
        series.set(key, entry);
      }
    for (const { by, values } of series.values()) {
      seen = true;
      out[by] = (out[by] ?? 0) + seriesIncrease(values);
    }
  }
  return seen ? out : null;
}

// ---------------------------------------------------------------------------------------------
// Rounds: per-round values of several targets, a target's gap bridged by its previous value when
// that is at most two rounds old; a round still missing a target is left out.

const CARRY_ROUNDS = 2;

function roundStats<T>(
  targets: readonly Target[],
  /** The target's value in one scrape, or null when the scrape lacks it. */
  valueOf: (t: Target, scrape: Target['scrapes'][number]) => T | null,
  combine: (values: T[]) => number | null,
): (GaugeStats & { targets: number }) | null {
  const perTarget: Array<Map<number, T>> = [];
  for (const t of targets) {
    const m = new Map<number, T>();
    for (const scrape of t.scrapes) {
      const v = valueOf(t, scrape);
      if (v !== null) m.set(scrape.round, v);
    }
    if (m.size > 0) perTarget.push(m);
  }
  if (perTarget.length === 0) return null;
  const rounds = [...new Set(perTarget.flatMap((m) => [...m.keys()]))].sort((a, b) => a - b);
  let total = 0;
  let max = -Infinity;
  let count = 0;
  for (const round of rounds) {
    const values: T[] = [];
    let complete = true;
    for (const m of perTarget) {
      let v = m.get(round);
      for (let back = 1; v === undefined && back <= CARRY_ROUNDS; back++) v = m.get(round - back);
      if (v === undefined) {
        complete = false;
        break;
      }
      values.push(v);
    }
    if (!complete) continue;
    const value = combine(values);
    if (value === null) continue;
    total += value;
    max = Math.max(max, value);
    count++;
  }
  return count === 0 ? null : { mean: total / count, max, samples: count, targets: perTarget.length };
}

const sum = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0);

/** count-sum: Σ over the target's series of its first exposed name, then Σ over targets per round. */
function countSum(targets: readonly Target[], names: readonly string[]) {
  const chosen = new Map(targets.map((t) => [t.index, nameOn(t, names)]));
  return roundStats(
    targets,
    (t, scrape) => {
      const name = chosen.get(t.index);
      if (!name) return null;
      const found = of(scrape, name);
      return found.length === 0 ? null : sum(found.map((s) => s.value as number));
    },
    sum,
  );
}

/** The names a figure read, over targets (for the source line). */
function namesUsed(targets: readonly Target[], names: readonly string[]): string[] {
  return [...new Set(targets.map((t) => nameOn(t, names)).filter((n): n is string => n !== null))];
}

// ---------------------------------------------------------------------------------------------
// Histograms: Prometheus' histogram_quantile over the run's bucket increases.

export interface Bucket {
  upperBound: number;
  count: number;
}

/**
 * A port of Prometheus' `BucketQuantile` (prometheus/prometheus:promql/quantile.go): "The quantile
 * value is interpolated assuming a linear distribution within a bucket. However, if the quantile
 * falls into the highest bucket, the upper bound of the 2nd highest bucket is returned. A natural
 * lower bound of 0 is assumed if the upper bound of the lowest bucket is greater 0. In that case,
 * interpolation in the lowest bucket happens linearly between 0 and the upper bound of the lowest
 * bucket. However, if the lowest bucket has an upper bound less or equal 0, this upper bound is
 * returned if the quantile falls into the lowest bucket." Buckets are cumulative; the last must be
 * +Inf. Also returns the bucket the quantile fell in.
 */
export function bucketQuantile(q: number, input: readonly Bucket[]): { value: number; bucket: [number, number] | null } {
  if (Number.isNaN(q)) return { value: Number.NaN, bucket: null };
  if (q < 0) return { value: -Infinity, bucket: null };
  if (q > 1) return { value: Infinity, bucket: null };
  const sorted = [...input].sort((a, b) => a.upperBound - b.upperBound);
  if (sorted.length === 0 || (sorted[sorted.length - 1] as Bucket).upperBound !== Infinity) return { value: Number.NaN, bucket: null };
  // coalesceBuckets: merge buckets with the same upper bound
  const buckets: Bucket[] = [];
  for (const b of sorted) {
    const last = buckets[buckets.length - 1];
    if (last !== undefined && last.upperBound === b.upperBound) last.count += b.count;
    else buckets.push({ ...b });
  }
  // ensureMonotonicAndIgnoreSmallDeltas: a cumulative count never decreases (tolerance 1e-12 relative)
  let prev = 0;
  for (const b of buckets) {
    if (b.count < prev || Math.abs(b.count - prev) <= 1e-12 * Math.max(Math.abs(b.count), Math.abs(prev))) b.count = prev;
    prev = b.count;
  }
  if (buckets.length < 2) return { value: Number.NaN, bucket: null };
  const observations = (buckets[buckets.length - 1] as Bucket).count;
  if (observations === 0) return { value: Number.NaN, bucket: null };
  let rank = q * observations;
  let b = buckets.length - 1;
  for (let i = 0; i < buckets.length - 1; i++) {
    if ((buckets[i] as Bucket).count >= rank) {
      b = i;
      break;
    }
  }
  const upper = (i: number) => (buckets[i] as Bucket).upperBound;
  if (b === buckets.length - 1) return { value: upper(buckets.length - 2), bucket: [upper(buckets.length - 2), Infinity] };
  if (b === 0 && upper(0) <= 0) return { value: upper(0), bucket: [upper(0), upper(0)] };
  let start = 0;
  let count = (buckets[b] as Bucket).count;
  if (b > 0) {
    start = upper(b - 1);
    count -= (buckets[b - 1] as Bucket).count;
    rank -= (buckets[b - 1] as Bucket).count;
  }
  return { value: start + (upper(b) - start) * (rank / count), bucket: [start, upper(b)] };
}

const leValue = (le: string): number => (le === '+Inf' || le === 'Inf' ? Infinity : Number(le));

/**
 * Server-side quantiles of a histogram over the run: per (target, series) the reset-aware increase of
 * every bucket (a drop of `_count` resets all its buckets, as a restart does; a series first seen
 * after its target's first scrape counts from 0, as counters do), summed by `le` over
 * series and targets (only bounds every series has: cumulative counts at a shared bound add up),
 * then histogram_quantile. `scale` converts the unit (1000: seconds → ms).
 */
function histogramQuantiles(
  targets: readonly Target[],
  names: readonly string[],
  scale: number,
): { q: ServerQuantiles; names: string[]; targets: number } | null {
  const perLe = new Map<number, number>();
  let bounds: Set<number> | null = null;
  let coarsened = false;
  let sumIncrease = 0;
  let countIncrease = 0;
  const used = new Set<string>();
  let targetCount = 0;
  for (const t of targets) {
    const base = names.find((n) => t.scrapes.some((s) => s.samples.some((x) => x.name === `${n}_bucket` || x.name === `${n}_count`)));
    if (base === undefined) continue;
    used.add(base);
    targetCount++;
    // series key (labels without le) → per scrape: count, sum, buckets
    const series = new Map<string, Array<{ count: number; sum: number; buckets: Map<number, number> }>>();
    for (const [i, scrape] of t.scrapes.entries()) {
      const here = new Map<string, { count: number; sum: number; buckets: Map<number, number> }>();
      const get = (labels: Record<string, string>) => {
        const key = labelKey(labels, ['le']);
        let v = here.get(key);
        if (v === undefined) here.set(key, (v = { count: Number.NaN, sum: Number.NaN, buckets: new Map() }));
        return v;
      };
      for (const s of scrape.samples) {
        if (!finite(s.value) && s.value !== '+Inf') continue;
        if (s.name === `${base}_bucket` && s.labels.le !== undefined) get(s.labels).buckets.set(leValue(s.labels.le), s.value as number);
        else if (s.name === `${base}_count`) get(s.labels).count = s.value as number;
        else if (s.name === `${base}_sum`) get(s.labels).sum = s.value as number;
      }
      for (const [key, v] of here) {
        // as for counters: a series absent from this target's earlier scrapes was created since, from 0
        const list = series.get(key) ?? (i > 0 ? [{ count: 0, sum: 0, buckets: new Map([...v.buckets.keys()].map((le) => [le, 0])) }] : []);
        list.push(v);
        series.set(key, list);
      }
    }
    for (const list of series.values()) {
      const increase = new Map<number, number>();
      for (let i = 1; i < list.length; i++) {
        const cur = list[i] as (typeof list)[number];
        const prev = list[i - 1] as (typeof list)[number];
        const reset = cur.count < prev.count;
        countIncrease += reset ? cur.count : cur.count - prev.count || 0;
        if (Number.isFinite(cur.sum) && Number.isFinite(prev.sum)) sumIncrease += reset ? cur.sum : cur.sum - prev.sum;
        for (const [le, c] of cur.buckets) {
          const p = prev.buckets.get(le);
          increase.set(le, (increase.get(le) ?? 0) + (reset || p === undefined ? (reset ? c : 0) : Math.max(0, c - p)));
        }
      }
      const les = new Set(list.flatMap((v) => [...v.buckets.keys()]));
      if (les.size === 0) continue;
      const common: Set<number> = bounds ?? les;
      if (common.size !== les.size || [...les].some((le) => !common.has(le))) coarsened = true;
      bounds = new Set([...common].filter((le) => les.has(le)));
      for (const [le, c] of increase) perLe.set(le, (perLe.get(le) ?? 0) + c);
    }
  }
  if (targetCount === 0) return null;
  const buckets = bounds === null ? [] : [...bounds].map((le) => ({ upperBound: le, count: perLe.get(le) ?? 0 }));
  const total = buckets.find((b) => b.upperBound === Infinity)?.count ?? countIncrease;
  const p50 = buckets.length > 0 ? bucketQuantile(0.5, buckets) : null;
  const p99 = buckets.length > 0 ? bucketQuantile(0.99, buckets) : null;
  const scaled = (r: { value: number; bucket: [number, number] | null } | null) =>
    r === null || !Number.isFinite(r.value) ? null : r.value * scale;
  const scaledBucket = (r: { value: number; bucket: [number, number] | null } | null): [number, number] | null =>
    r?.bucket ? [r.bucket[0] * scale, r.bucket[1] * scale] : null;
  return {
    q: {
      p50: scaled(p50),
      p99: scaled(p99),
      mean: countIncrease > 0 ? (sumIncrease / countIncrease) * scale : null,
      count: total,
      p50_bucket: scaledBucket(p50),
      p99_bucket: scaledBucket(p99),
      coarsened,
    },
    names: [...used],
    targets: targetCount,
  };
}

// ---------------------------------------------------------------------------------------------
// GPUs

/** Label values of a target's GPU series with more than one distinct value (pod, namespace, Hostname); "" as (none). */
function gpuOwners(samples: readonly MetricSample[]): Array<[string, string[]]> {
  const out: Array<[string, string[]]> = [];
  for (const label of ['pod', 'namespace', 'Hostname']) {
    if (!samples.some((s) => label in s.labels)) continue;
    const values = [...new Set(samples.map((s) => s.labels[label] ?? ''))];
    if (values.length > 1) out.push([label, values]);
  }
  return out;
}

function gpuFigure(targets: readonly Target[], arm: string, warnings: string[]): (GaugeStats & { gpus: number; targets: number }) | null {
  const name = SERVER_METRICS.gpuUtilization.names[0];
  let gpus = 0;
  for (const t of targets) {
    if (!t.roles.has('dcgm')) continue;
    const rawGpu = t.scrapes[0]?.raw.filter((s) => s.name === name) ?? [];
    if (t.selector === '') {
      const owners = gpuOwners(rawGpu);
      if (owners.length > 0) {
        const pods = owners.find(([l]) => l === 'pod')?.[1].length;
        const shown = owners.map(
          ([label, values]) => `${label}=${values.map((v) => (v === '' ? '(none)' : JSON.stringify(v))).join(', ')}`,
        );
        warnings.push(
          `${arm}: DCGM at ${t.instance} reports GPUs of ${pods !== undefined ? `${pods} pods` : 'several owners'} (${shown.join('; ')}); GPU utilisation averages all of them. Keep the arm's own, e.g. 'http://${t.instance}/metrics{namespace="…",pod=~"…"}'`,
        );
      }
    } else if (rawGpu.length > 0 && t.scrapes.every((s) => !s.samples.some((x) => x.name === name))) {
      const labels = [...new Set(rawGpu.flatMap((s) => Object.keys(s.labels)))].sort();
      warnings.push(`${arm}: selector ${t.selector} matches no GPU at ${t.instance} (its GPU series have labels ${labels.join(', ')})`);
    }
  }
  const stats = roundStats(
    targets.filter((t) => t.roles.has('dcgm')),
    (_t, scrape) => {
      const found = of(scrape, name);
      return found.length === 0 ? null : found.map((s) => s.value as number);
    },
    (values) => {
      const all = values.flat();
      gpus = Math.max(gpus, all.length);
      return all.length === 0 ? null : sum(all) / all.length;
    },
  );
  return stats === null ? null : { ...stats, gpus };
}

// ---------------------------------------------------------------------------------------------
// KV-cache usage

function kvFigure(
  targets: readonly Target[],
): { stats: GaugeStats & { method: 'blocks' | 'mean' }; names: string[]; targets: number } | null {
  const workers = targets.filter((t) => t.roles.has('worker'));
  const usedName = new Map(workers.map((t) => [t.index, nameOn(t, SERVER_METRICS.kvUsedBlocks.names)]));
  const totalName = new Map(workers.map((t) => [t.index, nameOn(t, SERVER_METRICS.kvTotalBlocks.names)]));
  const fracName = new Map(workers.map((t) => [t.index, nameOn(t, SERVER_METRICS.kvUsage.names)]));
  const carrying = workers.filter((t) => fracName.get(t.index) || (usedName.get(t.index) && totalName.get(t.index)));
  if (carrying.length === 0) return null;
  // blocks: used = active_blocks, or usage fraction × total_blocks (newer Dynamo has no active_blocks)
  const blocks = carrying.every((t) => totalName.get(t.index) && (usedName.get(t.index) || fracName.get(t.index)));
  const names = new Set<string>();
  const stats = roundStats(
    carrying,
    (t, scrape) => {
      const total = totalName.get(t.index);
      const usedN = usedName.get(t.index);
      const fracN = fracName.get(t.index);
      const sumOf = (n: string | null | undefined) => {
        if (!n) return null;
        const found = of(scrape, n);
        return found.length === 0 ? null : { sum: sum(found.map((s) => s.value as number)), n: found.length };
      };
      if (blocks && total) {
        const tot = sumOf(total);
        const used = usedN ? sumOf(usedN) : null;
        const frac = fracN ? sumOf(fracN) : null;
        if (tot === null) return null;
        names.add(total);
        if (used !== null) {
          names.add(usedN as string);
          return { used: used.sum, total: tot.sum, frac: tot.sum > 0 ? used.sum / tot.sum : 0 };
        }
        if (frac === null) return null;
        names.add(fracN as string);
        return { used: (frac.sum / frac.n) * tot.sum, total: tot.sum, frac: frac.sum / frac.n };
      }
      const frac = sumOf(fracN);
      if (frac === null) return null;
      names.add(fracN as string);
      return { used: 0, total: 0, frac: frac.sum / frac.n };
    },
    (values) => {
      if (blocks) {
        const total = sum(values.map((v) => v.total));
        return total > 0 ? (100 * sum(values.map((v) => v.used))) / total : null;
      }
      return (100 * sum(values.map((v) => v.frac))) / values.length;
    },
  );
  if (stats === null) return null;
  const { targets: n, ...rest } = stats;
  return { stats: { ...rest, method: blocks ? 'blocks' : 'mean' }, names: [...names], targets: n };
}

// ---------------------------------------------------------------------------------------------

/** Derives one arm's server figures from its scrape entries (any order; sorted by mono_ns here), all its targets together. */
export function deriveServerMetrics(arm: string, entries: readonly ScrapeEntry[]): ServerMetrics {
  const ordered = [...entries].sort((a, b) => a.mono_ns - b.mono_ns);
  const scrapes = ordered.filter((e): e is ScrapeSample => e.kind === 'scrape');
  const gaps = ordered.filter((e): e is ScrapeGap => e.kind === 'gap');
  const warnings: string[] = [];
  const targets = buildTargets(ordered, warnings, arm);
  const first = scrapes[0];
  const last = scrapes[scrapes.length - 1];
  const sources: Record<string, FigureSource> = {};
  const S = SERVER_METRICS;
  const source = (figure: string, role: Role, names: readonly string[], n: number, method?: string) => {
    sources[figure] = { role, names: [...names], targets: n, ...(method ? { method } : {}) };
  };
  const withRole = (role: Role) => targets.filter((t) => t.roles.has(role));

  // prefix-cache hit rate = Σ over (target, series) of Δhits ÷ Σ Δqueries (tokens); Dynamo's gauge only when no counters
  const workers = withRole('worker');
  const queries = counterIncrease(workers.length > 0 ? workers : [], S.prefixCacheQueries.names);
  const hits = counterIncrease(workers.length > 0 ? workers : [], S.prefixCacheHits.names);
  let prefixCache: ServerMetrics['prefix_cache'] = null;
  if (queries !== null && hits !== null) {
    prefixCache = { queries, hits, hit_rate: queries > 0 ? hits / queries : null };
    source(
      'prefix_cache',
      'worker',
      namesUsed(workers, [...S.prefixCacheHits.names, ...S.prefixCacheQueries.names]),
      targetsWith(workers, S.prefixCacheQueries.names),
      'counters',
    );
  } else {
    const gauge = roundStats(
      workers,
      (_t, scrape) => {
        const found = of(scrape, S.prefixCacheHitRateGauge.names[0]);
        return found.length === 0 ? null : found.map((s) => s.value as number);
      },
      (values) => sum(values.flat()) / values.flat().length,
    );
    if (gauge !== null) {
      prefixCache = { queries: null, hits: null, hit_rate: gauge.mean };
      source('prefix_cache', 'worker', S.prefixCacheHitRateGauge.names, gauge.targets, 'Dynamo gauge, approximate');
    }
  }
  const extQ = counterIncrease(workers.length > 0 ? workers : [], S.externalPrefixCacheQueries.names);
  const extH = counterIncrease(workers.length > 0 ? workers : [], S.externalPrefixCacheHits.names);
  const external = extQ !== null && extH !== null ? { queries: extQ, hits: extH, hit_rate: extQ > 0 ? extH / extQ : null } : null;
  if (external)
    source(
      'external_prefix_cache',
      'worker',
      [S.externalPrefixCacheHits.names[0]],
      targetsWith(workers, S.externalPrefixCacheQueries.names),
    );

  const counted = (figure: string, spec: MetricSpec) => {
    const list = withRole(spec.role);
    const stats = countSum(list, spec.names);
    if (stats === null) return null;
    const { targets: n, ...rest } = stats;
    source(figure, spec.role, namesUsed(list, spec.names), n, 'sum');
    return rest;
  };
  const kv = kvFigure(targets);
  if (kv) source('kv_cache_usage', 'worker', kv.names, kv.targets, kv.stats.method);
  const gpu = gpuFigure(targets, arm, warnings);
  if (gpu) source('gpu_utilization', 'dcgm', S.gpuUtilization.names, gpu.targets, `${gpu.gpus} GPU${gpu.gpus === 1 ? '' : 's'}`);

  const frontends = withRole('frontend');
  const histogram = (figure: string, spec: MetricSpec, scale: number) => {
    // the frontend's histogram where an arm has a frontend, else the engines'
    const frontendNames = spec.names.filter((n) => n.startsWith('dynamo_frontend_'));
    const engineNames = spec.names.filter((n) => !n.startsWith('dynamo_frontend_'));
    const fromFrontend = frontends.length > 0 ? histogramQuantiles(frontends, frontendNames, scale) : null;
    const result = fromFrontend ?? (engineNames.length > 0 ? histogramQuantiles(workers, engineNames, scale) : null);
    if (result === null || result.q.count === 0) return null;
    source(
      figure,
      fromFrontend ? 'frontend' : 'worker',
      result.names,
      result.targets,
      result.q.coarsened ? 'buckets coarsened' : undefined,
    );
    return result.q;
  };
  const requests = counterBy(frontends, S.frontendRequests.names, 'status');
  if (requests) source('requests', 'frontend', S.frontendRequests.names, targetsWith(frontends, S.frontendRequests.names));

  return {
    arm,
    scrapes: scrapes.length,
    gaps: gaps.length,
    gap_list: gaps.map((g) => ({ mono_ns: g.mono_ns, wall: g.wall, error: g.error })),
    span_s: first && last && scrapes.length >= 2 ? (last.mono_ns - first.mono_ns) / 1e9 : null,
    targets: targets.map((t) => ({
      index: t.index,
      instance: t.instance,
      roles: [...t.roles].sort(),
      selector: t.selector,
      scrapes: t.scrapes.length,
      gaps: t.gaps,
    })),
    prefix_cache: prefixCache,
    external_prefix_cache: external,
    requests_running: counted('requests_running', S.requestsRunning),
    requests_waiting: counted('requests_waiting', S.requestsWaiting),
    inflight: counted('inflight', S.inflight),
    queued: counted('queued', S.queued),
    requests,
    kv_cache_usage_pct: kv?.stats ?? null,
    gpu_utilization_pct: gpu ? { mean: gpu.mean, max: gpu.max, samples: gpu.samples, gpus: gpu.gpus } : null,
    ttft_server_ms: histogram('ttft_server', S.ttft, 1000),
    itl_server_ms: histogram('itl_server', S.itl, 1000),
    request_duration_server_ms: histogram('request_duration_server', S.requestDuration, 1000),
    input_tokens: histogram('input_tokens', S.inputTokens, 1),
    output_tokens: histogram('output_tokens', S.outputTokens, 1),
    sources,
    warnings,
  };
}

function targetsWith(targets: readonly Target[], names: readonly string[]): number {
  return targets.filter((t) => nameOn(t, names) !== null).length;
}

/** Rounds to 6 significant digits for display and CSV, so float noise does not reach golden files. */
export function round(n: number): number {
  return Number.isFinite(n) ? Number(n.toPrecision(6)) : n;
}
