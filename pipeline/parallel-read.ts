// Reads records.jsonl into a RunCollector using every core: the file is cut into byte ranges at
// line starts; the calling thread reads the first range into the collector, and each other range
// is read by a worker thread (read-worker.ts) that parses, validates and reduces its lines into its
// own collector — computing the similarity of the pairs whose two arms it holds — and sends the
// columns back (transferred, not copied). The collector then absorbs those ranges in file order
// (collect.ts RunCollector.absorb): same columns, same ITL order, same record ordinals as one
// sequential read; pairs split across two ranges meet there.
//
// Errors keep their exact sequential form: an error in the first range is the file's first error
// (its line numbers and record ordinals are global), so it is thrown as it comes; an error in a later
// range, or ranges that conflict (two run ids, a request in two ranges), make the file be read
// again sequentially (forEachRecord), which throws the error one sequential read would.
// Small files are read on the calling thread with the same range reader. Node-specific.
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { cutLineWarning, forEachRecord, incompleteLastLineWarning, RecordFileError, type ReadSummary } from '../io/records-file.ts';
import { AnalysisInputError, RunCollector } from '../analysis/collect.ts';
import { readRecordRange, type RangeRead } from '../io/read-range.ts';
import { inlineCollector, type RangeAnswer, type RangeJob } from './range-job.ts';

export interface ReadOptions {
  /** As in CollectorOptions. */
  expectRepeat: boolean;
  keepText: boolean;
  /** Worst pairs kept per mismatch kind for the divergence explorer (CollectorOptions.divergencePairs). */
  divergencePairs?: number;
  /** Threads reading the file, this one included (default: one per core). */
  threads?: number;
  /** Files smaller than this are read on the calling thread (default 32 MB: a worker costs ~50 ms to start). */
  parallelBytes?: number;
}

const PARALLEL_BYTES = 32 << 20;

/**
 * Reads and validates every record of `file` into a collector (similarity included). Throws
 * RecordFileError for a bad line and AnalysisInputError for unusable input, as a sequential
 * forEachRecord + RunCollector.add would.
 */
export async function readRecordsFile(file: string, options: ReadOptions): Promise<{ collector: RunCollector; summary: ReadSummary }> {
  const size = statSync(file).size;
  const threads = Math.max(1, options.threads ?? availableParallelism());
  const summary: ReadSummary = { file, records: 0, truncatedLastLine: null, warnings: [] };
  if (size < (options.parallelBytes ?? PARALLEL_BYTES)) {
    const collector = inlineCollector(options);
    const read = readRecordRange(file, { start: 0, stop: size, firstLine: 1, atFileEnd: true }, (r) => collector.add(r));
    return { collector, summary: finish(summary, [read]) };
  }
  const bounds = lineStarts(file, size, threads);
  const job = (i: number): RangeJob => ({
    file,
    start: bounds[i] as number,
    stop: bounds[i + 1] as number,
    firstLine: 1,
    atFileEnd: i === bounds.length - 2,
    expectRepeat: options.expectRepeat,
    keepText: options.keepText,
    ...(options.divergencePairs !== undefined && { divergencePairs: options.divergencePairs }),
  });
  // Later ranges go to workers; this thread reads the first one itself, straight into the collector
  // (one worker fewer: a worker's heap stays with the process after it exits).
  const workers = bounds.slice(1, -1).map((_, i) => runRange(job(i + 1)));
  const collector = inlineCollector(options);
  let firstRead: RangeRead;
  try {
    firstRead = readRecordRange(file, job(0), (r) => collector.add(r));
  } catch (error) {
    for (const w of workers) void w.worker.terminate();
    throw error; // the first range's error is the file's first error, numbered globally
  }
  const answers: Array<RangeAnswer | null> = await Promise.all(workers.map((w) => w.answer));
  for (const answer of answers) if (answer && !answer.ok && answer.kind === 'other') throw rebuildError(file, answer);
  const reads: RangeRead[] = [firstRead];
  for (let i = 0; i < answers.length; i++) {
    const answer = answers[i] as RangeAnswer;
    answers[i] = null; // the range's columns are copied, not adopted: let them be collected
    if (!answer.ok || !collector.absorb(answer.state)) return readSequentially(file, options);
    reads.push(answer.read);
  }
  return { collector, summary: finish(summary, reads) };
}

