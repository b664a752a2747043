// Reading and appending records.jsonl: the file edge of the record schema.
import { closeSync, createReadStream, fstatSync, ftruncateSync, openSync, writeSync } from 'node:fs';
import { parseRecord, serializeRecord, type RequestRecord } from '../core/record.ts';
import { diskError } from './run-folder.ts';

/** A bad record names the file and line, so the user can open it. */
export class RecordFileError extends Error {
  readonly file: string;
  readonly line: number;
  constructor(file: string, line: number, message: string) {
    super(`${file}:${line}: ${message}`);
    this.name = 'RecordFileError';
    this.file = file;
    this.line = line;
  }
}

export interface ReadSummary {
  file: string;
  records: number;
  /** The last line had no newline and did not parse: the writer was interrupted. Reported, not fatal. */
  truncatedLastLine: { line: number; bytes: number } | null;
  warnings: string[];
}

/** What is wrong with a line parseRecord refused, for RecordFileError. */
export function lineProblem(error: unknown): string {
  return error instanceof SyntaxError ? `not valid JSON (${error.message})` : (error as Error).message;
}

/** The warning for an unterminated, unparseable last line (an interrupted writer). */
export function incompleteLastLineWarning(file: string, line: number, bytes: number): string {
  return `${file}:${line}: last line is incomplete (${bytes} bytes, no newline); ignored — the run was probably interrupted while writing`;
}

/**
 * A line that is the start of a record cut short, not a bad one: JSON that stops early (the parse
 * fails at the line's very end). RecordWriter leaves one only when a failed write could not be cut
 * back; a later write starts a new line after it, and readers skip it with cutLineWarning.
 */
export function isCutLine(line: string, error: unknown): boolean {
  if (!(error instanceof SyntaxError) || !line.startsWith('{')) return false;
  if (/Unexpected end of JSON input/.test(error.message)) return true;
  const at = /at position (\d+)/.exec(error.message);
  return at !== null && Number(at[1]) >= line.length;
}

/** The warning for a cut line in the middle of the file (isCutLine). */
export function cutLineWarning(file: string, line: number, bytes: number): string {
  return `${file}:${line}: incomplete record (${bytes} bytes, cut short by a failed write: disk full?); skipped`;
}

/**
 * Streams a records.jsonl file, validating every line and calling onRecord for each record.
 * Blank lines are skipped. A bad line throws RecordFileError (file:line: what is wrong);
 * an unterminated, unparseable last line is the mark of an interrupted writer and only warns, as
 * does a record cut short by a failed write (isCutLine).
 */
export async function forEachRecord(file: string, onRecord: (record: RequestRecord) => void): Promise<ReadSummary> {
  const summary: ReadSummary = { file, records: 0, truncatedLastLine: null, warnings: [] };
  let lineNo = 0;
  let carry = '';
  const handle = (line: string, terminated: boolean) => {
    lineNo++;
    if (line.trim() === '') return;
    let record: RequestRecord;
    try {
      record = parseRecord(line);
    } catch (error) {
      if (!terminated) {
        summary.truncatedLastLine = { line: lineNo, bytes: Buffer.byteLength(line) };
        summary.warnings.push(incompleteLastLineWarning(file, lineNo, Buffer.byteLength(line)));
        return;
      }
      if (isCutLine(line, error)) {
        summary.warnings.push(cutLineWarning(file, lineNo, Buffer.byteLength(line)));
        return;
      }
      throw new RecordFileError(file, lineNo, lineProblem(error));
    }
    summary.records++;
    onRecord(record);
  };
  const stream = createReadStream(file, { encoding: 'utf8', highWaterMark: 1 << 20 });
  for await (const chunk of stream as AsyncIterable<string>) {
    let text = carry + chunk;
    let start = 0;
    for (let nl = text.indexOf('\n', start); nl !== -1; nl = text.indexOf('\n', start)) {
      handle(text.slice(start, nl), true);
      start = nl + 1;
    }
    carry = text.slice(start);
    text = '';
  }
  if (carry !== '') handle(carry, false);
  return summary;
}

/** Reads a whole records file into memory (for tests and small runs; the analysis streams). */
export async function readRecords(file: string): Promise<{ records: RequestRecord[]; summary: ReadSummary }> {
  const records: RequestRecord[] = [];
  const summary = await forEachRecord(file, (r) => records.push(r));
  return { records, summary };
}

