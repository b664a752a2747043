// k6 console output → records.jsonl. The k6 script prints one RequestRecord per request with
// console.log, collected by `k6 run --console-output <file> --log-format raw` (or, under the
// k6-operator, from each runner pod's log). This reads one or more such files (one per k6
// instance), keeps record lines, counts everything else, validates each record with
// core/record.ts and writes the standard records.jsonl. It also gathers the k6 facts the script
// printed (per-instance time origin and clock; dropped iterations and thresholds from
// handleSummary) for run.json.
import { createReadStream, readFileSync } from 'node:fs';
import { recordErrors, type RequestRecord } from '../core/record.ts';
import { RecordWriter } from '../io/records-file.ts';
import { META_KEY, SUMMARY_KEY, type K6InstanceMeta, type K6SummaryFacts } from './script/summary.ts';

export class K6ConsoleError extends Error {
  constructor(file: string, line: number, message: string) {
    super(`${file}:${line}: ${message}`);
    this.name = 'K6ConsoleError';
  }
}

export interface K6ConvertResult {
  records: number;
  /** Per input file: lines that were neither records nor shadowbench facts (k6 logs, summaries, progress). */
  ignoredLines: Record<string, number>;
  metas: K6InstanceMeta[];
  summaries: K6SummaryFacts[];
  /** Requests due per arm, over every instance (started + dropped; plannedIterations): null when a summary is missing or predates it. */
  planned: Record<string, number> | null;
  /** Records whose (arm, index) already appeared: overlapping instances; kept out of records.jsonl. */
  duplicates: number;
  warnings: string[];
}

const RECORD_PREFIX = '{"v":';

/** Byte-exact k6 raw line → what it is. A raw console line is exactly what console.log printed. */
function classify(line: string): { kind: 'record' | 'meta' | 'summary' | 'other'; value?: unknown } {
  const text = line.trim();
  if (!text.startsWith('{')) return { kind: 'other' };
  if (text.startsWith(RECORD_PREFIX)) return { kind: 'record' };
  if (text.startsWith(`{"${META_KEY}":`) || text.startsWith(`{"${SUMMARY_KEY}":`)) {
    try {
      const value = JSON.parse(text) as Record<string, unknown>;
      if (META_KEY in value) return { kind: 'meta', value: value[META_KEY] };
      return { kind: 'summary', value: value[SUMMARY_KEY] };
    } catch {
      return { kind: 'other' };
    }
  }
  return { kind: 'other' };
}

/**
 * Converts console-output files into `outFile`. Records are shifted onto one time origin: each
 * instance's timestamps count from its own origin (printed in its meta line); the earliest origin
 * becomes the run's, and the others' records move by the difference (wall-clock ms: instances on
 * different machines are only as aligned as their clocks). Bad record lines throw with file:line,
 * except an unterminated last line (k6 stopped mid-write), which only warns.
 */
export async function convertK6Console(
  files: readonly string[],
  outFile: string,
  options: { summaryFiles?: readonly string[]; onRecord?: (record: RequestRecord) => void } = {},
): Promise<K6ConvertResult & { originUnixMs: number | null }> {
  const result: K6ConvertResult = { records: 0, ignoredLines: {}, metas: [], summaries: [], planned: null, duplicates: 0, warnings: [] };
  // Pass 1: the facts, since a record needs its instance's origin, printed anywhere in the files.
  for (const file of files) {
    result.ignoredLines[file] = 0;
    await forEachLine(file, (text) => {
      const c = classify(text);
      if (c.kind === 'meta') result.metas.push(c.value as K6InstanceMeta);
      else if (c.kind === 'summary') result.summaries.push(c.value as K6SummaryFacts);
      else if (c.kind === 'other') result.ignoredLines[file]!++;
    });
  }
  for (const file of options.summaryFiles ?? []) {
    try {
      result.summaries.push(JSON.parse(readFileSync(file, 'utf8')) as K6SummaryFacts);
    } catch (error) {
      result.warnings.push(`${file}: k6 summary not read (${(error as Error).message}); dropped iterations unknown`);
    }
  }
  result.planned = plannedIterations(result.summaries);
  const origins = new Map(result.metas.map((m) => [m.instance, m.origin_unix_ms]));
  const runOrigin = result.metas.length > 0 ? Math.min(...result.metas.map((m) => m.origin_unix_ms)) : null;
  const runs = [...new Set(result.metas.map((m) => m.run_id))];
  if (runs.length > 1)
    result.warnings.push(`console output mixes runs ${runs.join(', ')} (was the console-output file not emptied before the run?)`);

  // Pass 2: the records, streamed (a run's console output can be larger than memory).
  const writer = new RecordWriter(outFile);
  const seen = new Set<string>();
  try {
    for (const file of files) {
      await forEachLine(file, (text, line, terminated) => {
        if (classify(text).kind !== 'record') return;
        const problem = recordErrorsOf(text);
        if (problem !== null) {
          if (!terminated) {
            result.warnings.push(`${file}:${line}: last line is incomplete; ignored (k6 was probably stopped while writing)`);
            return;
          }
          throw new K6ConsoleError(file, line, problem);
        }
        const record = JSON.parse(text) as RequestRecord;
        const key = `${record.arm}:${record.index}`;
        if (seen.has(key)) {
          result.duplicates++;
          return;
        }
        seen.add(key);
        // One origin (one instance, or setup() data shared by all instances) needs no shift.
        const own = origins.get(record.instance) ?? (origins.size === 1 ? runOrigin : null);
        if (own !== null && runOrigin !== null) shift(record, Math.round((own - runOrigin) * 1e6));
        writer.write(record);
        options.onRecord?.(record);
        result.records++;
      });
    }
  } finally {
    await writer.close();
  }
  if (result.duplicates > 0)
    result.warnings.push(
      `${result.duplicates} records repeat an (arm, index) already seen: did two k6 instances run the same execution segment? Kept the first of each.`,
    );
  return { ...result, originUnixMs: runOrigin };
}

