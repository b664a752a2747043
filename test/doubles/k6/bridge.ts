// Blocking calls from the VU thread to the network worker: post a request, then sleep in
// Atomics.wait until the worker has posted a reply, and take it with receiveMessageOnPort.
// This keeps the k6 script's logic synchronous and in order, as k6 runs it: http.post and
// sse.open return only when the response (or the stream) is over, and SSE callbacks run on the
// VU's own thread as each event arrives.
import { MessageChannel, Worker, receiveMessageOnPort, type MessagePort } from 'node:worker_threads';

const signal = new Int32Array(new SharedArrayBuffer(4));
let worker: Worker | null = null;
let port: MessagePort | null = null;
let received = 0;
let nextId = 1;
const early = new Map<number, unknown[]>();

function ensure(): MessagePort {
  if (port === null) {
    const channel = new MessageChannel();
    worker = new Worker(new URL('./net-worker.ts', import.meta.url), {
      workerData: { port: channel.port2, signal },
      transferList: [channel.port2],
    });
    worker.unref();
    port = channel.port1;
    receive(0); // worker started and undici loaded: no start-up cost inside the first request's timing
  }
  return port;
}

export function newId(): number {
  return nextId++;
}

export function post(message: { op: string; id: number } & Record<string, unknown>): void {
  ensure().postMessage(message);
}

/** Blocks until the worker replies for `id` (replies for other ids are kept for their callers). */
export function receive<T extends { id: number }>(id: number, timeoutMs = 120_000): T {
  const queued = early.get(id);
  if (queued && queued.length > 0) return queued.shift() as T;
  const p = ensure();
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const got = receiveMessageOnPort(p);
    if (got) {
      received++;
      const message = got.message as T;
      if (message.id === id) return message;
      early.set(message.id, [...(early.get(message.id) ?? []), message]);
      continue;
    }
    if (Date.now() > deadline) throw new Error(`k6 double: no reply from the network worker within ${timeoutMs} ms`);
    Atomics.wait(signal, 0, received, 50);
  }
}

export async function closeBridge(): Promise<void> {
  const w = worker;
  worker = null;
  port?.close();
  port = null;
  if (w) await w.terminate();
  received = 0;
  signal[0] = 0;
  early.clear();
}
