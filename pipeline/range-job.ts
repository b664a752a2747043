// What the calling thread and the read workers share: the job a worker is sent, its answer, and
// the collector each of them reduces its byte range into (similarity computed inline).
import { RunCollector, type CollectorState } from '../analysis/collect.ts';
import { similarityRatio } from '../analysis/stats/similarity.ts';
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
}

/** What a read worker answers. */
export type RangeAnswer =
  | { ok: true; read: RangeRead; state: CollectorState }
  | { ok: false; kind: 'record'; line: number; message: string }
  | { ok: false; kind: 'input' | 'other'; message: string; stack?: string };

/** A collector whose similarity is computed inline, on the thread that holds both texts. */
export function inlineCollector(options: { expectRepeat: boolean; keepText: boolean }): RunCollector {
  const collector: RunCollector = new RunCollector({
    expectRepeat: options.expectRepeat,
    keepText: options.keepText,
    sink: (comparison, index, a, b) => collector.setSimilarity(comparison, index, similarityRatio(a, b)),
  });
  return collector;
}
