// Test harness standing in for the k6 runtime: bundles k6/script/shadow.ts with every k6 module
// pointed at the Node doubles in this folder, loads one module instance per k6 instance (with
// __ENV, open() and a console that appends raw lines to a file like --console-output), then runs
// iterations the way k6's executor would: for each due index, set exec.scenario and call the
// scenario's exec function. One VU, sequential: the script's logic runs in the same order as in
// k6, but arms are not sent concurrently (so arm skew here is one request's latency).
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import { buildK6 } from '../../../k6/build.ts';
import type { SimOptions } from '../../../sim/server.ts';
import { resetSharedArrays } from './data.ts';
import { state } from './execution.ts';
import { samples } from './metrics.ts';
import { closeBridge } from './bridge.ts';

const here = dirname(fileURLToPath(import.meta.url));

/** k6 module → double; any other k6 import fails the test bundle. */
export const K6_DOUBLES: Record<string, string> = {
  k6: pathToFileURL(resolve(here, 'k6.ts')).href,
  ...Object.fromEntries(
    ['http', 'execution', 'metrics', 'data', 'x/sse'].map((m) => [
      `k6/${m}`,
      pathToFileURL(resolve(here, `${m === 'x/sse' ? 'sse' : m}.ts`)).href,
    ]),
  ),
};

export async function buildTestBundle(outdir: string): Promise<string> {
  const [file] = await buildK6({ outdir, alias: K6_DOUBLES });
  return file!;
}

export interface ScriptModule {
  options: {
    scenarios: Record<
      string,
      { exec: string; rate: number; timeUnit: string; duration: string; startTime: string; tags: Record<string, string> }
    >;
    thresholds: Record<string, string[]>;
  };
  setup(): { origin_unix_ms: number };
  handleSummary(data: unknown): Record<string, string>;
  [exec: string]: unknown;
}

let loaded = 0;

/** Loads a fresh module instance, as a new k6 instance would (init context runs again). */
export async function loadInstance(
  bundle: string,
  env: Record<string, string>,
  consoleFile: string,
  executionSegment?: string,
  vu = 0,
): Promise<ScriptModule> {
  resetSharedArrays();
  samples.clear();
  state.options = executionSegment === undefined ? {} : { executionSegment };
  const g = globalThis as Record<string, unknown>;
  g.__ENV = env;
  g.__VU = vu; // 0 where k6 reads options (and runs setup / handleSummary), 1, 2, … in the VUs that send
  g.open = (path: string) => readFileSync(isAbsolute(path) ? path : resolve(dirname(bundle), path), 'utf8');
  writeFileSync(consoleFile, '', { flag: 'a' });
  console.log = (...args: unknown[]) => appendFileSync(consoleFile, args.map(String).join(' ') + '\n');
  return (await import(`${pathToFileURL(bundle).href}?instance=${++loaded}`)) as ScriptModule;
}

const realLog = console.log;
export function restoreConsole(): void {
  console.log = realLog;
}

/** Runs iteration `iterationInTest` of scenario `name`, as k6's executor does. */
export function runIteration(module: ScriptModule, name: string, iterationInTest: number, scenarioStartMs: number, data: unknown): void {
  const scenario = module.options.scenarios[name]!;
  state.scenario = {
    name,
    executor: 'constant-arrival-rate',
    startTime: scenarioStartMs,
    progress: 0,
    iterationInInstance: iterationInTest,
    iterationInTest,
  };
  state.tags = { ...scenario.tags, scenario: name };
  (module[scenario.exec] as (data: unknown) => void)(data);
}

/** Parses an execution segment "from:to" with fractions, e.g. "1/4:2/4". */
function fraction(text: string): number {
  const [n, d] = text.split('/');
  return Number(n) / (d === undefined ? 1 : Number(d));
}

/**
 * Iterations of a run of `total` that the instance with `segment` executes. k6 stripes
 * arrival-rate iterations across the segments of the sequence; for a sequence of N equal
 * segments (k6-operator `parallelism: N`) that is round-robin: segment j runs i ≡ j (mod N).
 * Unequal sequences are not modelled here.
 */
export function segmentIterations(total: number, segment: string | undefined, parts: number): number[] {
  const all = Array.from({ length: total }, (_, i) => i);
  if (segment === undefined) return all;
  const [from, to] = segment.split(':').map(fraction) as [number, number];
  const j = Math.round(from * parts);
  if (Math.abs(to - from - 1 / parts) > 1e-9 || Math.abs(from * parts - j) > 1e-9)
    throw new Error(`segment ${segment} is not one of ${parts} equal parts`);
  return all.filter((i) => i % parts === j);
}

