import type { RouterKind } from './router.ts';

// Latency profiles of the simulated endpoints and the model that turns a profile, the current load and
// a request into a time to first token and inter-token gaps. Pure: randomness is passed in.
//
// Calibrated in virtual time (sim/virtual.ts, test/sim-profiles.test.ts) so that one run of the
// conversation workload of sim/workload.ts (seed 1, 5,000 requests at 100 QPS: multi-turn
// conversations over 400 Zipf(1) system prompts, mean prompt 1,475 tokens) gives the migration
// guide's whole column (Llama 70B, 100 QPS), the hit rate coming out of the mechanism:
//
//   profile               guide: TTFT P50/P99, hit, GPU     measured
//   vllm-single-node      85 / 420 ms, 15 %, 87 %           84.3 / 414.6 ms, 16.1 %, 86.9 %
//   dynamo-colocated      78 / 350 ms, 15 %, 72 %           78.1 / 350.3 ms, 15.4 %, 71.9 %
//   dynamo-disaggregated  52 / 185 ms, 45 %, 78 %           52.1 / 185.4 ms, 43.0 %, 78.1 %
//
// Mechanism: an engine's prefix cache is its KV pool (kvCapacityTokens) less what its running
// requests hold (sim/engine.ts prefixCacheCapacity); a disaggregated engine is a prefill worker whose
// pool decode KV never enters (decodeKvInPool false); routing is round_robin or kv_aware
// (sim/router.ts). Fitted per profile: the pool, ttftBaseMs, ttftSigma and gpuSaturationRunning
// (prefillMsPerToken 0.03 for all: ≈ 33k prompt tokens/s of prefill). The two Dynamo profiles have the
// same pool per worker (140k tokens), so what separates them is the mechanism alone.
//
// ITL (13 / 28 ms single node, 12.5 / 22 ms disaggregated) was calibrated over HTTP with the shipped
// sample workload; its prompts are ~97 % cached (four shared system prompts), so its TTFT is lower
// than the guide's (virtual time, 2,000 requests: 50 / 238, 43 / 171, 33 / 101 ms).

export interface SimProfile {
  name: string;
  /** TTFT median for a fully cached prompt at the reference load, ms (before the uncached-prefill term). */
  ttftBaseMs: number;
  /** Extra TTFT per uncached prompt token at the reference load, ms (prefill; prefix-cache hits skip it). */
  prefillMsPerToken: number;
  /** Shape of the multiplicative log-normal TTFT noise: P99/P50 of the noise alone = exp(2.326·σ). */
  ttftSigma: number;
  /** ITL median at the reference load, ms. */
  itlMedianMs: number;
  /** Shape of the log-normal ITL noise. */
  itlSigma: number;
  /** Running requests at which the figures above hold (≈ what 100 QPS of the sample workload keeps running). */
  referenceRunning: number;
  /** TTFT grows by this fraction of itself for every `referenceRunning` extra running requests. */
  ttftLoadSlope: number;
  /** Same for ITL (decode batches get slower as they grow). */
  itlLoadSlope: number;
  /** Requests decoded at once (vLLM --max-num-seqs); more wait in a FIFO queue, which TTFT includes. */
  maxRunning: number;
  /** KV-cache capacity in tokens, for vllm:kv_cache_usage_perc. */
  kvCapacityTokens: number;
  /**
   * Whether running requests' KV (uncached prompt + generated tokens) takes blocks from the same pool
   * as the prefix cache: true for vLLM and colocated Dynamo workers, false for a disaggregated
   * deployment, whose engines here are the prefill workers (decode KV is moved to decode workers).
   */
  decodeKvInPool: boolean;
  prefixBlockTokens: number;
  /** Tokens per content chunk (> 1 emulates speculative decoding). */
  tokensPerChunk: number;
  /** Fixed gap between content chunks, ms, replacing the ITL model (0: all chunks at once). */
  interTokenMs?: number;
  /** Engines (workers) behind the deployment's frontend; each has its own queue, caches and metrics endpoint. */
  workers: number;
  /** How the frontend picks a worker (sim/router.ts); null for a single engine without a frontend. */
  router: RouterKind | null;
  /** GPU utilisation of an engine = 100·(1 − e^(−held / this)), held = its running + waiting requests. */
  gpuSaturationRunning: number;
  /** The migration guide's figures for this deployment (Llama 70B, 100 QPS), which the calibration aims at. */
  guide: { ttftP50Ms: number; ttftP99Ms: number; prefixHitRate: number; gpuUtilPct: number };
}

export const PROFILE_NAMES = ['vllm-single-node', 'dynamo-colocated', 'dynamo-disaggregated'] as const;
export type ProfileName = (typeof PROFILE_NAMES)[number];

