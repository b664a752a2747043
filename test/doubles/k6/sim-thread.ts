// Runs simulated endpoints (sim/server.ts) in a worker thread: the k6 doubles block the main
// thread in Atomics.wait while a request is in flight, so the servers must live on another thread.
import { parentPort, workerData } from 'node:worker_threads';
import { startSim, type SimOptions } from '../../../sim/server.ts';

const configs = workerData as SimOptions[];
const servers = await Promise.all(configs.map((c) => startSim(c)));
parentPort!.postMessage({ urls: servers.map((s) => s.url) });
parentPort!.on('message', (m: { op: 'close' }) => {
  if (m.op === 'close') void Promise.all(servers.map((s) => s.close())).then(() => parentPort!.postMessage({ closed: true }));
});
