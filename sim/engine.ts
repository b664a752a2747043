// One simulated inference engine (a vLLM instance, or one Dynamo worker): its admission queue
// (--max-num-seqs), KV-cache accounting, a prefix cache bounded by the part of its KV pool that the
// running requests do not hold (all of it on a disaggregated prefill worker), the TTFT / ITL draws of its
// profile and its own vLLM counters. No HTTP and no timers: the caller submits a job, is told when
// and with which schedule it starts (TTFT and the gaps between chunks), and releases it when done.
// The clock is injected, so the same engine runs under a live server (performance.now()) and in
// virtual time (sim/virtual.ts) for calibration and tests.
import { derivedRandom, shuffle } from '../core/random.ts';
import { SimMetrics, type FinishedReason, type LiveGauges } from './metrics.ts';
import { MinHeap } from './min-heap.ts';
import { PrefixCache } from './prefix-cache.ts';
import { itlMs, normalFrom, normalQuantile, ttftMs, type SimProfile } from './profiles.ts';

const STRATUM_BLOCK = 100;

/**
 * TTFT noise, stratified over arrival order: each block of 100 consecutive arrivals draws each
 * percentile band of the noise once, in a seeded order, so a few hundred requests already show the
 * calibrated P50 / P99 instead of a sampling accident. Shared by the engines of one deployment.
 */
export class NoiseStrata {
  private readonly strata = new Map<number, number[]>();
  private readonly seed: number;
  private readonly name: string;
  constructor(seed: number, name: string) {
    this.seed = seed;
    this.name = name;
  }

  /** A standard normal draw for arrival `index`. */
  draw(index: number, random: () => number): number {
    const block = Math.floor(index / STRATUM_BLOCK);
    let order = this.strata.get(block);
    if (order === undefined) {
      order = shuffle(
        Array.from({ length: STRATUM_BLOCK }, (_, i) => i),
        derivedRandom(this.seed, `ttft-strata:${this.name}:${block}`),
      );
      this.strata.set(block, order);
      this.strata.delete(block - 2);
    }
    return normalQuantile(((order[index % STRATUM_BLOCK] as number) + random()) / STRATUM_BLOCK);
  }
}

/** What the engine needs of a request. */
export interface EngineJob {
  /** Arrival index at the deployment (seeds the noise). */
  index: number;
  promptTokens: number;
  /** Prompt tokens served from this engine's prefix cache (set by lookup()). */
  cachedTokens: number;
  completionTokens: number;
  /** Content chunks the answer is sent in. */
  chunkCount: number;
  random: () => number;
  state: 'waiting' | 'running' | 'done';
  /** Called once when a decode slot is free: TTFT from now and the gap before each later chunk, ms (timeScale applied). */
  onStart(ttftMs: number, gapsMs: Float64Array): void;
}

export interface EngineOptions {
  seed: number;
  /** Multiplies every delay; 0: everything at once. */
  timeScale: number;
  /** Milliseconds on a monotonic clock. */
  now(): number;
  /** No ITL draws (all chunks in one write). */
  instantChunks: boolean;
  strata: NoiseStrata;
}

export class SimEngine {
  readonly profile: SimProfile;
  readonly metrics = new SimMetrics();
  readonly cache: PrefixCache;
  running = 0;
  waitingCount = 0;
  kvTokens = 0;
  /** KV tokens the running requests hold outside the prefix cache: their uncached prompt tokens and everything they generate. */
  heldTokens = 0;
  private readonly waiting: EngineJob[] = [];
  /** Simulated end times of started requests, on the engine's clock. */
  private readonly scheduledEnds = new MinHeap();
  private readonly options: EngineOptions;
  closing = false;

  constructor(profile: SimProfile, options: EngineOptions) {
    this.profile = profile;
    this.options = options;
    this.cache = new PrefixCache(profile.prefixBlockTokens, this.poolBlocks());
  }

  /** Looks the prompt up in this engine's prefix cache (and caches it), counting vLLM's prefix-cache queries and hits in tokens. */
  lookup(tokens: readonly string[]): number {
    this.cache.capacityBlocks = this.prefixCacheCapacity();
    const cached = this.cache.lookupAndInsert(tokens);
    this.metrics.prefixQueries += tokens.length;
    this.metrics.prefixHits += cached;
    return cached;
  }

