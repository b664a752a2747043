// The sender's per-chunk send check (#poke in engine/sender.ts) against its wake-up pacer: a request
// due while responses stream leaves from a chunk's microtask even when the pacer never wakes, or from
// the pacer, but exactly once, never before its instant, never after stop(), and still behind a
// --max-inflight cap. Real sockets: only order and counts are judged here, never how many ms a send
// took (the exact timing assertions run on a virtual clock in engine-virtual-clock.test.ts).
// A tiny in-test SSE server counts what it receives per x-request-id (run:arm:index).
import test from 'ava';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { RequestRecord } from '../core/record.ts';
import { parseWorkload } from '../core/workload/workload.ts';
import { monoNow, type PacerKind, type PacerLike } from '../engine/pacer.ts';
import { Sender, type SenderSetup } from '../engine/sender.ts';
import { ms, settle, VirtualClock, VirtualPacer } from './support/virtual-clock.ts';

const chunk = (text: string) => `data: ${JSON.stringify({ choices: [{ index: 0, delta: { content: text }, finish_reason: null }] })}\n\n`;
const DONE = 'data: [DONE]\n\n';

interface StreamServer {
  url: string;
  /** Requests received per x-request-id. */
  received: Map<string, number>;
}

/**
 * `plan(index)` says how request `index` is answered: `chunks` content chunks `gapMs` apart then
 * [DONE]; or, with `wholeAfterMs`, nothing until then and the whole stream in one write.
 */
async function streamServer(
  t: { teardown(fn: () => void): void },
  plan: (index: number) => { chunks: number; gapMs: number } | { wholeAfterMs: number },
): Promise<StreamServer> {
  const received = new Map<string, number>();
  const timers = new Set<NodeJS.Timeout>();
  const s = createServer((req: IncomingMessage, res: ServerResponse) => {
    req.resume();
    req.on('end', () => {
      const id = String(req.headers['x-request-id']);
      received.set(id, (received.get(id) ?? 0) + 1);
      const how = plan(Number(id.split(':').at(-1)));
      if ('wholeAfterMs' in how) {
        const timer = setTimeout(() => {
          timers.delete(timer);
          res.writeHead(200, { 'content-type': 'text/event-stream' });
          res.end(chunk('all') + chunk(' at once') + DONE);
        }, how.wholeAfterMs);
        timers.add(timer);
        return;
      }
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      let k = 0;
      const timer = setInterval(() => {
        if (k < how.chunks) {
          res.write(chunk(`t${k++} `));
          return;
        }
        clearInterval(timer);
        timers.delete(timer);
        res.end(DONE);
      }, how.gapMs);
      timers.add(timer);
    });
  });
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    for (const timer of timers) clearInterval(timer);
    s.closeAllConnections();
    s.close();
  });
  return { url: `http://127.0.0.1:${(s.address() as AddressInfo).port}`, received };
}

function setupFor(
  url: string,
  options: { qps: number; requests: number; arms?: number; maxInflight?: number; pacer?: PacerKind },
): SenderSetup {
  const workload = parseWorkload(JSON.stringify({ id: 'q', model: 'm', messages: [{ role: 'user', content: 'q' }] }) + '\n', {
    file: 'w.jsonl',
    format: 'openai',
    seed: 1,
  });
  return {
    runId: 'poke',
    instance: '',
    arms: ['baseline', 'candidate'].slice(0, options.arms ?? 1).map((arm) => ({ arm, url, model: null, headers: {} })),
    workload,
    plan: { arrival: 'constant', qps: options.qps, requests: options.requests, seed: 1, order: 'sequential', warmup: 0 },
    stride: 1,
    offset: 0,
    stream: true,
    timeoutMs: 600_000, // no request limit in practice: a loaded machine stretches the servers' timer-driven streams (one took > 5 s); ava's timeout is the backstop
    maxInflight: options.maxInflight ?? 0,
    pacer: options.pacer ?? 'spin',
    preconnect: 0,
  };
}

