// What the k6 script is told, and what it derives from that before any VU runs: the scenarios
// (two constant-arrival-rate scenarios, one per arm, identical in rate, start and length) and their
// VU budget. Pure and runtime-agnostic: the k6 entry (k6/script/shadow.ts), the Node launcher
// (cli/load-k6.ts) and the k6-operator manifest (cli/k6-manifest.ts) share it; no k6 or Node imports.
//
// The config travels as one JSON document: a file named by __ENV.SB_CONFIG_FILE (read with open()
// in the init context, so a k6-operator ConfigMap can carry it) or inline in __ENV.SB_CONFIG.
// Header VALUES never travel in it (the file is kept in the run folder): they come from the k6
// process environment, __ENV.SB_HEADERS = {"<arm>": {"<name>": "<value>"}}.
import { parseEndpoint } from '../../core/endpoint.ts';
import type { ItemOrder } from '../../core/plan.ts';

export const K6_CONFIG_VERSION = 1;

/** sse: streamed through xk6-sse, each event timestamped on arrival; buffered: core k6/http, whole response only. */
export type K6Mode = 'sse' | 'buffered';
export const K6_MODES: readonly K6Mode[] = ['sse', 'buffered'];

/** Arms the script can run: each is a scenario whose exec function k6/script/shadow.ts exports under that name. */
export const K6_ARMS: readonly string[] = ['baseline', 'candidate', 'baseline_repeat'];

export interface K6ArmConfig {
  /** Scenario name and record `arm` (baseline, candidate). */
  arm: string;
  /** Base URL, e.g. http://127.0.0.1:8000 (credentials belong in SB_HEADERS, never here). */
  url: string;
  /** Replaces each body's model for this arm; null keeps the workload's. */
  model: string | null;
}

export interface K6ScriptConfig {
  v: typeof K6_CONFIG_VERSION;
  run_id: string;
  mode: K6Mode;
  /** Paired requests per second: each arm's scenario runs at this rate. */
  qps: number;
  /** Warm-up plus measured requests per arm: the plan's total (core/plan.ts). */
  total_requests: number;
  /** The first `warmup` indices are warm-up requests (recorded, flagged, kept out of k6 metrics). */
  warmup: number;
  seed: number;
  order: ItemOrder;
  /**
   * The resolved workload (k6/script/workload.ts: openai wrapper lines as the Node side resolved them)
   * as open() should read it: absolute locally, relative to the script in a ConfigMap.
   */
  workload_file: string;
  /** Always openai (or empty): the script reads only the resolved workload, with no parse options. */
  workload: { format?: 'openai' };
  arms: K6ArmConfig[];
  /** Per-request limit, seconds (k6/http timeout; checked on each SSE event in sse mode). */
  timeout_s: number;
  /** Typical request latency, seconds: sizes the pre-allocated VUs (Little's law). */
  expected_latency_s: number;
  /** Upper bound on VUs per arm; 0 = derived from qps × timeout. */
  max_vus: number;
  /** Scenario start offset, seconds (both arms identical). */
  start_delay_s: number;
  /** k6 thresholds (metric expression → conditions), derived from the gates file. */
  thresholds: Record<string, string[]>;
  /** handleSummary writes the k6 facts here (null: print them as one JSON line on stdout, for pod logs). */
  summary_file: string | null;
}

export class K6ConfigError extends Error {
  constructor(message: string) {
    super(`shadowbench k6 config: ${message}`);
    this.name = 'K6ConfigError';
  }
}

const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
/** {} or {format: 'openai'}: the script reads the resolved workload (k6/script/workload.ts), with no parse options. */
const isResolvedWorkloadOptions = (v: unknown): boolean =>
  typeof v === 'object' && v !== null && Object.entries(v).every(([key, value]) => key === 'format' && value === 'openai');