/** The summary of the ranges read in order: records added up, the truncated last line numbered globally. */
function finish(summary: ReadSummary, reads: RangeRead[]): ReadSummary {
  let lines = 0;
  for (const read of reads) {
    summary.records += read.records;
    for (const cut of read.cutLines) summary.warnings.push(cutLineWarning(summary.file, lines + cut.line, cut.bytes));
    if (read.truncatedLastLine) {
      const line = lines + read.truncatedLastLine.line;
      summary.truncatedLastLine = { line, bytes: read.truncatedLastLine.bytes };
      summary.warnings.push(incompleteLastLineWarning(summary.file, line, read.truncatedLastLine.bytes));
    }
    lines += read.lines;
  }
  return summary;
}

/** The one-thread read, for the exact error when the ranges disagree or a later range failed. */
async function readSequentially(file: string, options: ReadOptions): Promise<{ collector: RunCollector; summary: ReadSummary }> {
  const collector = inlineCollector(options);
  const summary = await forEachRecord(file, (r) => collector.add(r));
  return { collector, summary };
}

/**
 * Byte offsets [0, s1, ..., size] cutting the file into up to `parts` ranges of about equal size,
 * each cut placed just after a newline (so every range starts at the start of a line).
 */
export function lineStarts(file: string, size: number, parts: number): number[] {
  const bounds = [0];
  const fd = openSync(file, 'r');
  try {
    const probe = Buffer.allocUnsafe(1 << 16);
    for (let k = 1; k < parts; k++) {
      let at = Math.max(Math.floor((size * k) / parts), bounds[bounds.length - 1] as number);
      let cut = -1;
      while (at < size && cut === -1) {
        const got = readSync(fd, probe, 0, probe.length, at);
        if (got === 0) break;
        const nl = probe.subarray(0, got).indexOf(0x0a);
        if (nl !== -1) cut = at + nl + 1;
        at += got;
      }
      if (cut === -1 || cut >= size) break;
      if (cut > (bounds[bounds.length - 1] as number)) bounds.push(cut);
    }
  } finally {
    closeSync(fd);
  }
  bounds.push(size);
  return bounds;
}

function runRange(job: RangeJob): { worker: Worker; answer: Promise<RangeAnswer> } {
  // A small young generation: a worker's garbage is short-lived, and the memory a worker's heap
  // grew to stays with the process after the worker exits.
  const worker = new Worker(new URL('./read-worker.ts', import.meta.url), {
    workerData: job,
    resourceLimits: { maxYoungGenerationSizeMb: 16 },
  });
  const answer = new Promise<RangeAnswer>((resolve) => {
    let answered = false;
    worker.once('message', (answer: RangeAnswer) => {
      answered = true;
      resolve(answer);
      void worker.terminate();
    });
    worker.once('error', (error) => {
      if (!answered)
        resolve({ ok: false, kind: 'other', message: error.message, ...(error.stack !== undefined && { stack: error.stack }) });
    });
    worker.once('exit', (code) => {
      if (!answered)
        resolve({
          ok: false,
          kind: 'other',
          message: `read worker for bytes ${job.start}-${job.stop} of ${job.file} exited (code ${code}) without an answer`,
        });
    });
  });
  return { worker, answer };
}

function rebuildError(file: string, answer: Exclude<RangeAnswer, { ok: true }>): Error {
  if (answer.kind === 'record') return new RecordFileError(file, answer.line, answer.message);
  if (answer.kind === 'input') return new AnalysisInputError(answer.message);
  const error = new Error(answer.message);
  if (answer.stack !== undefined) error.stack = answer.stack;
  return error;
}
