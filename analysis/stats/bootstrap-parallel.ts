// Splits a large bootstrap's resamples between the calling thread and helper worker threads while
// keeping bootstrap() synchronous (report building is a pure, synchronous function): the work is
// cut into blocks of resamples held in SharedArrayBuffers; every thread claims blocks with an
// atomic compare-and-swap and writes its results in place; the caller blocks in Atomics.wait
// until every block is done. Each block's numbers do not depend on which thread drew them
// (bootstrap.ts jumps the seeded generator to the block's first draw), so the result is the
// single-threaded one, bit for bit.
// Robustness: a helper that is slow to start simply claims nothing (the caller does all the
// blocks); one that stops making progress for STALL_MS has its claimed blocks recomputed here.
// Node-specific, like parallel-read.ts.
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { newCounts as NewCounts } from './resample.ts';
import { DONE, workBlocks, type BootstrapJob, type ResampleKernel } from './bootstrap-blocks.ts';

const STALL_MS = 10_000;

let helpers: Worker[] | null = null;

/** Helper threads, started once per process and unref'd (they never keep the process alive). */
function startHelpers(): Worker[] {
  if (helpers !== null) return helpers;
  helpers = [];
  const count = Math.max(0, availableParallelism() - 1);
  for (let i = 0; i < count; i++) {
    try {
      const worker = new Worker(new URL('./bootstrap-worker.ts', import.meta.url));
      worker.unref();
      worker.on('error', () => {
        // A dead helper claims nothing more; blocks it held are recomputed by the stall check.
        helpers = (helpers ?? []).filter((w) => w !== worker);
      });
      helpers.push(worker);
    } catch {
      break;
    }
  }
  return helpers;
}

/**
 * Posts a bootstrap job to the helper threads, which start on it at once; null when there is no
 * helper (one core). finishJob joins it.
 */
export function startJob(sorted: Float64Array, seed: number, p: number, resamples: number): BootstrapJob | null {
  const workers = startHelpers();
  if (workers.length === 0) return null;
  const shared = (length: number) => new Float64Array(new SharedArrayBuffer(length * Float64Array.BYTES_PER_ELEMENT));
  const blockSize = Math.max(1, Math.ceil(resamples / 64));
  const job: BootstrapJob = {
    sorted: shared(sorted.length),
    seed,
    p,
    blockSize,
    means: shared(resamples),
    pcts: shared(resamples),
    blocks: new Int32Array(new SharedArrayBuffer(Math.ceil(resamples / blockSize) * Int32Array.BYTES_PER_ELEMENT)),
    progress: new Int32Array(new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT)),
  };
  job.sorted.set(sorted);
  for (const w of workers) w.postMessage(job);
  return job;
}

/** Computes the job's blocks no helper has claimed, waits for the others, and returns the B means and percentiles. */
export function finishJob(
  job: BootstrapJob,
  kernel: ResampleKernel,
  newCounts: typeof NewCounts,
): { means: Float64Array; pcts: Float64Array } {
  const counts = newCounts(job.sorted.length);
  workBlocks(job, kernel, counts);
  // Wait for the blocks the helpers claimed; recompute them here if the helpers stop progressing.
  const total = job.blocks.length;
  const resamples = job.means.length;
  let done = Atomics.load(job.progress, 0);
  let lastProgress = performance.now();
  while (done < total) {
    Atomics.wait(job.progress, 0, done, 100);
    const now = Atomics.load(job.progress, 0);
    if (now !== done) {
      done = now;
      lastProgress = performance.now();
    } else if (performance.now() - lastProgress > STALL_MS) {
      for (let i = 0; i < total; i++) {
        if (Atomics.load(job.blocks, i) === DONE) continue;
        const from = i * job.blockSize;
        kernel(job.sorted, job.seed, job.p, from, Math.min(resamples, from + job.blockSize), job.means, job.pcts, counts);
      }
      break;
    }
  }
  return { means: Float64Array.from(job.means), pcts: Float64Array.from(job.pcts) };
}
