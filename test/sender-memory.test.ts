// Memory of a sender (engine/sender.ts) is bounded by its requests in flight, not by the workload:
// over a streamed trace whose every request has its own ~50 KB synthesised body, the bodies alive at
// any moment are those of the pairs in flight (each pair's arms share one UTF-8 Buffer when they send
// the same model), and none is left once the run is over (no record, queue or cache keeps one). A
// small workload's bodies are still built once per item and reused. Counted exactly: every body the
// transport receives is watched through a WeakRef and counted after a full GC, on the virtual clock
// of test/support/virtual-clock.ts (no wall-clock or RSS thresholds).
import test from 'ava';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { Dispatcher } from 'undici';
import { parseWorkload } from '../core/workload/workload.ts';
import { BODY_CACHE_BYTES, Sender, type SenderSetup } from '../engine/sender.ts';
import { openWorkload, workloadSpec } from '../io/workload-file.ts';
import { generateMooncakeLikeTrace } from '../workloads/generate-trace.ts';
import { ms, ScriptedTransport, streamScript, VirtualClock, VirtualPacer } from './support/virtual-clock.ts';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const dir = mkdtempSync(join(tmpdir(), 'shadowbench-sender-memory-'));
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

/**
 * Every body dispatched, watched through a FinalizationRegistry (not WeakRefs: a WeakRef target
 * stays in V8's keep-during-job set, which Node does not always clear between turns, so it would
 * count as alive). A string body fails the test: it must be a Buffer.
 */
class Watched {
  /** Distinct bodies dispatched (a pair's shared body once) and how many of them were collected. */
  dispatched = 0;
  #collected = 0;
  readonly #registry = new FinalizationRegistry<null>(() => this.#collected++);
  /** Pairs whose two arms got the very same Buffer. */
  sharedPairs = 0;
  /** Bytes of the distinct bodies dispatched. */
  bytes = 0;
  /** keep: every body by request id (strong references: only for the small-workload test). */
  readonly seen = new Map<string, Buffer>();
  readonly #firstArm = new Map<string, Buffer>();
  wrap(inner: Dispatcher, keep: boolean): Dispatcher {
    return {
      dispatch: (options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler) => {
        const body = options.body;
        if (!Buffer.isBuffer(body)) throw new Error(`body is a ${typeof body}, not a Buffer`);
        const id = (options.headers as Record<string, string>)['x-request-id']!;
        const index = id.split(':').at(-1)!;
        const first = this.#firstArm.get(index);
        if (first === undefined) this.#firstArm.set(index, body);
        else {
          this.#firstArm.delete(index);
          if (first === body) this.sharedPairs++;
        }
        if (first !== body) {
          this.dispatched++;
          this.bytes += body.byteLength;
          this.#registry.register(body, null);
        }
        if (keep) this.seen.set(id, body);
        return inner.dispatch(options, handler);
      },
      close: () => inner.close(),
      destroy: () => inner.destroy(),
    } as unknown as Dispatcher;
  }
  /** Distinct bodies not yet collected after a full GC (finalization callbacks run on later turns). */
  async alive(): Promise<number> {
    gc();
    for (let k = 0; k < 5; k++) await new Promise((resolve) => setImmediate(resolve));
    return this.dispatched - this.#collected;
  }
}

function setup(workload: SenderSetup['workload'], requests: number, models: Array<string | null>): SenderSetup {
  return {
    runId: 'm',
    instance: '',
    arms: models.map((model, k) => ({ arm: k === 0 ? 'baseline' : 'candidate', url: 'http://upstream.invalid', model, headers: {} })),
    workload,
    plan: { arrival: 'constant', qps: 100, requests, seed: 1, order: 'sequential', warmup: 0 },
    stride: 1,
    offset: 0,
    stream: true,
    timeoutMs: 60_000,
    maxInflight: 0,
    pacer: 'spin',
    preconnect: 0,
  };
}