/** Validates a decoded config; throws K6ConfigError naming the key and what is accepted. */
export function checkK6Config(value: unknown): K6ScriptConfig {
  if (typeof value !== 'object' || value === null) throw new K6ConfigError('expected a JSON object');
  const c = value as Record<string, unknown>;
  const need = (ok: boolean, key: string, what: string) => {
    if (!ok) throw new K6ConfigError(`${key}: expected ${what}, got ${JSON.stringify(c[key])?.slice(0, 60) ?? 'nothing'}`);
  };
  need(c.v === K6_CONFIG_VERSION, 'v', `${K6_CONFIG_VERSION} (config written by a different shadowbench version?)`);
  need(typeof c.run_id === 'string' && c.run_id !== '', 'run_id', 'a non-empty string');
  need(K6_MODES.includes(c.mode as K6Mode), 'mode', K6_MODES.join(' or '));
  need(isNum(c.qps) && c.qps > 0, 'qps', 'a positive number');
  need(Number.isSafeInteger(c.total_requests) && (c.total_requests as number) >= 1, 'total_requests', 'an integer ≥ 1');
  need(
    Number.isSafeInteger(c.warmup) && (c.warmup as number) >= 0 && (c.warmup as number) < (c.total_requests as number),
    'warmup',
    'an integer from 0 to total_requests − 1',
  );
  need(Number.isSafeInteger(c.seed), 'seed', 'an integer');
  need(c.order === 'sequential' || c.order === 'shuffle', 'order', 'sequential or shuffle');
  need(typeof c.workload_file === 'string' && c.workload_file !== '', 'workload_file', 'a file path');
  need(
    isResolvedWorkloadOptions(c.workload),
    'workload',
    '{} or {"format": "openai"} (the script reads the resolved workload that load --engine k6 and k6:manifest write; resolve other formats and options there)',
  );
  need(Array.isArray(c.arms) && c.arms.length >= 1, 'arms', 'a list of {arm, url, model}');
  for (const a of c.arms as unknown[]) {
    const arm = a as Record<string, unknown>;
    need(
      K6_ARMS.includes(arm.arm as string),
      'arms',
      `arm names among ${K6_ARMS.join(', ')} (each is an exported exec function of the script)`,
    );
    need(typeof arm.url === 'string' && isEndpoint(arm.url), 'arms', 'http(s) base URLs (core/endpoint.ts)');
    need(arm.model === null || typeof arm.model === 'string', 'arms', 'model a string or null');
  }
  need(isNum(c.timeout_s) && c.timeout_s > 0, 'timeout_s', 'a positive number of seconds');
  need(isNum(c.expected_latency_s) && c.expected_latency_s > 0, 'expected_latency_s', 'a positive number of seconds');
  need(Number.isSafeInteger(c.max_vus) && (c.max_vus as number) >= 0, 'max_vus', 'an integer ≥ 0');
  need(isNum(c.start_delay_s) && c.start_delay_s >= 0, 'start_delay_s', 'seconds ≥ 0');
  need(typeof c.thresholds === 'object' && c.thresholds !== null, 'thresholds', 'an object of k6 thresholds');
  need(c.summary_file === null || typeof c.summary_file === 'string', 'summary_file', 'a path or null');
  return value as K6ScriptConfig;
}

/** Decodes the config from k6's environment: SB_CONFIG_FILE (read with the given reader) or SB_CONFIG. */
export function readK6Config(env: Record<string, string | undefined>, read: (path: string) => string): K6ScriptConfig {
  const file = env.SB_CONFIG_FILE;
  const text = file ? read(file) : env.SB_CONFIG;
  if (!text)
    throw new K6ConfigError('neither SB_CONFIG_FILE nor SB_CONFIG is set (run through `npm run load -- --engine k6`, or see k6/README.md)');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new K6ConfigError(`${file ?? 'SB_CONFIG'} is not valid JSON: ${(error as Error).message}`);
  }
  return checkK6Config(value);
}

/** Secret headers per arm from SB_HEADERS (JSON); never written to files by shadowbench. */
export function readK6Headers(env: Record<string, string | undefined>): Record<string, Record<string, string>> {
  const text = env.SB_HEADERS;
  if (!text) return {};
  try {
    const value = JSON.parse(text) as unknown;
    if (typeof value === 'object' && value !== null) return value as Record<string, Record<string, string>>;
  } catch {
    // fall through: the message must not echo the (secret) value
  }
  throw new K6ConfigError('SB_HEADERS must be a JSON object {"<arm>": {"<header>": "<value>"}} (value not shown: it may hold secrets)');
}

// --- scenarios ----------------------------------------------------------------------------------

export interface VuBudget {
  preAllocatedVUs: number;
  maxVUs: number;
}

/**
 * VUs one arm needs. A VU is busy for a whole request (sse.open and http.post block), so by
 * Little's law the mean concurrency is qps × latency: pre-allocate that with 50 % headroom,
 * and allow up to qps × timeout (every request hanging until its timeout) before k6 drops
 * iterations. Dropped iterations are reported by the analysis as an invalid run, not hidden.
 */
/** Pre-allocated VUs per arm over the mean concurrency qps × expected latency (vuBudget). */
export const VU_HEADROOM = 1.5;

export function vuBudget(qps: number, expectedLatencyS: number, timeoutS: number, maxVusCap = 0): VuBudget {
  const pre = Math.ceil(qps * expectedLatencyS * VU_HEADROOM) + 1;
  let max = Math.max(pre, Math.ceil(qps * timeoutS) + 1);
  if (maxVusCap > 0) max = Math.min(max, maxVusCap);
  return { preAllocatedVUs: Math.min(pre, max), maxVUs: max };
}

/** Fixed part of the schedule hold, ms: k6 starts the scenarios after setup() returns, on their own goroutines. */
const HOLD_BASE_MS = 50;
/** Per pre-allocated VU of one arm, ms: a scenario activates all of them before its first tick. */
const HOLD_PER_VU_MS = 0.5;

