// The simulator's engine and router without HTTP (sim/engine.ts, sim/router.ts), on an injected clock.
import test from 'ava';
import { NoiseStrata, SimEngine, type EngineJob } from '../sim/engine.ts';
import { PROFILES } from '../sim/profiles.ts';
import { createRouter } from '../sim/router.ts';

const words = (n: number, tag: string) => Array.from({ length: n }, (_, i) => `${tag}${i}`);

function engine(maxRunning = 2) {
  const now = { t: 0 };
  const e = new SimEngine(
    { ...PROFILES['vllm-single-node'], maxRunning },
    { seed: 1, timeScale: 1, now: () => now.t, instantChunks: false, strata: new NoiseStrata(1, 'test') },
  );
  return { e, now };
}

function job(index: number, started: Array<[number, number]>): EngineJob {
  return {
    index,
    promptTokens: 100,
    cachedTokens: 0,
    completionTokens: 10,
    chunkCount: 10,
    random: () => 0.5,
    state: 'waiting',
    onStart: (ttft, gaps) => started.push([index, ttft + gaps.reduce((a, b) => a + b, 0)]),
  };
}

test('engine: beyond maxRunning jobs wait FIFO and start as slots free; KV and counters follow', (t) => {
  const { e, now } = engine(2);
  const started: Array<[number, number]> = [];
  const jobs = [0, 1, 2, 3].map((i) => job(i, started));
  for (const j of jobs) e.submit(j);
  t.deepEqual(
    started.map(([i]) => i),
    [0, 1],
  );
  t.is(e.running, 2);
  t.is(e.waitingCount, 2);
  t.is(e.kvTokens, 220);
  now.t = 50;
  e.release(jobs[3] as EngineJob, 'abort'); // a waiting job abandoned: skipped when dequeued
  e.release(jobs[0] as EngineJob, 'stop');
  t.deepEqual(
    started.map(([i]) => i),
    [0, 1, 2],
  );
  t.is(e.waitingCount, 0);
  t.is(e.metrics.finished.stop, 1);
  t.is(e.metrics.finished.abort, 1);
  t.true(started.every(([, total]) => total > 0));
});

test('engine: lookup counts prefix-cache queries and hits in tokens', (t) => {
  const { e } = engine();
  const prompt = words(100, 's');
  t.is(e.lookup(prompt), 0);
  t.is(e.lookup(prompt), 96); // 6 full blocks of 16; the last token always computed
  t.is(e.metrics.prefixQueries, 200);
  t.is(e.metrics.prefixHits, 96);
});

test('engine: the prefix cache is the KV pool less what running requests hold; a disaggregated prefill worker keeps its whole pool', (t) => {
  // A pool of 40 blocks of 16 tokens. Two prompts of 20 blocks fill it; a running request holding
  // 20 blocks (uncached prompt + generated tokens: decode KV) leaves room for 20, so the next lookup
  // evicts the older prompt (LRU), as vLLM evicts cached blocks from its free queue when a running
  // request needs them.
  for (const decodeKvInPool of [true, false]) {
    const now = { t: 0 };
    const e = new SimEngine(
      { ...PROFILES['vllm-single-node'], kvCapacityTokens: 640, decodeKvInPool },
      { seed: 1, timeScale: 1, now: () => now.t, instantChunks: false, strata: new NoiseStrata(1, 'test') },
    );
    const first = words(320, 'a');
    const second = words(320, 'b');
    e.lookup(first);
    e.lookup(second);
    t.is(e.prefixCacheCapacity(), 40);
    t.is(e.lookup(first), 304, 'both prompts fit the idle pool');
    const running: EngineJob = { ...job(0, []), promptTokens: 200, cachedTokens: 0, completionTokens: 120 };
    e.submit(running);
    t.is(e.prefixCacheCapacity(), decodeKvInPool ? 20 : 40);
    e.lookup(words(15, 'c')); // any lookup applies the new capacity (15 tokens: no full block to insert)
    t.is(e.cache.size, decodeKvInPool ? 20 : 40);
    t.is(e.cache.peekLeadingBlocks(second), decodeKvInPool ? 0 : 20, 'the least recently used prompt went first');
    t.is(e.cache.peekLeadingBlocks(first), 20);
    e.release(running, 'stop');
    t.is(e.heldTokens, 0);
    t.is(e.prefixCacheCapacity(), 40);
  }
});

test('router: kv_aware sends a prompt to the worker holding its prefix; round_robin alternates regardless', (t) => {
  const a = engine().e;
  const b = engine().e;
  const history = words(320, 'h');
  b.lookup(history); // worker 1 holds the conversation
  const followUp = [...history, ...words(40, 'u')];
  const kv = createRouter('kv_aware');
  for (let i = 0; i < 4; i++) t.is(kv.pick(followUp, [a, b]), 1);
  t.is(b.cache.peekLeadingBlocks(followUp), 20);
  t.is(a.cache.peekLeadingBlocks(followUp), 0);
  const rr = createRouter('round_robin');
  t.deepEqual(
    [0, 1, 2, 3].map(() => rr.pick(followUp, [a, b])),
    [0, 1, 0, 1],
  );
  // no overlap anywhere: ties broken round-robin, so new conversations spread
  const fresh = createRouter('kv_aware');
  t.deepEqual(
    [0, 1, 2, 3].map((i) => fresh.pick(words(64, `n${i}`), [a, b])),
    [0, 1, 0, 1],
  );
});
