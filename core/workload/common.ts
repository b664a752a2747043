// Types and helpers shared by the workload format parsers (openai, sharegpt, trace).
// Runtime-agnostic: no Node built-ins, so the same parsers run inside k6.
// `core/workload.ts` re-exports the public part; import from there.
import type { Api } from '../openai.ts';

export type WorkloadFormat = 'openai' | 'sharegpt' | 'trace' | 'azure';
export const WORKLOAD_FORMATS: readonly WorkloadFormat[] = ['openai', 'sharegpt', 'trace', 'azure'];

/** The model put in synthesised bodies (sharegpt, trace) when no model is given: the simulated endpoints' default. */
export const DEFAULT_MODEL = 'meta-llama/Llama-3.1-8B-Instruct';

export interface WorkloadItem {
  id: string;
  api: Api;
  /** OpenAI request body, replayed verbatim (the model may be overridden per arm by buildRequestBody). */
  body: Record<string, unknown>;
  /** Arrival offset given by the source (openai `timestamp_ms`, trace `timestamp`), in ms; null when absent. */
  timestamp_ms: number | null;
}

export interface Workload {
  source: string;
  format: WorkloadFormat;
  items: WorkloadItem[];
  /** Things the parser skipped or assumed, for the run's warnings (e.g. ShareGPT entries without a human turn). */
  notes?: string[];
  /** Kept/skipped counts (sharegpt); absent when the parser filters nothing. */
  report?: WorkloadReport;
}

/**
 * How a synthesised request (trace, azure) asks for exactly its output length. max_tokens is always
 * sent; `ignore_eos: true` and `min_tokens = max_tokens` are extensions accepted by vLLM, SGLang,
 * Dynamo and TensorRT-LLM but not by TGI's Messages API or strict OpenAI validators (use 'none').
 */
export type OutputControl = 'both' | 'ignore_eos' | 'min_tokens' | 'none';
export const OUTPUT_CONTROLS: readonly OutputControl[] = ['both', 'ignore_eos', 'min_tokens', 'none'];

/** The length fields of a synthesised body asking for `tokens` output tokens. */
export function outputLimits(tokens: number, control: OutputControl): Record<string, unknown> {
  const limits: Record<string, unknown> = { max_tokens: tokens };
  if (control === 'both' || control === 'min_tokens') limits.min_tokens = tokens;
  if (control === 'both' || control === 'ignore_eos') limits.ignore_eos = true;
  return limits;
}

/** Length filters and caps applied while a workload is read (like vLLM's ShareGPT sampler). */
export interface WorkloadFilterOptions {
  /** Skip an item whose prompt + (capped) output tokens exceed this: the server's context length. */
  maxModelLen?: number;
  /** Lower max_tokens (and min_tokens) to this; the item is kept and counted as capped. */
  maxOutputTokens?: number;
}

/** What reading a workload kept, skipped (reason → count) and assumed; printed and saved in run.json. */
export interface WorkloadReport {
  /** Entries or lines examined. */
  examined: number;
  kept: number;
  skipped: Record<string, number>;
  /** Items whose max_tokens --max-output-tokens lowered. */
  capped: number;
  /** The token counter used for lengths, when one was (sharegpt). */
  tokenizer: string | null;
  /** Sampling, assumptions and other remarks, one line each. */
  notes: string[];
}

export function emptyReport(): WorkloadReport {
  return { examined: 0, kept: 0, skipped: {}, capped: 0, tokenizer: null, notes: [] };
}

export function countSkip(report: WorkloadReport, reason: string): void {
  report.skipped[reason] = (report.skipped[reason] ?? 0) + 1;
}