  /** Starts the job if a decode slot is free, else queues it (FIFO). */
  submit(job: EngineJob): void {
    if (this.running < this.profile.maxRunning) this.start(job);
    else {
      job.state = 'waiting';
      this.waiting.push(job);
      this.waitingCount++;
    }
  }

  private start(job: EngineJob): void {
    job.state = 'running';
    this.running++;
    this.kvTokens += job.promptTokens + job.completionTokens;
    if (this.profile.decodeKvInPool) this.heldTokens += job.promptTokens - job.cachedTokens + job.completionTokens;
    this.metrics.promptTokens += job.promptTokens;
    const { timeScale, now: clock, instantChunks, strata } = this.options;
    const now = clock();
    const load = this.scheduledEnds.dropUpTo(now);
    const ttft = timeScale * ttftMs(this.profile, load, job.promptTokens - job.cachedTokens, strata.draw(job.index, job.random));
    const gaps = new Float64Array(Math.max(0, job.chunkCount - 1));
    let total = ttft;
    if (!instantChunks) {
      for (let i = 0; i < gaps.length; i++) total += gaps[i] = timeScale * itlMs(this.profile, load, normalFrom(job.random));
    }
    if (total > 0) this.scheduledEnds.push(now + total);
    job.onStart(ttft, gaps);
  }

  /** The job is over (finished, failed or abandoned): frees its slot and admits the next waiting job. */
  release(job: EngineJob, reason: FinishedReason): { wasRunning: boolean } {
    const wasRunning = job.state === 'running';
    if (job.state === 'waiting') this.waitingCount--; // stays in the queue array; skipped when dequeued
    job.state = 'done';
    this.metrics.finished[reason]++;
    if (wasRunning) {
      this.running--;
      this.kvTokens -= job.promptTokens + job.completionTokens;
      if (this.profile.decodeKvInPool) this.heldTokens -= job.promptTokens - job.cachedTokens + job.completionTokens;
      this.admitWaiting();
    }
    return { wasRunning };
  }

  private admitWaiting(): void {
    while (this.running < this.profile.maxRunning && this.waiting.length > 0 && !this.closing) {
      const next = this.waiting.shift() as EngineJob;
      if (next.state !== 'waiting') continue;
      this.waitingCount--;
      this.start(next);
    }
  }

  /** The engine's KV pool, in blocks. */
  poolBlocks(): number {
    return Math.floor(this.profile.kvCapacityTokens / this.profile.prefixBlockTokens);
  }

  /**
   * Blocks the prefix cache may hold now: the KV pool less what the running requests hold (vLLM keeps
   * cached blocks in its free-block queue and evicts them, least recently used first, when a running
   * request needs a block). On a disaggregated prefill worker decode KV is not in the pool.
   */
  prefixCacheCapacity(): number {
    return Math.max(0, this.poolBlocks() - Math.ceil(this.heldTokens / this.profile.prefixBlockTokens));
  }

  /** Simulated GPU utilisation, percent: saturating in the requests the engine holds (running + waiting). */
  gpuUtilPercent(): number {
    return Math.min(100, Math.round(100 * (1 - Math.exp(-(this.running + this.waitingCount) / this.profile.gpuSaturationRunning))));
  }

  /** KV blocks in use and in total (for kvstats and vllm:kv_cache_usage_perc). */
  kvBlocks(): { active: number; total: number } {
    const total = Math.floor(this.profile.kvCapacityTokens / this.profile.prefixBlockTokens);
    return { active: Math.min(total, Math.ceil(this.kvTokens / this.profile.prefixBlockTokens)), total };
  }

  live(): LiveGauges {
    return {
      running: this.running,
      waiting: this.waitingCount,
      kvCacheUsage: Math.min(1, this.kvTokens / this.profile.kvCapacityTokens),
      gpuUtilPercent: this.gpuUtilPercent(),
    };
  }

  /** Drops every queued job (server closing). */
  clearQueue(): void {
    this.closing = true;
    this.waiting.length = 0;
  }
}
