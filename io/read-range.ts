// Reads the lines of one byte range of records.jsonl — the whole file, or one slice of it in a
// read worker (parallel-read.ts) — with the rules of io/records-file.ts forEachRecord: blank lines
// skipped, a bad line throws RecordFileError (file:line: what is wrong), an unterminated,
// unparseable last line of the file and a record cut short by a failed write only warn. Lines are parsed from bytes by the fast path
// (record-fast-parse.ts); a line it does not take is decoded and goes through parseRecord.
// Synchronous (it runs in a worker, or on small files); Node-specific, like parallel-read.ts.
import { closeSync, openSync, readSync } from 'node:fs';
import { parseRecord, type RequestRecord } from '../core/record.ts';
import { isCutLine, lineProblem, RecordFileError } from './records-file.ts';
import { parseRecordBytes } from './record-fast-parse.ts';

export interface RangeRead {
  records: number;
  /** Lines in the range, blank ones included (line numbers of later ranges start after them). */
  lines: number;
  /** The file's last line had no newline and did not parse (range-local line number). */
  truncatedLastLine: { line: number; bytes: number } | null;
  /** Records cut short by a failed write, skipped (range-local line numbers; isCutLine). */
  cutLines: Array<{ line: number; bytes: number }>;
}

const BLOCK_BYTES = 8 << 20;
const NEWLINE = 0x0a;

/**
 * Calls onRecord for each record on the lines of bytes [start, stop) of `file`. `start` must be
 * the start of a line and `stop` the start of a line or the file's size. Line numbers in errors
 * count from `firstLine`; `atFileEnd` says whether an unterminated last line is the file's last.
 */
export function readRecordRange(
  file: string,
  range: { start: number; stop: number; firstLine: number; atFileEnd: boolean },
  onRecord: (record: RequestRecord) => void,
): RangeRead {
  const result: RangeRead = { records: 0, lines: 0, truncatedLastLine: null, cutLines: [] };
  const handle = (buffer: Buffer, from: number, to: number, terminated: boolean) => {
    result.lines++;
    let record = parseRecordBytes(buffer, from, to);
    if (record === null) {
      const line = buffer.toString('utf8', from, to);
      if (line.trim() === '') return;
      try {
        record = parseRecord(line);
      } catch (error) {
        const lineNo = range.firstLine + result.lines - 1;
        if (!terminated && range.atFileEnd) {
          result.truncatedLastLine = { line: lineNo, bytes: Buffer.byteLength(line) };
          return;
        }
        if (isCutLine(line, error)) {
          result.cutLines.push({ line: lineNo, bytes: Buffer.byteLength(line) });
          return;
        }
        throw new RecordFileError(file, lineNo, lineProblem(error));
      }
    }
    result.records++;
    onRecord(record);
  };
  let buffer = Buffer.allocUnsafe(Math.min(BLOCK_BYTES, Math.max(1, range.stop - range.start)));
  let filled = 0; // bytes of buffer holding file data; buffer[0] is always the start of a line
  let position = range.start;
  const fd = openSync(file, 'r');
  try {
    for (;;) {
      if (filled === buffer.length) {
        // One line longer than the buffer: grow it.
        const bigger = Buffer.allocUnsafe(buffer.length * 2);
        buffer.copy(bigger, 0, 0, filled);
        buffer = bigger;
      }
      const want = Math.min(buffer.length - filled, range.stop - position);
      const got = want > 0 ? readSync(fd, buffer, filled, want, position) : 0;
      position += got;
      filled += got;
      const last = got === 0 || position >= range.stop;
      const view = buffer.subarray(0, filled);
      let from = 0;
      for (let nl = view.indexOf(NEWLINE, from); nl !== -1; nl = view.indexOf(NEWLINE, from)) {
        handle(buffer, from, nl, true);
        from = nl + 1;
      }
      if (last) {
        if (from < filled) handle(buffer, from, filled, false);
        return result;
      }
      buffer.copy(buffer, 0, from, filled);
      filled -= from;
    }
  } finally {
    closeSync(fd);
  }
}
