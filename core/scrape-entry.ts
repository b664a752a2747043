// The lines of results/<run>/metrics/<arm>.jsonl: one scrape (or gap) of a Prometheus endpoint each.
// Written by io/prometheus-scrape.ts, read by the analysis (analysis/server-metrics.ts). Pure.

/**
 * Version of the lines in metrics/<arm>.jsonl; readers refuse versions they do not know.
 * 2: each line names its scrape target (series identity includes it, as Prometheus adds `instance`),
 * the target's selector and the scrape interval. Version 1 lines are still read: the reader fills the
 * target from the file name (`<arm>.jsonl` = target 1, `<arm>.<n>.jsonl` = target n).
 */
export const METRICS_FILE_VERSION = 2;
/** Versions parseMetricsLines accepts. */
export const METRICS_FILE_VERSIONS_READ = [1, 2] as const;

/** Which endpoint a scrape came from: its position among the arm's targets (1-based) and `host:port` without credentials. */
export interface ScrapeTarget {
  index: number;
  instance: string;
}

/** Non-finite sample values are kept as the exposition spells them (JSON has no NaN or Infinity). */
export type SampleValue = number | 'NaN' | '+Inf' | '-Inf';

/** One sample line of the exposition: `name{labels} value`. Histogram parts keep their `_bucket` / `_sum` / `_count` names. */
export interface MetricSample {
  name: string;
  labels: Record<string, string>;
  value: SampleValue;
}

interface EntryBase {
  v: (typeof METRICS_FILE_VERSIONS_READ)[number];
  arm: string;
  /** v2; filled from the file name when reading v1. */
  target?: ScrapeTarget;
  /** v2: the target's label selector as given (`{pod=~"vllm-.*"}`), '' for none. Applied at analysis time; the samples are kept unfiltered. */
  selector?: string;
  /** v2: the scrape interval, ms (rounds of several targets are aligned on it). */
  interval_ms?: number;
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
export function parseMetricsLines(
  text: string,
  file: string,
  /** Target of v1 lines (which do not carry one). */
  fallbackTarget?: ScrapeTarget,
): { entries: ScrapeEntry[]; warnings: string[] } {
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
    const entry = value as ScrapeEntry;
    if (entry.target === undefined && fallbackTarget !== undefined) entry.target = fallbackTarget;
    entries.push(entry);
  }
  return { entries, warnings };
}

function entryError(value: unknown): string | null {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'expected a JSON object';
  const e = value as Record<string, unknown>;
  if (!(METRICS_FILE_VERSIONS_READ as readonly unknown[]).includes(e.v))
    return `unknown metrics line version ${JSON.stringify(e.v)} (this build reads ${METRICS_FILE_VERSIONS_READ.join(' and ')})`;
  if (e.target !== undefined) {
    const t = e.target as Record<string, unknown> | null;
    if (typeof t !== 'object' || t === null || !Number.isSafeInteger(t.index) || typeof t.instance !== 'string')
      return 'target: expected {index, instance}';
  }
  if (e.selector !== undefined && typeof e.selector !== 'string') return 'selector: expected a string';
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
    if (!(typeof v === 'number' || v === 'NaN' || v === '+Inf' || v === '-Inf'))
      return `samples: bad value ${JSON.stringify(v)} for ${sample.name}`;
  }
  return null;
}

/**
 * Histograms whose `_bucket` samples the scraper keeps by default: the server-side latency and
 * length distributions the analysis turns into P50 / P99 (analysis/server-metrics.ts SERVER_METRICS
 * names them from here). Dynamo frontend first (its own bucket layout), then vLLM V1 (and the
 * deprecated time_per_output_token name).
 */
export const SERVER_HISTOGRAM_NAMES = [
  'dynamo_frontend_time_to_first_token_seconds',
  'dynamo_frontend_inter_token_latency_seconds',
  'dynamo_frontend_request_duration_seconds',
  'dynamo_frontend_input_sequence_tokens',
  'dynamo_frontend_output_sequence_tokens',
  'vllm:time_to_first_token_seconds',
  'vllm:inter_token_latency_seconds',
  'vllm:time_per_output_token_seconds',
  'vllm:e2e_request_latency_seconds',
] as const;
