// The scheduler (engine/sender.ts) and the client (engine/client.ts) on a virtual clock
// (test/support/virtual-clock.ts): the real Sender, plan, request handler, SSE parser and stream
// recorder, with time that moves only when the test says and an upstream scripted on that time.
// So timing behaviour is asserted exactly, never against the machine's speed: never early, exactly
// once, a late wake sends every overdue request with its lag, a chunk sends a due request at the
// chunk's instant, the deadline gives a timeout record at the deadline, the grace period is honoured.
// Real-hardware accuracy is measured by `npm run check:timing` and `npm run bench`, not here.
import test from 'ava';
import type { RequestRecord } from '../core/record.ts';
import { parseWorkload } from '../core/workload/workload.ts';
import { SEND_BURST, Sender, type SenderSetup } from '../engine/sender.ts';
import { Pacer } from '../engine/pacer.ts';
import { ClockPacer } from '../engine/clock.ts';
import { ms, ScriptedTransport, sseChunk, streamScript, VirtualClock, VirtualPacer, type Script } from './support/virtual-clock.ts';
import type { Dispatcher } from 'undici';

function setup(options: { qps: number; requests: number; arms?: number; maxInflight?: number; timeoutMs?: number }): SenderSetup {
  const workload = parseWorkload(JSON.stringify({ id: 'q', model: 'm', messages: [{ role: 'user', content: 'q' }] }) + '\n', {
    file: 'w.jsonl',
    format: 'openai',
    seed: 1,
  });
  return {
    runId: 'v',
    instance: '',
    arms: ['baseline', 'candidate']
      .slice(0, options.arms ?? 1)
      .map((arm) => ({ arm, url: 'http://upstream.invalid', model: null, headers: {} })),
    workload,
    plan: { arrival: 'constant', qps: options.qps, requests: options.requests, seed: 1, order: 'sequential', warmup: 0 },
    stride: 1,
    offset: 0,
    stream: true,
    timeoutMs: options.timeoutMs ?? 60_000,
    maxInflight: options.maxInflight ?? 0,
    pacer: 'spin',
    preconnect: 0,
  };
}

interface Harness {
  clock: VirtualClock;
  pacer: VirtualPacer;
  transport: ScriptedTransport;
  sender: Sender;
  records: RequestRecord[];
  origin: bigint;
  finished: () => boolean;
}

const indexOf = (id: string) => Number(id.split(':').at(-1));

async function harness(
  s: SenderSetup,
  script: (index: number, arm: string) => Script,
  late: (n: number) => number | null = () => 0,
  onRecord?: (r: RequestRecord, h: Harness) => void,
): Promise<Harness> {
  const clock = new VirtualClock();
  const pacer = new VirtualPacer(clock, late);
  const transport = new ScriptedTransport(clock, (id) => script(indexOf(id), id.split(':')[1] ?? ''));
  const records: RequestRecord[] = [];
  let done = false;
  const h = {} as Harness;
  const sender = new Sender(
    s,
    (r) => {
      records.push(r);
      onRecord?.(r, h);
    },
    { pacer, clock, dispatcher: () => transport.dispatcher() },
  );
  void sender.done.then(() => (done = true));
  await sender.ready;
  const origin = clock.now();
  Object.assign(h, { clock, pacer, transport, sender, records, origin, finished: () => done });
  sender.start(origin);
  return h;
}

const byIndex = (records: RequestRecord[]) => [...records].sort((a, b) => a.index - b.index || a.arm.localeCompare(b.arm));

