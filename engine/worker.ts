// Worker-thread entry: one Sender (its share of the plan, its own pacer and undici pools per arm),
// posting each finished record to the main thread, which writes them.
//
// Protocol (main → worker): start {origin}, stop {reason, graceMs}, cancel {message}.
//           (worker → main): ready {warmUp}, record {record}, stats {stats}, finished {stats}.
import { parentPort, workerData } from 'node:worker_threads';
import type { RequestRecord } from '../core/record.ts';
import { monoNow } from './pacer.ts';
import { Sender, type SenderSetup, type SenderStats, type SenderWarmUp } from './sender.ts';

/** stop: `requestedNs` is when the coordinator was asked (monotonic, shared by every thread): the grace period counts from then. */
export type ToWorker =
  | { type: 'start'; origin: bigint }
  | { type: 'stop'; reason: string; graceMs: number; requestedNs: bigint }
  | { type: 'cancel'; message: string };

export type FromWorker =
  | { type: 'ready'; warmUp: SenderWarmUp }
  | { type: 'record'; record: RequestRecord }
  | { type: 'stats'; stats: SenderStats }
  | { type: 'finished'; stats: SenderStats };

export const STATS_INTERVAL_MS = 500;

if (parentPort !== null) {
  const port = parentPort;
  const post = (message: FromWorker) => port.postMessage(message);
  const sender = new Sender(workerData as SenderSetup, (record) => post({ type: 'record', record }));

  port.on('message', (message: ToWorker) => {
    if (message.type === 'start') {
      const ticker = setInterval(() => post({ type: 'stats', stats: sender.stats() }), STATS_INTERVAL_MS);
      sender.start(message.origin);
      void sender.done.then(async () => {
        clearInterval(ticker);
        post({ type: 'finished', stats: sender.stats() });
        await sender.close();
        port.close();
      });
    } else if (message.type === 'stop') {
      const lateMs = Number(monoNow() - message.requestedNs) / 1e6;
      void sender.drain(message.reason, message.graceMs, message.graceMs - lateMs);
    } else if (message.type === 'cancel') {
      sender.cancelAll(message.message);
    }
  });
  void sender.ready.then((warmUp) => post({ type: 'ready', warmUp }));
}