/** Fires its first wake-up when due and never another: later requests can only leave from a chunk. */
class FirstOnlyPacer implements PacerLike {
  idlePollNs = 0n;
  #calls = 0;
  #timer: NodeJS.Timeout | null = null;
  at(due: bigint, fire: (now: bigint) => void): void {
    if (this.#calls++ > 0) return;
    this.#timer = setTimeout(() => fire(monoNow()), Math.max(0, Number(due - monoNow()) / 1e6));
  }
  cancel(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
  }
  close(): void {
    this.cancel();
  }
}

/**
 * Fires every wake-up `lateMs` after its due instant (a busy loop's late timer), honouring cancel()
 * as the PacerLike contract says: a chunk that arrives in that window sends first, so the two paths
 * race on every request that has a stream in flight.
 */
class LatePacer implements PacerLike {
  idlePollNs = 0n;
  fired = 0;
  readonly #lateMs: number;
  #timer: NodeJS.Timeout | null = null;
  constructor(lateMs: number) {
    this.#lateMs = lateMs;
  }
  at(due: bigint, fire: (now: bigint) => void): void {
    this.cancel();
    this.#timer = setTimeout(
      () => {
        this.#timer = null;
        this.fired++;
        fire(monoNow());
      },
      Math.max(0, Number(due - monoNow()) / 1e6 + this.#lateMs),
    );
  }
  cancel(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
  }
  close(): void {
    this.cancel();
  }
}

/** Runs the sender to its end (ava's timeout is the backstop), closes it, and returns its records by index then arm. */
async function run(sender: Sender, records: RequestRecord[]): Promise<{ finished: boolean; records: RequestRecord[] }> {
  await sender.ready;
  sender.start(monoNow());
  const finished = await sender.done.then(() => true);
  sender.stop('test over');
  await sender.close();
  return { finished, records: [...records].sort((a, b) => a.index - b.index || a.arm.localeCompare(b.arm)) };
}

const ids = (total: number, arms: string[]) => arms.flatMap((arm) => Array.from({ length: total }, (_, i) => `poke:${arm}:${i}`)).sort();

test('requests due while a response streams leave from its chunks when the pacer never wakes again', async (t) => {
  // Request 0 streams 128 chunks 2 ms apart (~260 ms); requests 1-4 are due at 50-200 ms and answered at
  // once in one write; the pacer wakes only for request 0, so without the chunk check they never leave.
  const server = await streamServer(t, (i) => (i === 0 ? { chunks: 128, gapMs: 2 } : { wholeAfterMs: 0 }));
  const records: RequestRecord[] = [];
  const sender = new Sender(setupFor(server.url, { qps: 20, requests: 5 }), (r) => records.push(r), { pacer: new FirstOnlyPacer() });
  const result = await run(sender, records);
  t.true(result.finished, `only ${result.records.length} of 5 requests were sent and answered`);
  t.deepEqual(
    result.records.map((r) => r.outcome.kind),
    ['ok', 'ok', 'ok', 'ok', 'ok'],
  );
  // Request 0's stream lasts ≥ 256 ms after it was sent, so requests 1-4 all come due while it streams; the
  // only ways out are a chunk's check or the pacer's single wake (sending whatever was overdue then).
  // How soon after its chunk each leaves is asserted exactly on a virtual clock (engine-virtual-clock.test.ts);
  // on real sockets only the behaviour is judged: all sent, never before their instant.
  for (const r of result.records) t.true(r.sent_ns! >= r.scheduled_ns, `request ${r.index} left before its instant`);
});

test('stop() from the record callback of the chunk that made the next request due: the queued send never leaves', async (t) => {
  // Real HTTP on a virtual clock, so nothing here depends on the machine's speed: request 0 is sent at
  // 0 ms; the clock is moved to 50 ms (request 1 was due at 40 ms; the pacer never wakes again); only
  // then does the server answer request 0, its [DONE] included, in one chunk: that chunk's check queues
  // request 1's send, then its [DONE] ends request 0 and the record callback stops the sender, all
  // before the queued microtask runs.
  for (const how of ['stop', 'drain'] as const) {
    const received: string[] = [];
    let answer: (() => void) | null = null;
    const s = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        received.push(String(req.headers['x-request-id']));
        answer = () => {
          res.writeHead(200, { 'content-type': 'text/event-stream' });
          res.end(chunk('all') + chunk(' at once') + DONE);
        };
      });
    });
    await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
    t.teardown(() => {
      s.closeAllConnections();
      s.close();
    });
    const clock = new VirtualClock();
    const records: RequestRecord[] = [];
    const sender: Sender = new Sender(
      setupFor(`http://127.0.0.1:${(s.address() as AddressInfo).port}`, { qps: 25, requests: 3 }),
      (r) => {
        records.push(r);
        if (how === 'stop') sender.stop('enough');
        else void sender.drain('enough', 1_000);
      },
      { clock, pacer: new VirtualPacer(clock, (n) => (n === 0 ? 0 : null)) },
    );
    await sender.ready;
    const origin = clock.now();
    sender.start(origin);
    await clock.advanceTo(origin);
    while (answer === null) await settle(); // request 0 reached the server
    await clock.advanceTo(origin + ms(50));
    (answer as () => void)();
    await sender.done;
    await sender.close();
    t.deepEqual(received, ['poke:baseline:0'], `${how}: only request 0 reached the server`);
    t.deepEqual(
      records.map((r) => [r.index, r.outcome.kind, r.end_ns]),
      [[0, 'ok', 50e6]],
      `${how}: one record, stamped at the chunk's (virtual) arrival; no request sent after the stop`,
    );
  }
});

