// Worker thread: computes similarity ratios for batches of text pairs (see similarity-pool.ts).
import { parentPort } from 'node:worker_threads';
import { similarityRatio } from './similarity.ts';

parentPort?.on('message', (batch: { id: number; a: string[]; b: string[] }) => {
  const ratios = new Float64Array(batch.a.length);
  for (let i = 0; i < batch.a.length; i++) ratios[i] = similarityRatio(batch.a[i] as string, batch.b[i] as string);
  parentPort?.postMessage({ id: batch.id, ratios }, [ratios.buffer]);
});
