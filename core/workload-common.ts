// Types and helpers shared by the workload format parsers (openai, sharegpt, trace).
// Runtime-agnostic: no Node built-ins, so the same parsers run inside k6.
// `core/workload.ts` re-exports the public part; import from there.
import type { Api } from './openai.ts';

export type WorkloadFormat = 'openai' | 'sharegpt' | 'trace';
export const WORKLOAD_FORMATS: readonly WorkloadFormat[] = ['openai', 'sharegpt', 'trace'];

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

/**
 * Yields every non-blank line of a JSONL text as a JSON object; a line that is not JSON, or not an
 * object, throws WorkloadError naming its line. `\r\n` endings are accepted.
 */
export function* jsonObjectLines(text: string, file: string, expected: string): Generator<JsonLine> {
  const body = stripBom(text);
  let start = 0;
  for (let line = 1; start <= body.length; line++) {
    const nl = body.indexOf('\n', start);
    const end = nl === -1 ? body.length : nl;
    const raw = body.slice(start, end);
    start = end + 1;
    if (raw.trim() === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch (error) {
      throw new WorkloadError(file, line, `not valid JSON: ${(error as Error).message} (each line must be one JSON object: ${expected})`);
    }
    if (!isObject(value)) throw new WorkloadError(file, line, `expected a JSON object, got ${typeName(value)} (each line must be one JSON object: ${expected})`);
    yield { line, value };
  }
}

/** The first non-blank line's number, or null when the text is empty or only whitespace. */
export function firstContentLine(text: string): { line: number; text: string } | null {
  const body = stripBom(text);
  let start = 0;
  for (let line = 1; start <= body.length; line++) {
    const nl = body.indexOf('\n', start);
    const end = nl === -1 ? body.length : nl;
    const raw = body.slice(start, end);
    if (raw.trim() !== '') return { line, text: raw };
    start = end + 1;
  }
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

/**
 * Where a JSON.parse error happened. V8 says "... at position N (line L column C)"; other runtimes
 * (k6's) may say less: without a position the error is placed at the end of the text, which is
 * right for the commonest case ("Unexpected end of JSON input").
 */
export function jsonErrorLocation(text: string, error: unknown): { line: number; column: number } {
  const message = error instanceof Error ? error.message : String(error);
  const match = /position (\d+)/.exec(message);
  const offset = match ? Number(match[1]) : text.length;
  return lineColumn(text, offset);
}

/** A JSON.parse message without V8's own "at position N (line L column C)" suffix, since we print the location first. */
export function jsonErrorReason(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.replace(/\s*(in JSON )?at position \d+( \(line \d+ column \d+\))?/, '').trim();
}