test('on time: every request leaves exactly at its instant, once per arm, and nothing leaves a nanosecond early', async (t) => {
  const total = 20;
  const h = await harness(setup({ qps: 100, requests: total, arms: 2 }), () => streamScript(5, 2, 2));
  for (let i = 0; i < total; i++) {
    const due = h.origin + ms(i * 10);
    await h.clock.advanceTo(due - 1n);
    t.is(h.transport.dispatches.length, 2 * i, `at ${i * 10} ms − 1 ns: only requests 0..${i - 1} sent`);
    await h.clock.advanceTo(due);
    t.is(h.transport.dispatches.length, 2 * (i + 1), `at ${i * 10} ms: request ${i} sent to both arms`);
  }
  await h.clock.runUntil(h.finished);
  t.true(h.finished());
  t.true(
    [...h.transport.counts().values()].every((n) => n === 1) && h.transport.counts().size === 2 * total,
    'each request dispatched once',
  );
  t.is(h.records.length, 2 * total);
  for (const r of h.records) {
    t.is(r.outcome.kind, 'ok');
    t.is(r.sent_ns, r.scheduled_ns, `request ${r.index} (${r.arm}) sent with zero lag`);
    t.is(r.content_ns.length, 5);
    t.is(r.first_content_ns! - r.sent_ns!, 2e6, 'first token stamped at its arrival instant');
  }
});

test('a late wake sends every overdue request at once, each with its own lag; the next one on time', async (t) => {
  // 10 ms apart; the first wake-up comes 45 ms late: requests 0-4 (due 0-40 ms) leave together at 45 ms.
  const h = await harness(
    setup({ qps: 100, requests: 8 }),
    () => streamScript(1, 1, 1),
    (n) => (n === 0 ? 45 : 0),
  );
  await h.clock.advanceTo(h.origin + ms(45) - 1n);
  t.is(h.transport.dispatches.length, 0, 'nothing before the wake');
  await h.clock.advanceTo(h.origin + ms(45));
  t.deepEqual(
    h.transport.dispatches.map((d) => [indexOf(d.id), d.at - h.origin]),
    [0, 1, 2, 3, 4].map((i) => [i, ms(45)]),
  );
  await h.clock.runUntil(h.finished);
  const lags = byIndex(h.records).map((r) => (r.sent_ns! - r.scheduled_ns) / 1e6);
  t.deepEqual(lags, [45, 35, 25, 15, 5, 0, 0, 0]);
  t.is(h.pacer.fired, 4, 'one wake for the overdue batch, then one per later request');
});

test('a chunk that arrives once a request is due sends it at that instant, before a late pacer, exactly once', async (t) => {
  // Request 0 streams a chunk every 3 ms from 1 ms; requests are 10 ms apart; the pacer is 5 ms late.
  // The first chunk at or after each due instant (1, 10, 19, 28 ms after it... as the stream goes)
  // sends the request; once the stream is over only the (late) pacer can.
  const h = await harness(
    setup({ qps: 100, requests: 6 }),
    (i) => (i === 0 ? streamScript(12, 1, 3) : streamScript(1, 1, 1)),
    (n) => (n === 0 ? 0 : 5),
  );
  await h.clock.runUntil(h.finished);
  t.true(h.finished());
  t.true([...h.transport.counts().values()].every((n) => n === 1) && h.transport.counts().size === 6, 'each request dispatched once');
  const r0 = byIndex(h.records)[0]!;
  const chunks = r0.content_ns; // 1, 4, 7, ..., 34 ms
  t.deepEqual(
    chunks.map((c) => c / 1e6),
    Array.from({ length: 12 }, (_, k) => 1 + 3 * k),
  );
  for (const r of byIndex(h.records).slice(1)) {
    const trigger = chunks.find((c) => c >= r.scheduled_ns);
    const expected = trigger !== undefined && trigger < r.scheduled_ns + 5e6 ? trigger : r.scheduled_ns + 5e6;
    t.is(r.sent_ns, expected, `request ${r.index}: sent by ${expected === trigger ? 'a chunk' : 'the late pacer'}`);
  }
  // Requests 1-3 (due 10, 20, 30 ms) have a chunk within 5 ms of their instant; 4 and 5 only the pacer.
  t.is(h.pacer.fired, 3, 'the pacer sent request 0 and the two due after the stream');
});

