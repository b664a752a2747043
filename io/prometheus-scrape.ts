// The server-metrics scraper: fetches a Prometheus text endpoint (vLLM's or Dynamo's /metrics, a
// DCGM exporter) at an interval during a run and appends one JSON line per attempt to
// `results/<run>/metrics/<arm>.jsonl`. A failed scrape is recorded as a gap and the run goes on.
import { createRequire } from 'node:module';
import { mkdir, open, readdir, readFile, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { redactUrl } from '../core/run.ts';
import { parseTargetSpec } from '../core/metrics-selector.ts';
import {
  METRICS_FILE_VERSION,
  parseMetricsLines,
  SERVER_HISTOGRAM_NAMES,
  type MetricSample,
  type SampleValue,
  type ScrapeEntry,
  type ScrapeTarget,
} from '../core/scrape-entry.ts';

// parse-prometheus-text-format: a character-level port of the official Python client's parser
// (escaping, colons in names, NaN / ±Inf, timestamps). It ships no types, hence the require.
interface ParsedFamily {
  name: string;
  type: string;
  metrics: Array<{ value?: string; labels?: Record<string, string> }>;
}
const parsePrometheusTextFormat = createRequire(import.meta.url)('parse-prometheus-text-format') as (text: string) => ParsedFamily[];

export class ExpositionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ExpositionError';
  }
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

function sampleValue(raw: string | undefined, name: string): SampleValue {
  if (raw === 'NaN') return 'NaN';
  if (raw === '+Inf' || raw === 'Inf') return '+Inf';
  if (raw === '-Inf') return '-Inf';
  const value = raw === undefined || raw.trim() === '' ? Number.NaN : Number(raw);
  if (!Number.isFinite(value))
    throw new ExpositionError(
      `not Prometheus text: sample ${JSON.stringify(name.slice(0, 60))} has value ${JSON.stringify(raw?.slice(0, 30))}`,
    );
  return value;
}

/**
 * Parses a Prometheus text exposition (format 0.0.4) into flat samples, one per sample line.
 * Two workarounds for known bugs of the parser (its issues #8 / #13, unfixed upstream):
 * histogram and summary families with labels are collapsed into one unlabelled series, so their
 * `# TYPE` lines are dropped and their `_bucket` / `_sum` / `_count` lines parse as the plain
 * series they are on the wire (which is how the Prometheus server stores them too); and a last
 * line without a newline is lost, so one is added. Anything that is not a sample throws ExpositionError.
 */
export function parseExposition(text: string): MetricSample[] {
  const lines = text
    .split('\n')
    .filter((line) => {
      if (!line.startsWith('# TYPE ')) return true;
      const type = line.slice('# TYPE '.length).trim().split(/\s+/)[1];
      return type !== 'histogram' && type !== 'summary' && type !== 'gaugehistogram';
    })
    .map(tightenLabels);
  let families: ParsedFamily[];
  try {
    families = parsePrometheusTextFormat(lines.join('\n') + '\n');
  } catch (error) {
    throw new ExpositionError(`not Prometheus text: ${(error as Error).message.slice(0, 200)}`);
  }
  const samples: MetricSample[] = [];
  for (const family of families) {
    if (!METRIC_NAME.test(family.name))
      throw new ExpositionError(`not Prometheus text: bad metric name ${JSON.stringify(family.name.slice(0, 60))}`);
    for (const metric of family.metrics) {
      samples.push({ name: family.name, labels: metric.labels ?? {}, value: sampleValue(metric.value, family.name) });
    }
  }
  return samples;
}

/**
 * Removes blanks between labels (`{gpu="0", UUID="…"}`, as dcgm-exporter's README shows and the text
 * format allows), which the parser rejects. Only outside quoted values; comment lines untouched.
 */
