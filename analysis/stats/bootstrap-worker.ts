// Helper thread for large bootstraps (see bootstrap-parallel.ts): claims blocks of resamples of
// each job it is sent and computes them in the job's shared arrays.
import { parentPort } from 'node:worker_threads';
import { newCounts, resampleRange } from './resample.ts';
import { workBlocks, type BootstrapJob } from './bootstrap-blocks.ts';

parentPort?.on('message', (job: BootstrapJob) => {
  workBlocks(job, resampleRange, newCounts(job.sorted.length));
});