/**
 * How long after the run origin (setup's clock reading) plus the start delay request 0 is due, ms.
 * k6 anchors each constant-arrival-rate scenario's ticks to that scenario's own start and, before its
 * first tick, activates every pre-allocated VU one by one (grafana/k6 lib/executor/
 * constant_arrival_rate.go, Run): two arms' schedules therefore start some milliseconds apart, a
 * different amount in every run, and the first iterations are late by the activation. Every
 * iteration waits instead for one shared instant, origin + start delay + hold + i / qps (shadow.ts
 * send), so index i of every arm is sent together however far apart k6 started the scenarios,
 * provided both started within the hold; one that started later shows as send lag.
 */
export function scheduleHoldMs(preAllocatedVUs: number): number {
  return HOLD_BASE_MS + HOLD_PER_VU_MS * preAllocatedVUs;
}

/** The VU budget of buildScenarios: vuBudget plus the VUs the hold keeps waiting (qps × hold), and the hold itself. */
export function scenarioVus(config: K6ScriptConfig): VuBudget & { holdMs: number } {
  const base = vuBudget(config.qps, config.expected_latency_s, config.timeout_s, config.max_vus);
  const holdMs = scheduleHoldMs(base.preAllocatedVUs);
  const waiting = Math.ceil((config.qps * holdMs) / 1000);
  const cap = config.max_vus > 0 ? config.max_vus : Infinity;
  return {
    preAllocatedVUs: Math.min(base.preAllocatedVUs + waiting, cap),
    maxVUs: Math.min(base.maxVUs + waiting, cap),
    holdMs,
  };
}

/**
 * k6 arrival rate for qps: an integer `rate` per `timeUnit`. Whole qps use 1 s; otherwise
 * rate per 1000 s, which k6 spaces evenly (timeUnit / rate apart), i.e. exactly 1 / qps
 * for qps with up to three decimals.
 */
export function arrivalRate(qps: number): { rate: number; timeUnit: string } {
  if (Number.isInteger(qps)) return { rate: qps, timeUnit: '1s' };
  return { rate: Math.max(1, Math.round(qps * 1000)), timeUnit: '1000s' };
}

/** k6 duration string in milliseconds with microsecond digits (Go's time.ParseDuration reads decimals). */
function ms(seconds: number): string {
  return `${(seconds * 1000).toFixed(3)}ms`;
}

/** k6's shortest scenario duration (constant-arrival-rate's minDuration). */
export const K6_MIN_DURATION_S = 1;

export interface ArmScenario {
  executor: 'constant-arrival-rate';
  exec: string;
  rate: number;
  timeUnit: string;
  duration: string;
  startTime: string;
  preAllocatedVUs: number;
  maxVUs: number;
  gracefulStop: string;
  tags: { arm: string };
}

/**
 * One constant-arrival-rate scenario per arm, identical except for the exec function and the arm
 * tag, so k6 starts iteration i of every arm at about startTime + i / qps; the script then waits
 * for the one instant all arms share (scheduleHoldMs).
 * Iterations due at t < duration run, so duration = (total − ½) / qps gives exactly `total`
 * iterations without depending on k6's rounding at the boundary. k6 refuses a duration under 1 s
 * ("the duration must be at least 1s", grafana/k6 lib/executor/constant_arrival_rate.go), so a
 * shorter run gets 1 s: the iterations past the plan end at once, with no record (shadow.ts send).
 */
export function buildScenarios(config: K6ScriptConfig): Record<string, ArmScenario> {
  const { rate, timeUnit } = arrivalRate(config.qps);
  const { preAllocatedVUs, maxVUs } = scenarioVus(config);
  const scenarios: Record<string, ArmScenario> = {};
  for (const { arm } of config.arms) {
    scenarios[arm] = {
      executor: 'constant-arrival-rate',
      exec: arm,
      rate,
      timeUnit,
      duration: ms(Math.max(K6_MIN_DURATION_S, (config.total_requests - 0.5) / config.qps)),
      startTime: ms(config.start_delay_s),
      preAllocatedVUs,
      maxVUs,
      // In-flight requests at the end get their full timeout before k6 interrupts them.
      gracefulStop: ms(config.timeout_s + 1),
      tags: { arm },
    };
  }
  return scenarios;
}

function isEndpoint(url: string): boolean {
  try {
    parseEndpoint(url);
    return true;
  } catch {
    return false;
  }
}

/** Names of the k6 custom metrics the script adds to (tagged with `arm` through the scenario tags). */
export const K6_METRICS = {
  /** Trend, ms: TTFT (core/metrics.ts ttftMs) of ok, measured requests. sse mode only. */
  ttft: 'ttft',
  /** Trend, ms: ITL (core/metrics.ts forEachItlMs: gap ÷ tokens the chunk carried) of ok, measured requests. sse mode only. */
  itl: 'itl',
  /** Trend, ms: E2E (core/metrics.ts e2eMs: last content − send; buffered: response end − send) of ok, measured requests. */
  e2e: 'e2e',
  /** Rate: outcome is not ok (any failure kind). */
  failed: 'request_failed',
  /** Rate: outcome is timeout. */
  timeout: 'request_timeout',
  /** Counter: iterations that started (one per request index sent or begun, warm-up included), per scenario (arm). */
  started: 'request_started',
} as const;
