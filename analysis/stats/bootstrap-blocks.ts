// The blocks of a parallel bootstrap (bootstrap-parallel.ts): the job shared through
// SharedArrayBuffers and the claim loop every thread runs. Imported by the calling thread and by
// bootstrap-worker.ts, so the worker's module graph does not lead back to the module that starts it.
import type { resampleRange } from './resample.ts';

/** A bootstrap job as posted to a helper; the arrays live in SharedArrayBuffers. */
export interface BootstrapJob {
  sorted: Float64Array;
  seed: number;
  p: number;
  blockSize: number;
  means: Float64Array;
  pcts: Float64Array;
  /** Per block: FREE, CLAIMED or DONE. */
  blocks: Int32Array;
  /** [0]: blocks done (the caller waits on it). */
  progress: Int32Array;
}

export const FREE = 0;
export const CLAIMED = 1;
export const DONE = 2;

/**
 * bootstrap.ts's resampling core. Passed in by the callers (bootstrap.ts and the worker) rather
 * than imported, so this module does not import bootstrap.ts back at run time.
 */
export type ResampleKernel = typeof resampleRange;

/** Claims and computes free blocks until none is left. */
export function workBlocks(job: BootstrapJob, kernel: ResampleKernel, counts: Uint8Array): void {
  const total = job.blocks.length;
  const resamples = job.means.length;
  for (let i = 0; i < total; i++) {
    if (Atomics.compareExchange(job.blocks, i, FREE, CLAIMED) !== FREE) continue;
    const from = i * job.blockSize;
    kernel(job.sorted, job.seed, job.p, from, Math.min(resamples, from + job.blockSize), job.means, job.pcts, counts);
    Atomics.store(job.blocks, i, DONE);
    Atomics.add(job.progress, 0, 1);
    Atomics.notify(job.progress, 0);
  }
}
