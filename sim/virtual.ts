// A simulated deployment driven in virtual time: the same engines, router and prefix caches as the
// HTTP simulator (sim/server.ts), with arrivals at a fixed rate and every start and finish taken
// from an event queue instead of timers. Nothing depends on the machine's speed, so the calibration
// (test/sim-profiles.test.ts) replay exactly.
import { percentile } from '../analysis/stats/stats.ts';
import { derivedRandom } from '../core/random.ts';
import { NoiseStrata, SimEngine, type EngineJob } from './engine.ts';
import type { SimProfile } from './profiles.ts';
import { createRouter } from './router.ts';
import { chatPromptTokens, outputLength, promptKey } from './text.ts';
import type { ChatRequest } from './workload.ts';

export interface VirtualResult {
  requests: number;
  ttftP50Ms: number;
  ttftP99Ms: number;
  /** Σ cached ÷ Σ prompt tokens over all workers (vLLM's counters). */
  prefixHitRate: number;
  /** Per-worker hit rates. */
  workerHitRates: number[];
  /** Mean over time (sampled every 2 virtual seconds) of the mean GPU utilisation over workers, percent. */
  gpuUtilPct: number;
  /** Mean running requests summed over workers. */
  running: number;
}

interface Event {
  at: number;
  seq: number;
  run(): void;
}

/** Runs `requests` at `qps` (request i at i / qps s) through a deployment of `profile` and measures it as its server counters would. */
export function runVirtual(
  profile: SimProfile,
  requests: readonly ChatRequest[],
  options: {
    qps: number;
    seed: number;
    /** Requests that load the deployment but are left out of the TTFT percentiles (warm-up). */
    skipFirst?: number;
  },
): VirtualResult {
  let now = 0;
  const events: Event[] = [];
  let seq = 0;
  // a binary heap ordered by (at, seq)
  const less = (a: Event, b: Event) => a.at < b.at || (a.at === b.at && a.seq < b.seq);
  const push = (at: number, run: () => void) => {
    const e = { at, seq: seq++, run };
    events.push(e);
    let i = events.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!less(e, events[p] as Event)) break;
      events[i] = events[p] as Event;
      i = p;
    }
    events[i] = e;
  };
  const pop = (): Event | undefined => {
    const top = events[0];
    const last = events.pop();
    if (top === undefined || last === undefined || events.length === 0) return top;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= events.length) break;
      const r = l + 1;
      const c = r < events.length && less(events[r] as Event, events[l] as Event) ? r : l;
      if (!less(events[c] as Event, last)) break;
      events[i] = events[c] as Event;
      i = c;
    }
    events[i] = last;
    return top;
  };

  const strata = new NoiseStrata(options.seed, profile.name);
  const engines = Array.from(
    { length: profile.workers },
    () => new SimEngine(profile, { seed: options.seed, timeScale: 1, now: () => now, instantChunks: false, strata }),
  );
  const router = profile.router === null ? null : createRouter(profile.router);
  const ttfts: number[] = [];
  const interval = 1000 / options.qps;
  requests.forEach((req, index) => {
    const arrival = index * interval;
    push(arrival, () => {
      const tokens = chatPromptTokens(req.messages);
      const engine = engines[router === null ? 0 : router.pick(tokens, engines)] as SimEngine;
      const cached = engine.lookup(tokens);
      const length = outputLength(promptKey(tokens), { maxTokens: req.max_tokens, minTokens: 0, ignoreEos: false });
      const per = Math.max(1, Math.floor(profile.tokensPerChunk));
      const job: EngineJob = {
        index,
        promptTokens: tokens.length,
        cachedTokens: cached,
        completionTokens: length.tokens,
        chunkCount: Math.ceil(length.tokens / per),
        random: derivedRandom(options.seed, `request:${index}`),
        state: 'waiting',
        onStart(ttft, gaps) {
          if (index >= (options.skipFirst ?? 0)) ttfts.push(now - arrival + ttft);
          let total = ttft;
          for (const g of gaps) total += g;
          push(now + total, () => engine.release(job, length.finishReason));
        },
      };
      engine.submit(job);
    });
  });
  // GPU and running samples every 2 virtual seconds while requests arrive
  const end = requests.length * interval;
  const gpu: number[] = [];
  const running: number[] = [];
  for (let t = 2000; t < end; t += 2000)
    push(t, () => {
      gpu.push(engines.reduce((a, e) => a + e.gpuUtilPercent(), 0) / engines.length);
      running.push(engines.reduce((a, e) => a + e.running, 0));
    });
  for (let e = pop(); e !== undefined; e = pop()) {
    now = e.at;
    e.run();
  }
  const queries = engines.reduce((a, e) => a + e.metrics.prefixQueries, 0);
  const hits = engines.reduce((a, e) => a + e.metrics.prefixHits, 0);
  const mean = (xs: number[]) => (xs.length === 0 ? 0 : xs.reduce((a, b) => a + b, 0) / xs.length);
  return {
    requests: requests.length,
    ttftP50Ms: percentile(ttfts, 50),
    ttftP99Ms: percentile(ttfts, 99),
    prefixHitRate: queries > 0 ? hits / queries : 0,
    workerHitRates: engines.map((e) => (e.metrics.prefixQueries > 0 ? e.metrics.prefixHits / e.metrics.prefixQueries : 0)),
    gpuUtilPct: mean(gpu),
    running: mean(running),
  };
}