/**
 * Appends records as they complete. Lines written in one turn of the event loop go to the file in
 * one synchronous append on the next turn (setImmediate), so records are on disk (page cache)
 * within a tick, a crash leaves at worst one truncated last line (the reader reports and skips
 * it), and `flushSync` can save everything pending before an immediate process.exit.
 */
export interface RecordWriterOptions {
  /** 'a' (append, the default) or 'wx' (a new file: a run never appends to another run's records). */
  flags?: 'a' | 'wx';
  /**
   * Called once when the file cannot be written (ENOSPC, EIO...) with a RunFolderError naming the file;
   * the writer then drops further records (counted in `lost`) instead of throwing from a timer. Without
   * it, a write error is thrown from write()/flushSync() as that RunFolderError.
   */
  onError?: (error: Error) => void;
}

export class RecordWriter {
  readonly file: string;
  #fd: number | null;
  /** Bytes of the file up to the end of its last complete line (what a failed write is cut back to). */
  #size: number;
  /** A failed write left part of a line that could not be cut off: the next write starts a new line. */
  #cutLine = false;
  #pending: string[] = [];
  #scheduled: NodeJS.Immediate | null = null;
  #written = 0;
  #lost = 0;
  #failed: Error | null = null;
  readonly #onError: ((error: Error) => void) | null;
  constructor(file: string, options: RecordWriterOptions = {}) {
    this.file = file;
    this.#onError = options.onError ?? null;
    try {
      this.#fd = openSync(file, options.flags ?? 'a');
      this.#size = fstatSync(this.#fd).size;
    } catch (error) {
      throw diskError('create', file, error);
    }
  }
  /** Records handed to write() while the file was writable (on disk once flushed). */
  get written(): number {
    return this.#written;
  }
  /** Records not written because the file had failed (see `failed`). */
  get lost(): number {
    return this.#lost;
  }
  /** The write error that stopped the file, or null. */
  get failed(): Error | null {
    return this.#failed;
  }
  write(record: RequestRecord): void {
    if (this.#failed !== null) {
      this.#lost++;
      return;
    }
    if (this.#fd === null) throw new Error(`${this.file}: write after close`);
    this.#pending.push(serializeRecord(record) + '\n');
    this.#written++;
    this.#scheduled ??= setImmediate(() => this.flushSync());
  }
  /**
   * Writes every pending line now, synchronously (safe to call right before process.exit). A write
   * that fails part-way (ENOSPC) is cut back to the last complete line, so the file never holds half
   * a record that a later line would run into; if even that fails, the next write starts on a new
   * line and the reader skips the cut line with a warning naming it (isCutLine).
   */
  flushSync(): void {
    if (this.#scheduled !== null) clearImmediate(this.#scheduled);
    this.#scheduled = null;
    if (this.#pending.length === 0 || this.#fd === null) return;
    const lines = this.#pending.length;
    const bytes = Buffer.from((this.#cutLine ? '\n' : '') + this.#pending.join(''));
    this.#pending = [];
    let off = 0;
    try {
      // At the known end (explicit position): a 'wx' descriptor's own offset would be past a cut-back end.
      while (off < bytes.length) off += writeSync(this.#fd, bytes, off, bytes.length - off, this.#size + off);
      this.#size += bytes.length;
      this.#cutLine = false;
    } catch (error) {
      this.#cutBack(off);
      this.#written -= lines;
      this.#lost += lines;
      const failed = diskError('write', this.file, error);
      if (this.#onError === null) throw failed; // the caller may retry later (the proxy resumes when space returns)
      this.#failed = failed;
      this.#onError(failed);
    }
  }

  /** After a write that put `written` bytes of this flush on disk: back to the last complete line. */
  #cutBack(written: number): void {
    if (written === 0 || this.#fd === null) return;
    try {
      ftruncateSync(this.#fd, this.#size);
      this.#cutLine = false;
    } catch {
      // The bytes that did land end with a complete line or with a cut one; only the latter matters.
      this.#size += written;
      this.#cutLine = true;
    }
  }
  /** Resolves once everything written so far has reached the OS. */
  async close(): Promise<void> {
    try {
      this.flushSync();
    } finally {
      if (this.#fd !== null) closeSync(this.#fd);
      this.#fd = null;
    }
  }
}