test('stop() from the record callback of the chunk that made the next request due: that request never leaves', async (t) => {
  // Request 1 is due at 40 ms; request 0's whole answer, [DONE] included, arrives in one chunk at 120 ms.
  for (const how of ['stop', 'drain'] as const) {
    const h = await harness(
      setup({ qps: 25, requests: 3 }),
      () => ({
        headersMs: 120,
        chunks: [
          {
            atMs: 120,
            text: streamScript(2, 0, 0)
              .chunks!.map((c) => c.text)
              .join(''),
          },
        ],
        endMs: 120,
      }),
      (n) => (n === 0 ? 0 : null), // only chunks can send after request 0
      (_r, self) => (how === 'stop' ? self.sender.stop('enough') : void self.sender.drain('enough', 1_000)),
    );
    await h.clock.runUntil(h.finished);
    t.true(h.finished(), `${how}: finished`);
    t.deepEqual(
      h.transport.dispatches.map((d) => d.id),
      ['v:baseline:0'],
      `${how}: only request 0 was sent`,
    );
    t.deepEqual(
      h.records.map((r) => [r.index, r.outcome.kind, r.end_ns]),
      [[0, 'ok', 120e6]],
    );
  }
});

test('the deadline: no headers, no first token, a stalled stream → one timeout record each, at the deadline exactly', async (t) => {
  const scripts: Script[] = [
    { headersMs: null, endMs: null },
    { headersMs: 3, endMs: null },
    { ...streamScript(3, 5, 5), chunks: streamScript(3, 5, 5).chunks!.slice(0, 2), endMs: null },
    { ...streamScript(2, 998, 1) }, // the last chunk and [DONE] 1 ms before the deadline: ok
  ];
  const h = await harness(setup({ qps: 1000, requests: scripts.length, timeoutMs: 1_000 }), (i) => scripts[i]!);
  await h.clock.advanceTo(h.origin + ms(1_000) - 1n); // request 0 (sent at 0) is the first to reach its deadline
  t.is(h.records.filter((r) => r.outcome.kind === 'timeout').length, 0, 'no timeout before the deadline');
  await h.clock.runUntil(h.finished);
  const got = byIndex(h.records).map((r) => [
    r.index,
    r.outcome.kind,
    r.outcome.kind === 'timeout' ? r.outcome.phase : null,
    (r.end_ns! - r.sent_ns!) / 1e6,
  ]);
  t.deepEqual(got, [
    [0, 'timeout', 'headers', 1_000],
    [1, 'timeout', 'first_token', 1_000],
    [2, 'timeout', 'stream', 1_000],
    [3, 'ok', null, 999],
  ]);
  t.deepEqual(
    h.transport.dispatches.map((d) => d.aborted),
    [true, true, true, false],
    'a timed-out request is aborted upstream',
  );
  t.is(byIndex(h.records)[2]!.content_ns.length, 2, 'partial data stays in the record');
});

test('--max-inflight 1: due requests wait for the slot in order; queue_wait_ns is the exact wait', async (t) => {
  // Due every 10 ms, each stream lasts 25 ms: request k leaves when k-1 ends.
  const h = await harness(setup({ qps: 100, requests: 4, maxInflight: 1 }), () => streamScript(5, 5, 5));
  await h.clock.runUntil(h.finished);
  const records = byIndex(h.records);
  t.deepEqual(
    records.map((r) => [r.index, r.sent_ns! / 1e6, r.end_ns! / 1e6, r.queue_wait_ns / 1e6]),
    [
      [0, 0, 25, 0],
      [1, 25, 50, 15],
      [2, 50, 75, 30],
      [3, 75, 100, 45],
    ],
  );
});

test('drain: in-flight requests get exactly the grace period, then are cancelled with a record', async (t) => {
  const h = await harness(setup({ qps: 100, requests: 10, timeoutMs: 60_000 }), () => ({ headersMs: 1, endMs: null }));
  await h.clock.advanceTo(h.origin + ms(25)); // requests 0-2 sent
  void h.sender.drain('test', 500);
  await h.clock.advanceTo(h.origin + ms(525) - 1n);
  t.is(h.records.length, 0, 'nothing cancelled before the grace period ends');
  await h.clock.advanceTo(h.origin + ms(525));
  await h.clock.runUntil(h.finished);
  t.true(h.finished());
  t.deepEqual(
    byIndex(h.records).map((r) => [r.index, r.outcome.kind, r.end_ns! / 1e6]),
    [
      [0, 'cancelled', 525],
      [1, 'cancelled', 525],
      [2, 'cancelled', 525],
    ],
  );
  t.is(h.transport.dispatches.length, 3, 'nothing sent after the stop');
});