/** "kept 11982 of 12031; skipped 49 (prompt+output over --max-model-len 32768: 49)", or null when nothing was skipped or capped. */
export function reportSummary(source: string, report: WorkloadReport): string | null {
  const skipped = Object.values(report.skipped).reduce((a, b) => a + b, 0);
  if (skipped === 0 && report.capped === 0) return null;
  const reasons = Object.entries(report.skipped)
    .sort((a, b) => b[1] - a[1])
    .map(([reason, n]) => `${reason}: ${n}`)
    .join('; ');
  const parts = [`${source}: kept ${report.kept} of ${report.examined}`];
  if (skipped > 0) parts.push(`skipped ${skipped} (${reasons})`);
  if (report.capped > 0) parts.push(`max_tokens capped on ${report.capped} by --max-output-tokens`);
  return parts.join('; ');
}

/** A WorkloadError for a workload whose every item was skipped, naming the largest reason. */
export function allSkippedError(file: string, report: WorkloadReport): WorkloadError {
  const top = Object.entries(report.skipped).sort((a, b) => b[1] - a[1])[0];
  return new WorkloadError(
    file,
    null,
    `every one of the ${report.examined} items was skipped${top === undefined ? '' : `, mostly for ${top[0]} (${top[1]})`}; loosen the length filters`,
  );
}

/**
 * A workload's items by index, built on demand: the engines and the plan use only this, so a trace
 * of any size costs its compact index, not its prompts. item(i) is a pure function of (file, options,
 * i): equal on every thread and every run. Runtime-agnostic.
 */
export interface WorkloadSource {
  readonly source: string;
  readonly format: WorkloadFormat;
  /** Items after filtering and sampling. */
  readonly length: number;
  /** Arrival offsets in ms, one per item; null when the items have none. */
  readonly timestamps: Float64Array | null;
  /** The endpoints the items go to (warm-up), known without building items. */
  readonly apis: readonly Api[];
  /** The models named in the bodies, known without building items. */
  readonly models: readonly string[];
  readonly report: WorkloadReport;
  item(index: number): WorkloadItem;
}

/** Bad workload input. The message is `file:line: what is wrong (what is accepted)` (`file:line:column:` for JSON syntax). */
export class WorkloadError extends Error {
  readonly file: string;
  readonly line: number | null;
  readonly column: number | null;
  constructor(file: string, line: number | null, message: string, column: number | null = null) {
    const where = line === null ? file : column === null ? `${file}:${line}` : `${file}:${line}:${column}`;
    super(`${where}: ${message}`);
    this.name = 'WorkloadError';
    this.file = file;
    this.line = line;
    this.column = column;
  }
}

/** A short name for a JSON value's type, for error messages ("got array"). */
export function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

/** A JSON value shortened for an error message. */
export function preview(value: unknown, max = 40): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function isPositiveInteger(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 1;
}