/** Blocks the thread until unix time `ms` (the executor's wait for an iteration's due time). */
export function waitUntil(ms: number): void {
  const gap = ms - Date.now();
  if (gap > 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, gap);
}

// --- thresholds, evaluated the way k6 does --------------------------------------------------------

/** k6's Trend percentile: linear interpolation at i = p·(n−1) (TrendSink.P). */
function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  const i = p * (sorted.length - 1);
  const lo = sorted[Math.floor(i)]!;
  const hi = sorted[Math.ceil(i)]!;
  return lo + (hi - lo) * (i - Math.floor(i));
}

function aggregate(expression: string): Record<string, number> | undefined {
  const m = /^([a-z_]+)(?:\{([^}]*)\})?$/.exec(expression);
  if (!m) throw new Error(`cannot read threshold metric ${expression}`);
  const metric = samples.get(m[1]!);
  if (!metric) return undefined;
  const filter = (m[2] ?? '')
    .split(',')
    .filter(Boolean)
    .map((kv) => kv.split(':') as [string, string]);
  const values = metric.values.filter((s) => filter.every(([k, v]) => s.tags[k] === v)).map((s) => s.value);
  if (values.length === 0) return undefined;
  if (metric.type === 'rate')
    return {
      rate: values.filter((v) => v !== 0).length / values.length,
      passes: values.filter((v) => v !== 0).length,
      fails: values.filter((v) => v === 0).length,
    };
  if (metric.type === 'counter') return { count: values.reduce((a, b) => a + b, 0) };
  const sorted = [...values].sort((a, b) => a - b);
  const out: Record<string, number> = {
    avg: values.reduce((a, b) => a + b, 0) / values.length,
    min: sorted[0]!,
    max: sorted[sorted.length - 1]!,
    med: percentile(sorted, 0.5),
    count: values.length,
  };
  for (const p of [90, 95, 99]) out[`p(${p})`] = percentile(sorted, p / 100);
  return out;
}

function holds(values: Record<string, number>, condition: string): boolean {
  const m = /^([a-z]+(?:\([\d.]+\))?)\s*(<=|>=|==|<|>)\s*(-?[\d.]+)$/.exec(condition);
  if (!m) throw new Error(`cannot read threshold condition ${condition}`);
  let v = values[m[1]!];
  if (v === undefined && /^p\(/.test(m[1]!)) throw new Error(`percentile ${m[1]} not aggregated`);
  v ??= 0;
  const limit = Number(m[3]);
  switch (m[2]) {
    case '<=':
      return v <= limit;
    case '>=':
      return v >= limit;
    case '==':
      return v === limit;
    case '<':
      return v < limit;
    default:
      return v > limit;
  }
}

/**
 * The summary data handleSummary receives, built from the double's samples: aggregates and threshold
 * results for every metric a threshold names (metrics without samples are absent, as in k6), plus the
 * iteration counters the harness knows (no iteration is dropped by this one-VU executor).
 */
export function summaryData(
  thresholds: Record<string, string[]>,
  iterations: Record<string, number>,
): { metrics: Record<string, unknown>; failed: boolean } {
  const metrics: Record<string, unknown> = {};
  let failed = false;
  for (const [arm, n] of Object.entries(iterations)) {
    metrics[`iterations{scenario:${arm}}`] = { values: { count: n }, thresholds: { 'count>=0': { ok: true } } };
  }
  for (const [expression, conditions] of Object.entries(thresholds)) {
    if (expression.startsWith('iterations{') || expression.startsWith('dropped_iterations')) continue;
    const values = aggregate(expression);
    if (values === undefined) continue;
    const results: Record<string, { ok: boolean }> = {};
    for (const c of conditions) {
      results[c] = { ok: holds(values, c) };
      if (!results[c].ok) failed = true;
    }
    metrics[expression] = { values, thresholds: results };
  }
  return { metrics, failed };
}

// --- simulated endpoints on their own thread -------------------------------------------------------

export interface SimThread {
  urls: string[];
  close(): Promise<void>;
}

export async function startSimThread(configs: SimOptions[]): Promise<SimThread> {
  const worker = new Worker(new URL('./sim-thread.ts', import.meta.url), { workerData: configs });
  const [ready] = (await once(worker, 'message')) as [{ urls: string[] }];
  return {
    urls: ready.urls,
    async close() {
      worker.postMessage({ op: 'close' });
      await once(worker, 'message');
      await worker.terminate();
      await closeBridge();
    },
  };
}