export const PROFILES: Record<ProfileName, SimProfile> = {
  'vllm-single-node': {
    name: 'vllm-single-node',
    ttftBaseMs: 51,
    prefillMsPerToken: 0.03,
    ttftSigma: 0.665,
    itlMedianMs: 13,
    itlSigma: 0.325,
    referenceRunning: 165,
    ttftLoadSlope: 0.5,
    itlLoadSlope: 0.3,
    maxRunning: 256,
    kvCapacityTokens: 261_000,
    decodeKvInPool: true,
    prefixBlockTokens: 16,
    tokensPerChunk: 1,
    workers: 1,
    router: null,
    gpuSaturationRunning: 79.4,
    guide: { ttftP50Ms: 85, ttftP99Ms: 420, prefixHitRate: 0.15, gpuUtilPct: 87 },
  },
  'dynamo-colocated': {
    name: 'dynamo-colocated',
    ttftBaseMs: 43,
    prefillMsPerToken: 0.03,
    ttftSigma: 0.593,
    itlMedianMs: 13,
    itlSigma: 0.3,
    referenceRunning: 80,
    ttftLoadSlope: 0.5,
    itlLoadSlope: 0.3,
    maxRunning: 256,
    kvCapacityTokens: 140_000,
    decodeKvInPool: true,
    prefixBlockTokens: 16,
    tokensPerChunk: 1,
    workers: 2,
    router: 'round_robin',
    gpuSaturationRunning: 63,
    guide: { ttftP50Ms: 78, ttftP99Ms: 350, prefixHitRate: 0.15, gpuUtilPct: 72 },
  },
  'dynamo-disaggregated': {
    name: 'dynamo-disaggregated',
    ttftBaseMs: 37.1,
    prefillMsPerToken: 0.03,
    ttftSigma: 0.481,
    itlMedianMs: 12.5,
    itlSigma: 0.225,
    referenceRunning: 155,
    ttftLoadSlope: 0.3,
    itlLoadSlope: 0.15,
    maxRunning: 512,
    kvCapacityTokens: 140_000,
    decodeKvInPool: false,
    prefixBlockTokens: 16,
    tokensPerChunk: 1,
    workers: 2,
    router: 'kv_aware',
    gpuSaturationRunning: 45.5,
    guide: { ttftP50Ms: 52, ttftP99Ms: 185, prefixHitRate: 0.45, gpuUtilPct: 78 },
  },
};

export function isProfileName(name: string): name is ProfileName {
  return (PROFILE_NAMES as readonly string[]).includes(name);
}

/** Multiplier on a latency for `running` requests in flight: 1 at the reference load, linear in running. */
export function loadFactor(running: number, reference: number, slope: number): number {
  return (1 + (slope * running) / reference) / (1 + slope);
}

/** Simulated TTFT, ms: load × (base + prefill of uncached tokens) × log-normal noise (z: a standard normal draw). */
export function ttftMs(profile: SimProfile, running: number, uncachedTokens: number, z: number): number {
  const load = loadFactor(running, profile.referenceRunning, profile.ttftLoadSlope);
  return load * (profile.ttftBaseMs + profile.prefillMsPerToken * uncachedTokens) * Math.exp(profile.ttftSigma * z);
}

/** Simulated gap before a content chunk, ms. */
export function itlMs(profile: SimProfile, running: number, z: number): number {
  if (profile.interTokenMs !== undefined) return profile.interTokenMs;
  return loadFactor(running, profile.referenceRunning, profile.itlLoadSlope) * profile.itlMedianMs * Math.exp(profile.itlSigma * z);
}

/** Standard normal quantile Φ⁻¹(p) (Acklam's rational approximation, relative error < 1.2e-9). */
export function normalQuantile(p: number): number {
  if (p <= 0) return -Infinity;
  if (p >= 1) return Infinity;
  const a = [-39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716, 2.506628277459239];
  const b = [-54.47609879822406, 161.5858589980412, -155.6989798598866, 66.80131188771972, -13.28068155288572];
  const c = [-0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const d = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];
  const low = 0.02425;
  if (p < low) {
    const q = Math.sqrt(-2 * Math.log(p));
    return (
      (((((c[0]! * q + c[1]!) * q + c[2]!) * q + c[3]!) * q + c[4]!) * q + c[5]!) /
      ((((d[0]! * q + d[1]!) * q + d[2]!) * q + d[3]!) * q + 1)
    );
  }
  if (p > 1 - low) return -normalQuantile(1 - p);
  const q = p - 0.5;
  const r = q * q;
  return (
    ((((((a[0]! * r + a[1]!) * r + a[2]!) * r + a[3]!) * r + a[4]!) * r + a[5]!) * q) /
    (((((b[0]! * r + b[1]!) * r + b[2]!) * r + b[3]!) * r + b[4]!) * r + 1)
  );
}

/** A standard normal draw from two uniforms (Box–Muller). */
export function normalFrom(random: () => number): number {
  const u = 1 - random();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
}
