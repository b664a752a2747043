// What the calling thread and the read workers share: the job a worker is sent, its answer, and
// the collector each of them reduces its byte range into (pairs compared inline).
import { RunCollector, type CollectorState } from '../analysis/collect.ts';
import type { RangeRead } from '../io/read-range.ts';

/** What a read worker is given (workerData). */
export interface RangeJob {
  file: string;
  start: number;
  stop: number;
  firstLine: number;
  atFileEnd: boolean;
  expectRepeat: boolean;
  keepText: boolean;
  /** Worst pairs kept per mismatch kind (CollectorOptions.divergencePairs). */
  divergencePairs?: number;
}

/** What a read worker answers. */
export type RangeAnswer =
  | { ok: true; read: RangeRead; state: CollectorState }
  | { ok: false; kind: 'record'; line: number; message: string }
  | { ok: false; kind: 'input' | 'other'; message: string; stack?: string };

/**
 * A collector comparing pairs inline, on the thread that holds both outputs. Its worst-pairs sample
 * (the divergence explorer's) merges into the same result whatever the number of threads.
 */
export function inlineCollector(options: { expectRepeat: boolean; keepText: boolean; divergencePairs?: number }): RunCollector {
  return new RunCollector({
    expectRepeat: options.expectRepeat,
    keepText: options.keepText,
    ...(options.divergencePairs !== undefined && { divergencePairs: options.divergencePairs }),
  });
}