async function start(s: SenderSetup, watched: Watched, keep: boolean, responseMs: number) {
  const clock = new VirtualClock();
  const pacer = new VirtualPacer(clock, () => 0);
  // Each response: 10 tokens over responseMs.
  const transport = new ScriptedTransport(clock, () => streamScript(10, responseMs / 10, responseMs / 10 - 0.1));
  let done = false;
  let records = 0;
  const sender = new Sender(s, () => records++, { pacer, clock, dispatcher: () => watched.wrap(transport.dispatcher(), keep) });
  void sender.done.then(() => (done = true));
  await sender.ready;
  const origin = clock.now();
  sender.start(origin);
  return { clock, sender, origin, finished: () => done, records: () => records };
}

test('a streamed trace: the bodies alive are those of the pairs in flight, and none once the run is over', async (t) => {
  const path = join(dir, 'trace.jsonl');
  // Lines of ≥ 4,000 tokens only (bodies ≥ ~24 KB): none is small enough for the body cache (a body
  // is cached only if the workload's bodies of its size all fit: 1,000 × 24 KB > BODY_CACHE_BYTES).
  const lines = generateMooncakeLikeTrace(3_000, 3)
    .trim()
    .split('\n')
    .filter((l) => (JSON.parse(l) as { input_length: number }).input_length >= 4_000)
    .slice(0, 1_000);
  t.is(lines.length, 1_000);
  writeFileSync(path, lines.join('\n') + '\n');
  const source = await openWorkload(path, { seed: 1 });
  const requests = 300;
  const watched = new Watched();
  // 100 pairs/s, each response lasting 95 ms: about 10 pairs in flight at any time.
  const h = await start(setup(workloadSpec(source), requests, [null, null]), watched, false, 95);
  for (const atMs of [500, 1_000, 1_995, 2_500, 2_995]) {
    await h.clock.advanceTo(h.origin + ms(atMs));
    const inflightPairs = h.sender.stats().inflight / 2;
    const alive = await watched.alive();
    t.true(inflightPairs >= 5 && inflightPairs <= 12, `at ${atMs} ms: ${inflightPairs} pairs in flight`);
    t.true(alive <= inflightPairs, `at ${atMs} ms: ${alive} bodies alive for ${inflightPairs} pairs in flight`);
  }
  await h.clock.runUntil(h.finished);
  t.is(h.records(), 2 * requests);
  // One Buffer per pair (both arms send the same model).
  t.is(watched.sharedPairs, requests);
  t.is(watched.dispatched, requests);
  t.is(await watched.alive(), 0, 'no body outlives its request');
  // What a cache of recent bodies keeps instead (the 16 Mi-character one before this test kept ~270 of these).
  t.true(watched.bytes > BODY_CACHE_BYTES / 2, `${(watched.bytes / 2 ** 20).toFixed(1)} MiB of bodies built`);
});

test('a small workload: each item is serialised once per model and reused; arms with different models get their own body', async (t) => {
  const lines = ['a', 'b', 'c'].map((id) => JSON.stringify({ id, model: 'm', messages: [{ role: 'user', content: `question ${id}` }] }));
  const workload = parseWorkload(lines.join('\n') + '\n', { file: 'w.jsonl', format: 'openai', seed: 1 });
  const watched = new Watched();
  const requests = 30;
  const h = await start(setup(workload, requests, ['model-a', 'model-b']), watched, true, 20);
  await h.clock.runUntil(h.finished);
  t.is(h.records(), 2 * requests);
  const distinct = new Set<Buffer>();
  for (const body of watched.seen.values()) distinct.add(body);
  t.is(distinct.size, 3 * 2, '3 items × 2 models, built once each');
  const bodyOf = (arm: string, index: number) => watched.seen.get(`m:${arm}:${index}`)!;
  t.is(bodyOf('baseline', 0), bodyOf('baseline', 3), 'item a again: the same Buffer');
  t.not(bodyOf('baseline', 0), bodyOf('candidate', 0));
  t.is(JSON.parse(bodyOf('candidate', 1).toString('utf8')).model, 'model-b');
});
