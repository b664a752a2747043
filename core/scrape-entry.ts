// The lines of results/<run>/metrics/<arm>.jsonl: one scrape (or gap) of a Prometheus endpoint each.
// Written by io/prometheus-scrape.ts, read by the analysis (analysis/server-metrics.ts). Pure.

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
    if (!(typeof v === 'number' || v === 'NaN' || v === '+Inf' || v === '-Inf'))
      return `samples: bad value ${JSON.stringify(v)} for ${sample.name}`;
  }
  return null;
}