function tightenLabels(line: string): string {
  const open = line.indexOf('{');
  if (open === -1 || line.startsWith('#') || !/[,{]\s|\s[,}=]|=\s/.test(line)) return line;
  let out = line.slice(0, open + 1);
  let quoted = false;
  let i = open + 1;
  for (; i < line.length; i++) {
    const c = line[i] as string;
    if (quoted) {
      out += c;
      if (c === '\\') out += line[++i] ?? '';
      else if (c === '"') quoted = false;
      continue;
    }
    if (c === '"') quoted = true;
    else if (c === '}') break;
    else if (c === ' ' || c === '\t') continue;
    out += c;
  }
  return out + line.slice(i);
}

/** Monotonic nanoseconds since run start, and wall-clock milliseconds. */
export interface ScrapeClock {
  monoNs(): number;
  wallMs(): number;
}

/** The clock of a run whose origin is `originNs` (a process.hrtime.bigint() value taken at run start). */
export function clockFromOrigin(originNs: bigint): ScrapeClock {
  return { monoNs: () => Number(process.hrtime.bigint() - originNs), wallMs: () => Date.now() };
}

export interface ScrapeOptions {
  arm: string;
  /**
   * Prometheus text endpoint, e.g. http://vllm:8000/metrics, optionally with a label selector
   * (`http://dcgm:9400/metrics{namespace="llm"}`, core/metrics-selector.ts): the selector is written
   * on each line and applied by the analysis; the samples are kept whole.
   */
  url: string;
  intervalMs: number;
  /** Run folder; samples go to `<runDir>/metrics/<arm>.jsonl`. */
  runDir: string;
  clock: ScrapeClock;
  /** Per-scrape time limit; default min(interval, 10 s), at least 250 ms. */
  timeoutMs?: number;
  /** A second, third... endpoint of the same arm (e.g. its DCGM exporter) writes to `<arm>.<target>.jsonl`. */
  target?: number;
  /**
   * Which histogram `_bucket` samples to keep. 'server-histograms' (default): only those of the
   * latency / length histograms the analysis turns into server-side P50 / P99
   * (SERVER_HISTOGRAM_NAMES: ~100 lines per target); 'all' keeps every bucket (~85 % of a vLLM
   * exposition, ≈ 60 MB an hour at a 2 s interval, see `npm run bench scrape`); 'none' drops them.
   * `_sum` and `_count` are always kept. `true` / `false` mean 'all' / 'none'.
   */
  keepBuckets?: KeepBuckets | boolean;
}

export type KeepBuckets = 'none' | 'server-histograms' | 'all';

/** `host:port` of a URL, credentials never included (Prometheus' `instance` label). */
export function instanceOf(url: string): string {
  const u = new URL(url);
  return `${u.hostname.includes(':') && !u.hostname.startsWith('[') ? `[${u.hostname}]` : u.hostname}:${u.port || (u.protocol === 'https:' ? '443' : '80')}`;
}

function bucketFilter(keep: KeepBuckets): (sample: MetricSample) => boolean {
  if (keep === 'all') return () => true;
  if (keep === 'none') return (sample) => !isBucket(sample);
  const wanted = new Set(SERVER_HISTOGRAM_NAMES.map((n) => `${n}_bucket`));
  return (sample) => !isBucket(sample) || wanted.has(sample.name);
}

export interface ScrapeSummary {
  arm: string;
  file: string;
  scrapes: number;
  gaps: number;
}

export interface Scraper {
  readonly file: string;
  /**
   * Stops the loop, takes one last scrape (so counters cover the whole run; pass
   * `{ finalScrape: false }` to skip it), and closes the file once everything is written.
   */
  stop(options?: { finalScrape?: boolean }): Promise<ScrapeSummary>;
}

export const METRICS_DIR = 'metrics';
export const metricsFile = (runDir: string, arm: string, target = 1): string =>
  join(runDir, METRICS_DIR, target === 1 ? `${arm}.jsonl` : `${arm}.${target}.jsonl`);