test('a stop during a huge overdue backlog: at most one burst leaves, then nothing more; every sent request has a record', async (t) => {
  // --qps 100000 and a wake-up 500 ms late: 50,001 requests are overdue at once (the sender far behind
  // its schedule, as at --qps 20000 on a real machine). The stop (a worker's stop message, a signal in
  // the main thread) is delivered by the event loop: here an immediate queued by the first dispatch.
  // Before SEND_BURST the sender sent the whole backlog in one synchronous loop and never saw it.
  let first = true;
  const h = await harness(
    setup({ qps: 100_000, requests: 100_000 }),
    () => ({ headersMs: 1, endMs: null }), // never ends: in flight until the grace period is over
    (n) => (n === 0 ? 500 : 0),
    undefined,
  );
  const originalDispatch = h.transport.dispatches.push.bind(h.transport.dispatches);
  h.transport.dispatches.push = (...entries) => {
    if (first) {
      first = false;
      setImmediate(() => void h.sender.drain('SIGTERM', 1_000));
    }
    return originalDispatch(...entries);
  };
  await h.clock.advanceTo(h.origin + ms(500));
  t.is(h.transport.dispatches.length, SEND_BURST, 'one burst left before the stop was seen');
  t.true(
    h.transport.dispatches.every((d) => d.at === h.origin + ms(500)),
    'all at the late wake',
  );
  await h.clock.runUntil(h.finished);
  t.true(h.finished(), 'drained');
  t.is(h.transport.dispatches.length, SEND_BURST, 'nothing sent after the stop');
  t.deepEqual(
    byIndex(h.records).map((r) => r.index),
    Array.from({ length: SEND_BURST }, (_, i) => i),
    'every sent request has a record',
  );
  t.true(h.records.every((r) => r.outcome.kind === 'cancelled' && r.end_ns === 1_500e6));
});

test('behind schedule, the chunks one turn reads send one burst in all, not one each', async (t) => {
  // Request 0 is answered at 500 ms by 200 chunks read in one turn of the event loop (each its own
  // callback, with microtasks between, as socket reads are); every later request is overdue by then
  // and the pacer never wakes (only chunks can send). Before the per-turn budget, each chunk sent a
  // burst of its own: 200 × SEND_BURST pairs in one turn, which never ended at a high rate.
  const clock = new VirtualClock();
  const pacer = new VirtualPacer(clock, (n) => (n === 0 ? 0 : null));
  const dispatched: string[] = [];
  const dispatcher = {
    dispatch(options: { headers: Record<string, string> }, handler: Record<string, (...args: unknown[]) => void>) {
      const id = options.headers['x-request-id'] ?? '';
      dispatched.push(id);
      const controller = { aborted: false, paused: false, reason: null, abort() {}, pause() {}, resume() {} };
      handler.onRequestStart?.(controller, {});
      if (id.endsWith(':0')) {
        clock.setTimer(() => handler.onResponseStart?.(controller, 200, { 'content-type': 'text/event-stream' }, 'OK'), 1);
        // Each chunk in its own callback, the microtasks it queues (a chunk-triggered send) run before the next.
        const deliver = (k: number): void => {
          handler.onResponseData?.(controller, Buffer.from(sseChunk(`t${k} `)));
          if (k < 199) queueMicrotask(() => deliver(k + 1));
        };
        clock.setTimer(() => deliver(0), 500);
      }
      return true;
    },
    close: () => Promise.resolve(),
    destroy: () => Promise.resolve(),
  };
  const records: RequestRecord[] = [];
  const sender = new Sender(setup({ qps: 100_000, requests: 100_000 }), (r) => records.push(r), {
    pacer,
    clock,
    dispatcher: () => dispatcher as unknown as Dispatcher,
  });
  await sender.ready;
  sender.start(clock.now());
  await clock.advanceBy(500);
  t.is(dispatched.length, 1 + SEND_BURST, 'request 0, then one burst for the whole turn');
  void sender.drain('test', 0);
  await clock.advanceBy(1);
  t.is(dispatched.length, 1 + SEND_BURST, 'nothing after the stop');
});

