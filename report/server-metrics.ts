// server-metrics.csv and the terminal lines of the server-side figures. Pure: figures in, text out.
import { stringify } from 'csv-stringify/sync';
import { round, type FigureSource, type ServerMetrics, type ServerQuantiles } from '../analysis/server-metrics.ts';

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
  // added with multi-target scraping (issue 17): at the end, so readers of the first columns keep working
  'targets',
  'kv_cache_usage_method',
  'external_prefix_cache_queries',
  'external_prefix_cache_hits',
  'external_prefix_cache_hit_rate',
  'inflight_mean',
  'inflight_max',
  'queued_mean',
  'queued_max',
  'ttft_server_p50_ms',
  'ttft_server_p99_ms',
  'itl_server_p50_ms',
  'itl_server_p99_ms',
  'request_duration_server_p50_ms',
  'request_duration_server_p99_ms',
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
    m.targets?.length ?? null,
    m.kv_cache_usage_pct && 'method' in m.kv_cache_usage_pct ? (m.kv_cache_usage_pct.method as string) : null,
    m.external_prefix_cache?.queries ?? null,
    m.external_prefix_cache?.hits ?? null,
    m.external_prefix_cache?.hit_rate ?? null,
    m.inflight?.mean ?? null,
    m.inflight?.max ?? null,
    m.queued?.mean ?? null,
    m.queued?.max ?? null,
    m.ttft_server_ms?.p50 ?? null,
    m.ttft_server_ms?.p99 ?? null,
    m.itl_server_ms?.p50 ?? null,
    m.itl_server_ms?.p99 ?? null,
    m.request_duration_server_ms?.p50 ?? null,
    m.request_duration_server_ms?.p99 ?? null,
  ]);
}

/** server-metrics.csv as a string (header + one row per arm). */
export function serverMetricsCsv(all: readonly ServerMetrics[]): string {
  return stringify([[...SERVER_METRICS_COLUMNS], ...serverMetricsRows(all)], { cast: { number: (n) => String(round(n)) } });
}

/** Short form of a figure's source: `worker ×2`, `frontend`, `DCGM, 2 GPUs`, `worker ×2, blocks`. */
export function describeSource(source: FigureSource | undefined): string {
  if (source === undefined) return '';
  const role = source.role === 'dcgm' ? 'DCGM' : source.role;
  const extra = source.method && source.method !== 'sum' && source.method !== 'counters' ? `, ${source.method}` : '';
  return ` (${role}${source.targets > 1 ? ` ×${source.targets}` : ''}${extra})`;
}

/** Lines for the terminal / report: one figure per line, arms side by side, each with its source. Missing figures read "not exposed". */
export function formatServerMetrics(all: readonly ServerMetrics[]): string[] {
  // Terminal figures: one decimal below 100, whole numbers above (CSV and summary.json keep 6 digits).
  const figure = (n: number) => (Math.abs(n) >= 100 || Number.isInteger(n) ? n.toFixed(0) : n.toFixed(1));
  const fmt = (n: number | null | undefined, unit = '') => (n === null || n === undefined ? 'not exposed' : `${figure(n)}${unit}`);
  const src = (m: ServerMetrics, id: string) => describeSource(m.sources?.[id]);
  const quantiles = (q: ServerQuantiles | null | undefined, unit: string) =>
    q == null ? 'not exposed' : `${fmt(q.p50)} / ${fmt(q.p99)}${unit}`;
  const gauge = (m: ServerMetrics, id: string, g: { mean: number; max: number } | null | undefined, unit = '') =>
    g == null ? 'not exposed' : `${fmt(g.mean, unit)} / ${fmt(g.max, unit)}${src(m, id)}`;
  const rows: Array<[string, (m: ServerMetrics) => string, boolean]> = [
    [
      'scrapes (gaps)',
      (m) => `${m.scrapes} (${m.gaps})${m.targets && m.targets.length > 1 ? ` from ${m.targets.length} targets` : ''}`,
      true,
    ],
    [
      'prefix-cache hit rate',
      (m) => (m.prefix_cache?.hit_rate == null ? 'not exposed' : `${figure(m.prefix_cache.hit_rate * 100)} %${src(m, 'prefix_cache')}`),
      true,
    ],
    [
      'external prefix-cache hit rate',
      (m) =>
        m.external_prefix_cache?.hit_rate == null
          ? 'not exposed'
          : `${figure(m.external_prefix_cache.hit_rate * 100)} %${src(m, 'external_prefix_cache')}`,
      all.some((m) => m.external_prefix_cache != null),
    ],
    ['running requests mean / max', (m) => gauge(m, 'requests_running', m.requests_running), true],
    ['waiting requests mean / max', (m) => gauge(m, 'requests_waiting', m.requests_waiting), true],
    ['in-flight requests mean / max', (m) => gauge(m, 'inflight', m.inflight), all.some((m) => m.inflight != null)],
    ['queued requests mean / max', (m) => gauge(m, 'queued', m.queued), all.some((m) => m.queued != null)],
    ['KV-cache usage mean / max', (m) => gauge(m, 'kv_cache_usage', m.kv_cache_usage_pct, ' %'), true],
    ['GPU utilisation mean / max', (m) => gauge(m, 'gpu_utilization', m.gpu_utilization_pct, ' %'), true],
    [
      'server TTFT P50 / P99',
      (m) => `${quantiles(m.ttft_server_ms, ' ms')}${m.ttft_server_ms ? src(m, 'ttft_server') : ''}`,
      all.some((m) => m.ttft_server_ms != null),
    ],
    [
      'server ITL P50 / P99',
      (m) => `${quantiles(m.itl_server_ms, ' ms')}${m.itl_server_ms ? src(m, 'itl_server') : ''}`,
      all.some((m) => m.itl_server_ms != null),
    ],
  ];
  const shown = rows.filter(([, , show]) => show);
  const width = Math.max(...shown.map(([label]) => label.length)) + 2;
  const col = Math.max(28, ...all.flatMap((m) => shown.map(([, get]) => get(m).length + 2)));
  const header = ''.padEnd(width) + all.map((m) => m.arm.padEnd(col)).join('');
  const lines = [
    header.trimEnd(),
    ...shown.map(([label, get]) => (label.padEnd(width) + all.map((m) => get(m).padEnd(col)).join('')).trimEnd()),
  ];
  for (const m of all) for (const w of m.warnings ?? []) lines.push(`  ! ${w}`);
  return lines;
}