/** Fetches and parses one exposition. Throws with a message fit for a gap entry (never the URL: it may carry a token). */
async function fetchExposition(
  url: string,
  dispatcher: Agent,
  timeoutMs: number,
  keep: (sample: MetricSample) => boolean,
): Promise<MetricSample[]> {
  const response = await request(url, {
    dispatcher,
    method: 'GET',
    // Ask for the classic text format, not OpenMetrics or protobuf.
    headers: { accept: 'text/plain;version=0.0.4;q=1,*/*;q=0.1' },
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
    signal: AbortSignal.timeout(timeoutMs),
  });
  const body = await response.body.text();
  if (response.statusCode < 200 || response.statusCode > 299) throw new Error(`HTTP ${response.statusCode}`);
  const samples = parseExposition(body);
  return samples.filter(keep);
}

/** A histogram bucket sample: `<name>_bucket` with an `le` label. */
export const isBucket = (sample: MetricSample): boolean => sample.name.endsWith('_bucket') && 'le' in sample.labels;

function describeError(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    const cause = (error as { cause?: { code?: unknown; message?: unknown } }).cause;
    const detail = typeof code === 'string' ? `${code}: ${error.message}` : error.message;
    return cause && typeof cause.code === 'string' ? `${detail} (${cause.code})` : detail;
  }
  return String(error);
}

/**
 * Starts scraping `url` every `intervalMs` (first scrape at once; resolves once it is written, so the
 * caller's traffic starts after each counter's baseline). Attempts never overlap; a slot
 * missed because a scrape ran long is skipped rather than caught up. The timer does not keep the
 * process alive; call stop() at the end of the run.
 */
export async function startScraping(options: ScrapeOptions): Promise<Scraper> {
  const { arm, intervalMs, runDir, clock } = options;
  if (!(intervalMs > 0)) throw new RangeError(`scrape interval must be > 0 ms, got ${intervalMs}`);
  const spec = parseTargetSpec(options.url); // throws SelectorError on a bad selector
  const url = spec.url;
  const target: ScrapeTarget = { index: options.target ?? 1, instance: instanceOf(url) }; // throws TypeError on a malformed URL before anything starts
  const keepOption = options.keepBuckets ?? 'server-histograms';
  const keep = bucketFilter(keepOption === true ? 'all' : keepOption === false ? 'none' : keepOption);
  const timeoutMs = options.timeoutMs ?? Math.max(250, Math.min(intervalMs, 10_000));
  const file = metricsFile(runDir, arm, target.index);
  await mkdir(join(runDir, METRICS_DIR), { recursive: true });
  const handle: FileHandle = await open(file, 'a');
  const dispatcher = new Agent({ connections: 1, keepAliveTimeout: Math.max(intervalMs * 2, 4000) });
  let seq = 0;
  let scrapes = 0;
  let gaps = 0;
  let stopped = false;
  let wake: (() => void) | null = null;
  let timer: NodeJS.Timeout | null = null;

  const scrapeOnce = async (): Promise<void> => {
    const monoNs = clock.monoNs();
    const wall = new Date(clock.wallMs()).toISOString();
    const started = performance.now();
    let entry: ScrapeEntry;
    try {
      const samples = await fetchExposition(url, dispatcher, timeoutMs, keep);
      entry = {
        v: METRICS_FILE_VERSION,
        kind: 'scrape',
        arm,
        target,
        selector: spec.selector,
        interval_ms: intervalMs,
        seq,
        mono_ns: monoNs,
        wall,
        duration_ms: performance.now() - started,
        samples,
      };
      scrapes++;
    } catch (error) {
      entry = {
        v: METRICS_FILE_VERSION,
        kind: 'gap',
        arm,
        target,
        selector: spec.selector,
        interval_ms: intervalMs,
        seq,
        mono_ns: monoNs,
        wall,
        duration_ms: performance.now() - started,
        error: describeError(error),
      };
      gaps++;
    }
    seq++;
    await handle.write(JSON.stringify(entry) + '\n');
  };

  const origin = performance.now();
  let firstScraped!: () => void;
  const first = new Promise<void>((resolve) => (firstScraped = resolve));
  const loop = (async () => {
    let slot = 0;
    while (!stopped) {
      await scrapeOnce();
      if (slot === 0) firstScraped();
      slot++;
      const now = performance.now();
      if (origin + slot * intervalMs < now) slot = Math.ceil((now - origin) / intervalMs);
      const delay = origin + slot * intervalMs - now;
      if (stopped) break;
      await new Promise<void>((resolve) => {
        wake = resolve;
        timer = setTimeout(resolve, delay);
        timer.unref();
      });
      wake = null;
    }
  })();

  // The first scrape is each counter's baseline (an increase counts from it): traffic that starts before
  // it lands would be missing from the run's figures, so the scraper is returned once it is written (a
  // down target's gap is written at once; a hanging one after timeoutMs).
  await Promise.race([first, loop]);
  let stopping: Promise<ScrapeSummary> | null = null;
  return {
    file,
    stop(stopOptions = {}) {
      stopping ??= (async () => {
        stopped = true;
        if (timer) clearTimeout(timer);
        wake?.();
        await loop;
        if (stopOptions.finalScrape ?? true) await scrapeOnce();
        await handle.close();
        await dispatcher.close();
        return { arm, file, scrapes, gaps };
      })();
      return stopping;
    },
  };
}