test('a late pacer and the chunk checks racing: every request leaves exactly once, never before its instant', async (t) => {
  // 20 ms apart. Even requests stream for ~26 ms (a chunk every 1 ms), so the next one is due while
  // chunks arrive and a chunk sends it before the pacer, which is 4 ms late; odd requests stream for
  // ~4 ms, so the next one is usually due on a quiet loop, where only the pacer can send it.
  const server = await streamServer(t, (i) => (i % 2 === 0 ? { chunks: 25, gapMs: 1 } : { chunks: 4, gapMs: 1 }));
  const records: RequestRecord[] = [];
  const pacer = new LatePacer(4);
  const total = 16;
  const sender = new Sender(setupFor(server.url, { qps: 50, requests: total, arms: 2 }), (r) => records.push(r), { pacer });
  const result = await run(sender, records);
  t.true(result.finished);
  t.deepEqual([...server.received.keys()].sort(), ids(total, ['baseline', 'candidate']), 'every request reached the server');
  t.true(
    [...server.received.values()].every((n) => n === 1),
    `a request reached the server twice: ${JSON.stringify([...server.received].filter(([, n]) => n > 1))}`,
  );
  t.is(result.records.length, 2 * total, 'one record per request per arm');
  t.true(result.records.every((r) => r.outcome.kind === 'ok'));
  for (const r of result.records)
    t.true(
      r.sent_ns! >= r.scheduled_ns,
      `request ${r.index} (${r.arm}) left ${((r.scheduled_ns - r.sent_ns!) / 1e6).toFixed(2)} ms before its instant`,
    );
  // Both paths were taken: the pacer sent the first request (no chunk before it) and, usually, those
  // after a short stream; chunks sent the rest. (Lags are logged, not judged: timing is the bench's job.)
  const lags = result.records.filter((r) => r.arm === 'baseline').map((r) => ((r.sent_ns! - r.scheduled_ns) / 1e6).toFixed(2));
  t.log(`the pacer sent ${pacer.fired} of ${total} requests, chunks the rest; send lags ${lags.join(', ')} ms`);
  t.true(pacer.fired >= 1, `pacer fired ${pacer.fired} times`); // how many is load-dependent: not judged
});

for (const pacer of ['spin', 'clock'] as const) {
  test(`--pacer ${pacer} with chunks arriving every millisecond: every request leaves exactly once, never before its instant`, async (t) => {
    const server = await streamServer(t, () => ({ chunks: 25, gapMs: 1 }));
    const records: RequestRecord[] = [];
    const total = 30;
    const sender = new Sender(setupFor(server.url, { qps: 200, requests: total, arms: 2, pacer }), (r) => records.push(r));
    const result = await run(sender, records);
    t.true(result.finished);
    t.deepEqual([...server.received.keys()].sort(), ids(total, ['baseline', 'candidate']));
    t.true(
      [...server.received.values()].every((n) => n === 1),
      'no request reached the server twice',
    );
    t.is(result.records.length, 2 * total);
    t.true(result.records.every((r) => r.outcome.kind === 'ok'));
    for (const r of result.records) t.true(r.sent_ns! >= r.scheduled_ns, `request ${r.index} (${r.arm}) left before its instant`);
  });
}

test('--max-inflight 1: requests that come due from a chunk wait for the slot, in order, and each leaves once', async (t) => {
  // Due every 10 ms, each stream ~25 ms: every request after the first is due while one streams,
  // so a chunk finds it due and #launch must queue it rather than send it.
  const server = await streamServer(t, () => ({ chunks: 25, gapMs: 1 }));
  const records: RequestRecord[] = [];
  const total = 6;
  const sender = new Sender(setupFor(server.url, { qps: 100, requests: total, maxInflight: 1 }), (r) => records.push(r), {
    pacer: new FirstOnlyPacer(),
  });
  const result = await run(sender, records);
  t.true(result.finished);
  t.true([...server.received.values()].every((n) => n === 1) && server.received.size === total, 'each request reached the server once');
  t.deepEqual(
    result.records.map((r) => [r.index, r.outcome.kind]),
    Array.from({ length: total }, (_, i) => [i, 'ok']),
  );
  const bySend = [...result.records].sort((a, b) => a.sent_ns! - b.sent_ns!);
  t.deepEqual(
    bySend.map((r) => r.index),
    Array.from({ length: total }, (_, i) => i),
    'sent in schedule order',
  );
  for (let k = 1; k < total; k++) {
    const [previous, r] = [bySend[k - 1]!, bySend[k]!];
    t.true(r.sent_ns! >= previous.end_ns!, `request ${r.index} left after request ${previous.index} ended (never two in flight)`);
    t.true(r.queue_wait_ns > 0, `request ${r.index} waited for the slot`);
  }
});
