// The Azure LLM inference traces (Azure/AzurePublicDataset: AzureLLMInferenceTrace_{conv,code}.csv,
// 2023, and the *_1week.csv files of 2024), a CSV with the exact header
//   TIMESTAMP,ContextTokens,GeneratedTokens
//   2023-11-16 18:15:46.6805900,374,44
// (AzureLLMInferenceDataset2023.md: "TIMESTAMP | Invocation time; ContextTokens | Number of context
// tokens; GeneratedTokens | Number of generated tokens"). There is no text and no prefix information:
// as the dataset's own notes say, "we send the input prompt with the required number of tokens, and
// force the model to generate the corresponding number of output tokens". So each row becomes a
// synthesised prompt of ContextTokens words (trace.ts's word list, 1 word ≈ 1 token) asking for
// GeneratedTokens tokens, and prefix sharing is a policy (AzurePrefix). Arrival offsets are the
// timestamps minus the first row's. Runtime-agnostic.
import { hash32 } from '../random.ts';
import {
  countSkip,
  emptyReport,
  isNonNegativeInteger,
  stripBom,
  WorkloadError,
  type WorkloadFilterOptions,
  type WorkloadItem,
  type WorkloadReport,
} from './common.ts';
import { keepLengths, resolveSynthesis, synthesisedBody, synthesisePrompt, type BlockStore, type SynthesisOptions } from './trace.ts';
import type { Api } from '../openai.ts';
import type { OutputControl } from './common.ts';

export const AZURE_HEADER = 'TIMESTAMP,ContextTokens,GeneratedTokens';

/** Whether a first line is the Azure trace header (BOM, `\r`, surrounding spaces tolerated; names case-sensitive). */
export function isAzureHeader(firstLine: string): boolean {
  return (
    stripBom(firstLine)
      .trim()
      .split(',')
      .map((f) => f.trim())
      .join(',') === AZURE_HEADER
  );
}

/** Whether a first line looks like some CSV header (comma-separated bare names), for a helpful error. */
export function looksLikeCsvHeader(firstLine: string): boolean {
  return /^[A-Za-z_][\w ]*(,[A-Za-z_][\w ]*)+$/.test(stripBom(firstLine).trim());
}

const TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:?\d{2})?$/;

/**
 * A timestamp as whole seconds since the epoch and the fraction in ms (kept apart so offsets keep the
 * file's 100 ns resolution). Accepts `2023-11-16 18:15:46.6805900` (no zone: UTC), `…+00:00`,
 * `…Z`, no fraction, and a `T` separator; null for anything else. Date.parse is not used: it keeps
 * only ms and treats a space separator differently across runtimes.
 */
export function parseAzureTimestamp(text: string): { seconds: number; fractionMs: number } | null {
  const m = TIMESTAMP.exec(text.trim());
  if (m === null) return null;
  const [, y, mo, d, h, mi, s, frac, zone] = m;
  const base = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s));
  if (Number.isNaN(base)) return null;
  let offsetMin = 0;
  if (zone !== undefined && zone !== 'Z') {
    const z = /^([+-])(\d{2}):?(\d{2})$/.exec(zone)!;
    offsetMin = (z[1] === '-' ? -1 : 1) * (Number(z[2]) * 60 + Number(z[3]));
  }
  const fractionMs = frac === undefined ? 0 : Number(frac) / 10 ** (frac.length - 3);
  return { seconds: base / 1000 - offsetMin * 60, fractionMs };
}

/** One validated Azure row. */
export interface AzureRow {
  /** 1-based line in the file (the header is line 1): seeds the prompt. */
  line: number;
  /** ms after the first row's timestamp. */
  offsetMs: number;
  contextTokens: number;
  generatedTokens: number;
}

export const AZURE_ROW_SHAPE = 'TIMESTAMP,ContextTokens,GeneratedTokens rows like "2023-11-16 18:15:46.6805900,374,44"';

/** Time origin and previous row, carried from row to row while a file is read. */
export interface AzureCursor {
  first: { seconds: number; fractionMs: number } | null;
  previous: { line: number; offsetMs: number } | null;
}

/** Parses one data row; a malformed or time-reversed row throws WorkloadError naming file:line. */
export function azureRow(text: string, line: number, file: string, cursor: AzureCursor): AzureRow {
  const fail = (message: string): never => {
    throw new WorkloadError(file, line, message);
  };
  const fields = text.replace(/\r$/, '').split(',');
  if (fields.length !== 3) fail(`expected 3 comma-separated fields, got ${fields.length} (${AZURE_ROW_SHAPE})`);
  const [ts, ctx, gen] = fields as [string, string, string];
  const t = parseAzureTimestamp(ts);
  if (t === null)
    return fail(`TIMESTAMP ${JSON.stringify(ts)} is not a date-time like 2023-11-16 18:15:46.6805900 (optionally Z or +00:00)`);
  const contextTokens = /^\s*\d+\s*$/.test(ctx) ? Number(ctx) : NaN;
  if (!isNonNegativeInteger(contextTokens)) fail(`ContextTokens ${JSON.stringify(ctx)} is not an integer ≥ 0`);
  const generatedTokens = /^\s*\d+\s*$/.test(gen) ? Number(gen) : NaN;
  if (!isNonNegativeInteger(generatedTokens)) fail(`GeneratedTokens ${JSON.stringify(gen)} is not an integer ≥ 0`);
  cursor.first ??= t;
  const offsetMs = (t.seconds - cursor.first.seconds) * 1000 + (t.fractionMs - cursor.first.fractionMs);
  if (cursor.previous !== null && offsetMs < cursor.previous.offsetMs)
    fail(`TIMESTAMP ${ts.trim()} is earlier than line ${cursor.previous.line}'s (the trace must be in time order)`);
  cursor.previous = { line, offsetMs };
  return { line, offsetMs, contextTokens, generatedTokens };
}