/**
 * Scrape entries of every arm in `<runDir>/metrics/`, grouped by the entries' arm (all of an arm's
 * targets together, each entry naming its target; v1 files get it from the file name); empty when
 * the run was not scraped.
 */
export async function readMetricsDir(runDir: string): Promise<{ byArm: Map<string, ScrapeEntry[]>; warnings: string[] }> {
  const byArm = new Map<string, ScrapeEntry[]>();
  const warnings: string[] = [];
  let names: string[];
  try {
    names = await readdir(join(runDir, METRICS_DIR));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { byArm, warnings };
    throw error;
  }
  for (const name of names.filter((n) => n.endsWith('.jsonl')).sort()) {
    const file = join(runDir, METRICS_DIR, name);
    const n = /\.(\d+)\.jsonl$/.exec(name);
    const index = n ? Number(n[1]) : 1;
    const parsed = parseMetricsLines(await readFile(file, 'utf8'), file, { index, instance: `target ${index}` });
    for (const entry of parsed.entries) {
      const list = byArm.get(entry.arm) ?? [];
      list.push(entry);
      byArm.set(entry.arm, list);
    }
    warnings.push(...parsed.warnings);
  }
  return { byArm, warnings };
}

/**
 * Hook for the load command: one scraper per (arm, URL) — an arm may have several endpoints, e.g.
 * vLLM's /metrics and a DCGM exporter — all on the run's clock. stop() stops them together.
 */
export async function startRunScrapers(options: {
  runDir: string;
  /** The run's origin on the monotonic clock (process.hrtime.bigint() at run start; run.json mono_origin_ns). */
  originNs: bigint;
  /** Arm → Prometheus endpoints, each optionally with a `{...}` selector. Arms without URLs are not scraped. */
  targets: Record<string, readonly string[]>;
  intervalMs: number;
  keepBuckets?: KeepBuckets | boolean;
}): Promise<{ scrapers: Scraper[]; stop(): Promise<ScrapeSummary[]> }> {
  const clock = clockFromOrigin(options.originNs);
  // all started at once: one slow file open must not delay another target's first scrape
  const starts = Object.entries(options.targets).flatMap(([arm, urls]) =>
    urls.map((url, i) =>
      startScraping({
        arm,
        url,
        intervalMs: options.intervalMs,
        runDir: options.runDir,
        clock,
        target: i + 1,
        keepBuckets: options.keepBuckets ?? 'server-histograms',
      }),
    ),
  );
  const settled = await Promise.allSettled(starts);
  const scrapers = settled.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed !== undefined) {
    await Promise.all(scrapers.map((s) => s.stop({ finalScrape: false })));
    throw failed.reason;
  }
  return { scrapers, stop: () => Promise.all(scrapers.map((s) => s.stop())) };
}

/** For run.json / logs: the scrape target without credentials, its selector kept. */
export const describeTarget = (target: string): string => {
  const spec = parseTargetSpec(target);
  return redactUrl(spec.url) + spec.selector;
};