test("the coordinator's stop flag stops sending at once, before its stop message is read", async (t) => {
  const s = { ...setup({ qps: 100_000, requests: 100_000 }), stopFlag: new Int32Array(new SharedArrayBuffer(4)) };
  const h = await harness(
    s,
    () => streamScript(1, 1, 1),
    (n) => (n === 0 ? 500 : 0),
  );
  const originalDispatch = h.transport.dispatches.push.bind(h.transport.dispatches);
  h.transport.dispatches.push = (...entries) => {
    Atomics.store(s.stopFlag, 0, 1); // raised by another thread while this one sends
    return originalDispatch(...entries);
  };
  await h.clock.advanceTo(h.origin + ms(600));
  t.is(h.transport.dispatches.length, 1, 'only the request being dispatched when the flag went up');
  t.false(h.finished(), 'the schedule ends with the stop message, not the flag');
  void h.sender.drain('SIGTERM', 1_000);
  await h.clock.runUntil(h.finished);
  t.true(h.finished());
  t.is(h.transport.dispatches.length, 1);
  t.deepEqual(
    h.records.map((r) => [r.index, r.outcome.kind]),
    [[0, 'ok']],
  );
});

for (const kind of ['spin', 'clock'] as const) {
  test(`the ${kind} pacer never fires from inside at(), even when the instant is past (the event loop runs first)`, async (t) => {
    const now = 5_000_000_000n;
    const pacer = kind === 'spin' ? new Pacer(() => now) : new ClockPacer(() => now);
    t.teardown(() => pacer.close());
    const alive = setInterval(() => {}, 1_000);
    t.teardown(() => clearInterval(alive));
    if (pacer instanceof ClockPacer) await pacer.ready;
    const fired: bigint[] = [];
    pacer.at(now - 1_000_000_000n, (at) => fired.push(at));
    t.deepEqual(fired, [], 'not synchronously');
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
    t.deepEqual(fired, [now], 'on a later turn');
  });

  test(`the ${kind} pacer polls the clock it is given: fires once, at the first poll that finds now ≥ due, never before`, async (t) => {
    let now = 5_000_000_000n;
    const due = now + 500_000n; // within both pacers' polling window: no timer or helper-thread sleep involved
    const pacer = kind === 'spin' ? new Pacer(() => now) : new ClockPacer(() => now);
    t.teardown(() => pacer.close());
    const alive = setInterval(() => {}, 1_000); // the helper thread is unref'd: keep the loop up while it starts
    t.teardown(() => clearInterval(alive));
    if (pacer instanceof ClockPacer) await pacer.ready;
    const fired: bigint[] = [];
    pacer.at(due, (at) => fired.push(at));
    const turns = async (n: number) => {
      for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve));
    };
    await turns(20);
    now = due - 1n;
    await turns(20);
    t.deepEqual(fired, [], 'not a nanosecond early');
    now = due;
    await turns(20);
    now = due + 1_000n;
    await turns(20);
    t.deepEqual(fired, [due], 'once, with the instant it found');
    pacer.at(now + 100n, (at) => fired.push(at)); // armed, not yet due
    pacer.cancel();
    now += 1_000n; // due now, but cancelled
    await turns(20);
    t.is(fired.length, 1, 'a cancelled wake-up never fires');
  });
}

test('RecordLedger: the ranks launched without a record, whatever order the records came in; memory only for the out-of-order ones', async (t) => {
  const { RecordLedger } = await import('../engine/run-load.ts');
  const ledger = new RecordLedger();
  t.deepEqual(ledger.missing(4), [0, 1, 2, 3]);
  for (const j of [1, 0, 3, 6]) ledger.add(j);
  t.deepEqual(ledger.missing(8), [2, 4, 5, 7]);
  ledger.add(2);
  ledger.add(2); // a repeat changes nothing
  t.deepEqual(ledger.missing(8), [4, 5, 7]);
  t.deepEqual(ledger.missing(3), [], 'nothing missing below what was launched');
});