/**
 * Prefix sharing for rows that carry none: `none`, every prompt unique; `shared`, every prompt
 * starts with the same `tokens` words (a system prompt); `groups`, row i shares a `tokens`-word
 * prefix with the other rows of its group (a seeded hash of the line, `groups` groups).
 */
export type AzurePrefix = { kind: 'none' } | { kind: 'shared'; tokens: number } | { kind: 'groups'; groups: number; tokens: number };

/** Hash ids reserved for invented prefixes (trace files' ids are far below). */
const SHARED_BASE = 0x4000_0000;
const GROUP_BASE = 0x5000_0000;

export interface AzureItemOptions extends SynthesisOptions {
  prefix: AzurePrefix;
}

/** The request of one Azure row: ContextTokens words (at least 1), max_tokens = GeneratedTokens (capped). */
export function azureItem(row: AzureRow, o: AzureItemOptions, blocks?: BlockStore): WorkloadItem {
  const input = Math.max(1, row.contextTokens);
  let ids: number[] = [];
  let prefixTokens = 0;
  if (o.prefix.kind !== 'none') {
    prefixTokens = Math.min(o.prefix.tokens, input);
    const n = Math.ceil(prefixTokens / o.blockSize);
    const base =
      o.prefix.kind === 'shared' ? SHARED_BASE : GROUP_BASE + (hash32(`${o.seed}:azure:group:${row.line}`) % o.prefix.groups) * 1024;
    ids = Array.from({ length: n }, (_, k) => base + k);
  }
  const prompt = synthesisePrompt(o.seed, row.line, input, ids, o.blockSize, blocks, prefixTokens);
  return { id: `line-${row.line}`, api: o.api, body: synthesisedBody(prompt, row.generatedTokens, o), timestamp_ms: row.offsetMs };
}

/** Whether an Azure row is kept: GeneratedTokens 0 is skipped, then the length filters (counted in the report). */
export function keepAzureRow(row: AzureRow, filters: WorkloadFilterOptions, report: WorkloadReport): boolean {
  if (row.generatedTokens === 0) {
    report.examined++;
    countSkip(report, '0 generated tokens');
    return false;
  }
  if (row.contextTokens === 0 && !report.notes.some((n) => n.startsWith('ContextTokens 0')))
    report.notes.push('ContextTokens 0 rows are sent as a 1-word prompt');
  return keepLengths(Math.max(1, row.contextTokens), row.generatedTokens, filters, report);
}

export interface AzureParseOptions {
  file: string;
  seed: number;
  model?: string;
  api?: Api;
  blockSize?: number;
  output?: OutputControl;
  prefix?: AzurePrefix;
  filters?: WorkloadFilterOptions;
}

export function checkPrefix(prefix: AzurePrefix, file: string): AzurePrefix {
  const bad = (what: string): never => {
    throw new WorkloadError(file, null, `prefix ${what}`);
  };
  if (prefix.kind !== 'none' && !(Number.isSafeInteger(prefix.tokens) && prefix.tokens >= 1)) bad(`tokens must be a positive integer`);
  if (prefix.kind === 'groups' && !(Number.isSafeInteger(prefix.groups) && prefix.groups >= 1)) bad('groups must be a positive integer');
  return prefix;
}

/** Every row of an Azure CSV text, synthesised now (tests, k6, small files; io/workload-file.ts streams). */
export function parseAzureCsv(text: string, options: AzureParseOptions): { items: WorkloadItem[]; report: WorkloadReport } {
  const { file } = options;
  const o: AzureItemOptions = { ...resolveSynthesis(options), prefix: checkPrefix(options.prefix ?? { kind: 'none' }, file) };
  const report = emptyReport();
  const lines = stripBom(text).split('\n');
  const headerAt = lines.findIndex((l) => l.trim() !== '');
  if (headerAt === -1 || !isAzureHeader(lines[headerAt]!))
    throw new WorkloadError(file, headerAt + 1, `the first line must be the Azure trace header ${AZURE_HEADER}`);
  const cursor: AzureCursor = { first: null, previous: null };
  const items: WorkloadItem[] = [];
  const blocks = new Map<number, string>();
  for (let k = headerAt + 1; k < lines.length; k++) {
    const raw = lines[k]!;
    if (raw.trim() === '') continue;
    const row = azureRow(raw, k + 1, file, cursor);
    if (keepAzureRow(row, options.filters ?? {}, report)) items.push(azureItem(row, o, blocks));
  }
  if (report.examined === 0) throw new WorkloadError(file, headerAt + 1, `no rows after the header (expected ${AZURE_ROW_SHAPE})`);
  return { items, report };
}
