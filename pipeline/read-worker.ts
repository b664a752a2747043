// Read worker (see parallel-read.ts): reads one byte range of records.jsonl into its own collector,
// similarity included, and posts the collector's columns back (transferred, not copied).
import { parentPort, workerData } from 'node:worker_threads';
import { RecordFileError } from '../io/records-file.ts';
import { AnalysisInputError } from '../analysis/collect.ts';
import { inlineCollector, type RangeAnswer, type RangeJob } from './range-job.ts';
import { readRecordRange } from '../io/read-range.ts';

const job = workerData as RangeJob;
const collector = inlineCollector(job);
let answer: RangeAnswer;
let transfer: ArrayBuffer[] = [];
try {
  const read = readRecordRange(job.file, job, (r) => collector.add(r));
  const exported = collector.exportState();
  transfer = exported.transfer;
  answer = { ok: true, read, state: exported.state };
} catch (error) {
  if (error instanceof RecordFileError) {
    const prefix = `${error.file}:${error.line}: `;
    answer = {
      ok: false,
      kind: 'record',
      line: error.line,
      message: error.message.startsWith(prefix) ? error.message.slice(prefix.length) : error.message,
    };
  } else if (error instanceof AnalysisInputError) {
    answer = { ok: false, kind: 'input', message: error.message };
  } else {
    const e = error as Error;
    answer = { ok: false, kind: 'other', message: e.message, ...(e.stack !== undefined && { stack: e.stack }) };
  }
}
parentPort?.postMessage(answer, transfer);