/** Calls back for every non-blank line with its 1-based number and whether a newline ended it. */
async function forEachLine(file: string, onLine: (text: string, line: number, terminated: boolean) => void): Promise<void> {
  let carry = '';
  let lineNo = 0;
  for await (const chunk of createReadStream(file, { encoding: 'utf8', highWaterMark: 1 << 20 }) as AsyncIterable<string>) {
    const text = carry + chunk;
    let start = 0;
    for (let nl = text.indexOf('\n'); nl !== -1; nl = text.indexOf('\n', start)) {
      lineNo++;
      const line = text.slice(start, nl);
      if (line.trim() !== '') onLine(line, lineNo, true);
      start = nl + 1;
    }
    carry = text.slice(start);
  }
  if (carry.trim() !== '') onLine(carry, lineNo + 1, false);
}

function recordErrorsOf(text: string): string | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return `not valid JSON (${(error as Error).message})`;
  }
  const errors = recordErrors(value);
  return errors.length === 0 ? null : errors.join('; ');
}

function shift(r: RequestRecord, ns: number): void {
  if (ns === 0) return;
  r.scheduled_ns += ns;
  for (const f of ['sent_ns', 'headers_ns', 'first_chunk_ns', 'first_content_ns', 'end_ns'] as const) {
    const v = r[f];
    if (v !== null) r[f] = v + ns;
  }
  r.content_ns = r.content_ns.map((t) => t + ns);
}

/** Total and per-arm dropped iterations over every instance's summary (null when no summary was read). */
export function droppedIterations(summaries: readonly K6SummaryFacts[]): { total: number; byArm: Record<string, number> } | null {
  if (summaries.length === 0) return null;
  const byArm: Record<string, number> = {};
  for (const s of summaries) for (const [arm, n] of Object.entries(s.dropped_iterations)) byArm[arm] = (byArm[arm] ?? 0) + n;
  return { total: Object.values(byArm).reduce((a, b) => a + b, 0), byArm };
}

/**
 * Requests due per arm over every instance's summary (started + dropped: K6SummaryFacts.planned),
 * for the run folder's planned-vs-recorded count (not_sent = planned − records). null when no
 * summary was read, or one came from a script that did not report it.
 */
export function plannedIterations(summaries: readonly K6SummaryFacts[]): Record<string, number> | null {
  if (summaries.length === 0 || summaries.some((s) => s.planned === undefined)) return null;
  const byArm: Record<string, number> = {};
  for (const s of summaries) for (const [arm, n] of Object.entries(s.planned ?? {})) byArm[arm] = (byArm[arm] ?? 0) + n;
  return byArm;
}

/**
 * run.json warnings for the k6 facts. The analysis reads a warning starting with
 * `dropped_iterations: <n>` as the run's dropped-iteration count (analysis/report.ts).
 */
export function k6Warnings(result: K6ConvertResult): string[] {
  const out = [...result.warnings];
  const dropped = droppedIterations(result.summaries);
  if (dropped === null) out.push('k6 summary missing: dropped iterations unknown (k6 stopped before handleSummary?)');
  else if (dropped.total > 0) {
    const parts = Object.entries(dropped.byArm)
      .map(([arm, n]) => `${arm} ${n}`)
      .join(', ');
    out.push(
      `dropped_iterations: ${dropped.total} (${parts}) — k6 had no free VU when these iterations were due (raise the VU cap or expected latency, or lower --qps); k6 numbers only the iterations it starts, so after a drop an arm's later indices left later than their plan slot and the plan's last indices were never sent`,
    );
  }
  const clocks = new Set(
    result.metas.map((m) => `${m.clock} (${m.resolution_ns >= 1e6 ? `${m.resolution_ns / 1e6} ms` : `${m.resolution_ns / 1e3} µs`} steps)`),
  );
  if (clocks.size > 0) out.push(`k6 timestamps: ${[...clocks].join(', ')}; *_ns fields are these readings converted to ns`);
  const failedThresholds = result.summaries.flatMap((s) =>
    s.thresholds.filter((t) => !t.ok).map((t) => `${t.metric} ${t.condition}${s.instance ? ` (instance ${s.instance})` : ''}`),
  );
  if (failedThresholds.length > 0) out.push(`k6 thresholds crossed: ${failedThresholds.join('; ')}`);
  const instances = new Set(result.metas.map((m) => m.instance));
  if (instances.size > 1)
    out.push(
      `merged ${instances.size} k6 instances (${[...instances].join(', ')}); timestamps aligned on the earliest instance origin by wall clock`,
    );
  return out;
}