export function isNonNegativeInteger(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

/** Removes a byte-order mark, which some editors put at the start of UTF-8 files. */
export function stripBom(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/** One non-blank line of a JSONL file, parsed. Line numbers are 1-based. */
export interface JsonLine {
  line: number;
  value: Record<string, unknown>;
}

/** Every non-blank line of a text with its 1-based number (BOM removed; `\r\n` endings leave a `\r` the JSON parser ignores). */
function* contentLines(text: string): Generator<{ line: number; text: string }> {
  const body = stripBom(text);
  let start = 0;
  for (let line = 1; start <= body.length; line++) {
    const nl = body.indexOf('\n', start);
    const end = nl === -1 ? body.length : nl;
    const raw = body.slice(start, end);
    start = end + 1;
    if (raw.trim() !== '') yield { line, text: raw };
  }
}

/**
 * Yields every non-blank line of a JSONL text as a JSON object; a line that is not JSON, or not an
 * object, throws WorkloadError naming its line. `\r\n` endings are accepted.
 */
export function* jsonObjectLines(text: string, file: string, expected: string): Generator<JsonLine> {
  for (const { line, text: raw } of contentLines(text)) {
    const value = parseJsonText(raw, file, line, `each line must be one JSON object: ${expected}`);
    if (!isObject(value))
      throw new WorkloadError(
        file,
        line,
        `expected a JSON object, got ${typeName(value)} (each line must be one JSON object: ${expected})`,
      );
    yield { line, value };
  }
}

/** The first non-blank line's number, or null when the text is empty or only whitespace. */
export function firstContentLine(text: string): { line: number; text: string } | null {
  for (const first of contentLines(text)) return first;
  return null;
}

/** 1-based line and column of a character offset. */
export function lineColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  const end = Math.min(offset, text.length);
  for (let i = text.indexOf('\n'); i !== -1 && i < end; i = text.indexOf('\n', i + 1)) {
    line++;
    lineStart = i + 1;
  }
  return { line, column: end - lineStart + 1 };
}

/** Where and why a text is not valid JSON. */
export interface JsonSyntaxError {
  offset: number;
  reason: string;
}

const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;

/**
 * Finds the first JSON syntax error in a text, or null when it is valid. Run only after JSON.parse
 * failed: JSON.parse's messages differ between runtimes and V8's often give no position
 * ("Unexpected token 'x', ... is not valid JSON"), while a file:line:column needs one.
 */
export function findJsonSyntaxError(text: string): JsonSyntaxError | null {
  let i = 0;
  // What is at i: a whole word (a misspelt literal, an unquoted key) or one character.
  const found = () =>
    i >= text.length ? 'the end of the text' : JSON.stringify(/^[A-Za-z_$][\w$]{0,19}/.exec(text.slice(i, i + 20))?.[0] ?? text[i]);
  const fail = (expected: string): never => {
    throw { offset: i, reason: `expected ${expected} but found ${found()}` } satisfies JsonSyntaxError;
  };
  const space = () => {
    for (let c = text.charCodeAt(i); c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09; c = text.charCodeAt(++i));
  };
  const string = () => {
    i++; // opening quote
    for (;;) {
      if (i >= text.length) fail("a closing '\"'");
      const c = text.charCodeAt(i);
      if (c === 0x22) return void i++;
      if (c < 0x20)
        throw {
          offset: i,
          reason: 'a control character (such as a raw newline or tab) inside a string; escape it as \\n or \\t',
        } satisfies JsonSyntaxError;
      if (c === 0x5c) {
        const e = text[i + 1];
        if (e !== undefined && '"\\/bfnrt'.includes(e)) i += 2;
        else if (e === 'u' && /^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) i += 6;
        else {
          i++;
          fail('an escape (\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX)');
        }
      } else i++;
    }
  };
  const value = (): void => {
    space();
    const c = text[i];
    if (c === '{' || c === '[') {
      const close = c === '{' ? '}' : ']';
      i++;
      space();
      if (text[i] === close) return void i++;
      for (;;) {
        if (c === '{') {
          space();
          if (text[i] !== '"') fail('a property name in double quotes');
          string();
          space();
          if (text[i] !== ':') fail("':' after the property name");
          i++;
        }
        value();
        space();
        if (text[i] === ',') i++;
        else if (text[i] === close) return void i++;
        else fail(`',' or '${close}'`);
      }
    }
    if (c === '"') return string();
    for (const word of ['true', 'false', 'null']) {
      if (text.startsWith(word, i)) return void (i += word.length);
    }
    NUMBER.lastIndex = i;
    if (c !== undefined && /[-0-9]/.test(c) && NUMBER.test(text)) return void (i = NUMBER.lastIndex);
    fail('a value (object, array, string, number, true, false or null)');
  };
  try {
    value();
    space();
    if (i < text.length) fail('the end of the text after the JSON value');
    return null;
  } catch (error) {
    if (typeof error === 'object' && error !== null && 'offset' in error) return error as JsonSyntaxError;
    if (error instanceof RangeError) return null; // nested too deep to scan: the caller falls back to JSON.parse's message
    throw error;
  }
}

/** JSON.parse, or a WorkloadError at the first syntax error's file:line:column (`firstLine` is the text's first line in the file). */
export function parseJsonText(text: string, file: string, firstLine: number, expected: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    const syntax = findJsonSyntaxError(text) ?? { offset: text.length, reason: (error as Error).message };
    const { line, column } = lineColumn(text, syntax.offset);
    throw new WorkloadError(file, firstLine + line - 1, `not valid JSON: ${syntax.reason} (${expected})`, column);
  }
}
