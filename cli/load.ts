// `shadowbench load` (npm run load): paired open-loop replay of a workload against a baseline and a
// candidate at a target rate, then the analysis of the run folder.
import { accessSync, constants, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import { asSource, createPlan, ARRIVALS, ITEM_ORDERS, PlanError, type PlanOptions, type PlanWorkload } from '../core/plan.ts';
import { BASELINE, BASELINE_REPEAT, CANDIDATE } from '../core/record.ts';
import { notSent, redactUrl } from '../core/run.ts';
import { WORKLOAD_FORMATS, WorkloadError, type WorkloadSource } from '../core/workload/workload.ts';
import { openWorkload } from '../io/workload-file.ts';
import { checkWorkloadFlags, WORKLOAD_OPTIONS, workloadOpenOptions } from './workload-options.ts';
import { analyzeRunFolder, loadGates } from '../pipeline/analyze-folder.ts';
import { nearestExisting } from '../io/make-dirs.ts';
import { checkRunFolder } from '../io/run-folder.ts';
import { describeTarget, startRunScrapers, type ScrapeSummary } from '../io/prometheus-scrape.ts';
import { newRunId, parseHeader, type ArmTarget, type LoadConfig } from '../engine/config.ts';
import { preflight, PreflightError } from '../engine/preflight.ts';
import { PRECONNECT_MAX } from '../engine/client.ts';
import { NodeLoadRun } from '../engine/run-load.ts';
import { Interrupts } from './interrupts.ts';
import { startSimTopology, type SimProcess } from '../sim/process.ts';
import { COST_OPTIONS, costSpecsFromOptions } from '../analysis/cost-options.ts';
import { checkK6Mode, K6_OPTION_KEYS, K6_OPTIONS, k6ScriptOptions } from './k6-options.ts';
import type { K6LoadResult } from './load-k6.ts';
import { scrapeTargets, SERVER_METRICS_OPTIONS } from './metrics-options.ts';
import { bool, flagOf, formatHelp, list, num, parseOptions, str, UsageError, type Values } from '../core/options.ts';
import { DEFAULT_MAX_OUTPUT_BYTES } from '../core/stream-recorder.ts';

const DEFAULT_DURATION_S = 30;
/** Node's timers hold at most 2^31−1 ms (a longer delay fires after 1 ms): the longest --timeout / --grace, in seconds. */
export const MAX_TIMER_S = 2_147_483;

export const LOAD_OPTIONS = {
  baseline: str({
    meta: 'URL',
    help: 'baseline base URL (e.g. http://10.0.0.5:8000); with neither --baseline nor --candidate, two simulated endpoints are started on loopback',
  }),
  candidate: str({ meta: 'URL', help: 'candidate base URL (give both or neither, see --baseline)' }),
  model: str({ meta: 'NAME', help: "model name sent to every arm (default: the workload's)" }),
  baselineModel: str({ meta: 'NAME', help: 'model name sent to the baseline (overrides --model)' }),
  candidateModel: str({ meta: 'NAME', help: 'model name sent to the candidate (overrides --model)' }),
  baselineRepeat: bool({
    help: "also send every request to the baseline a second time at the same instant (arm baseline_repeat: the baseline's own output noise, A/A)",
  }),
  header: list({ meta: 'NAME: VALUE', help: 'extra header on every arm (API keys: use BASELINE_API_KEY / CANDIDATE_API_KEY)' }),
  baselineHeader: list({ meta: 'NAME: VALUE', help: 'extra header on the baseline (and baseline_repeat) only' }),
  candidateHeader: list({ meta: 'NAME: VALUE', help: 'extra header on the candidate only' }),
  workload: str({ default: 'workloads/sample-chat.jsonl', meta: 'FILE', help: 'workload file (formats: workloads/FORMATS.md)' }),
  format: str({ choices: WORKLOAD_FORMATS, help: 'workload format [default: detected from the content]' }),
  sample: num({ integer: true, min: 1, help: 'use a seeded random subset of this many workload items [default: every item]' }),
  ...WORKLOAD_OPTIONS,
  order: str({ default: 'sequential', choices: ITEM_ORDERS, help: 'item order: file order, or a seeded shuffle per pass' }),
  qps: num({ default: 10, min: 0.001, help: 'target rate in requests (pairs) per second; each request goes to every arm' }),
  arrival: str({
    default: 'constant',
    choices: ARRIVALS,
    help: "constant: every 1/qps s; poisson: seeded exponential gaps; trace: the workload's own timestamps",
  }),
  timeScale: num({ default: 1, min: 0.000001, help: "trace arrival: multiplies the workload's time offsets (0.5 = twice as fast)" }),
  duration: num({
    min: 0.001,
    meta: 'SECONDS',
    help: `measured length in seconds [default ${DEFAULT_DURATION_S} s unless --requests is given, or one pass over a trace]; with --requests the shorter wins`,
  }),
  requests: num({
    integer: true,
    min: 1,
    help: 'measured requests (pairs); with --duration the shorter wins [default: as many as --duration allows]',
  }),
  warmup: num({
    default: 0,
    integer: true,
    min: 0,
    help: 'warm-up requests sent first on the same schedule, flagged and excluded from analysis',
  }),
  maxInflight: num({
    default: 0,
    integer: true,
    min: 0,
    help: 'most request pairs in flight (a pair holds its slot until every arm finished; waiting time is recorded as queue_wait_ns; split across --workers, which it caps); 0 = no cap',
  }),
  timeout: num({
    default: 60,
    min: 0.001,
    max: MAX_TIMER_S,
    meta: 'SECONDS',
    help: 'per-request limit from send to the end of the response',
  }),
  maxOutputBytes: num({
    default: DEFAULT_MAX_OUTPUT_BYTES,
    integer: true,
    min: 1,
    meta: 'BYTES',
    help: 'text kept per response (answer, reasoning and tool calls, UTF-8): past it the texts are cut and the record says truncated, while timing runs to the end of the stream; one SSE line may hold at most 6× this + 64 KiB',
  }),
  grace: num({
    default: 10,
    min: 0,
    max: MAX_TIMER_S,
    meta: 'SECONDS',
    help: 'after Ctrl-C: how long in-flight requests may finish before they are cancelled (at any --qps: nothing is sent after the signal; Ctrl-C again exits at once)',
  }),
  stream: bool({
    default: true,
    help: 'stream responses (SSE with stream_options.include_usage); without it requests carry stream: false (no token timing)',
  }),
  // One core left to the main thread (it writes the records) and whatever shares the machine: on 2 cores
  // with the simulated endpoints, 1 sender measured p99 TTFT timestamp error 1.1-1.9 ms at 100 QPS
  // against 1.2-3.3 ms with 2 (send lag alike, 0.5-0.9 ms), and p99 send lag 2.6-4.6 ms at 200 QPS
  // against 4.9-5.3 ms.
  workers: num({
    default: Math.max(1, availableParallelism() - 1),
    integer: true,
    min: 0,
    max: 64,
    help: 'sending threads (requests dealt round-robin, both arms of a request from one thread; default: one per core but one); 0 = the main thread',
  }),
  pacer: str({
    default: 'spin',
    choices: ['clock', 'spin'] as const,
    help: 'how senders wake at each due instant when no response is arriving (while one is, each chunk checks the clock): spin (timer, then polling for the last 2 ms: the most precise, measured p99 send lag 0.3-0.6 ms at 100 QPS on 2 cores) or clock (a sleeping helper thread: less CPU, 0.4-1.4 ms)',
  }),
  preconnect: str({
    default: 'auto',
    meta: 'N|auto',
    help: `connections opened per arm per sending thread before the first send (GET /v1/models, not recorded), so the run's first second does not pay for TCP connects; auto: the requests each thread sends in its first 2 s, at most ${PRECONNECT_MAX}; 0 = none`,
  }),
  seed: num({
    default: 1,
    integer: true,
    min: 0,
    max: 2 ** 32 - 1,
    help: 'seed of every random choice (poisson gaps, shuffle, sampling), saved in run.json',
  }),
  out: str({ meta: 'DIR', help: 'run folder: a new (or empty) folder, one run per folder [default results/<run-id>]' }),
  force: bool({
    help: "let --out be a folder that already holds a run: its run's files are removed first (never appended to); refused while another run holds it",
  }),
  preflight: bool({ default: true, help: 'check GET /v1/models on every arm before sending' }),
  analyze: bool({ default: true, help: 'analyse the run folder when the run ends (without it, later: npm run analyze -- <run folder>)' }),
  gates: str({
    meta: 'FILE',
    help: 'gates file (JSON or YAML) with the verdict thresholds of the analysis at the end of the run; with --engine k6 its absolute rules also become k6 thresholds [default: the built-in gates]',
  }),
  progress: bool({ default: true, help: 'live progress line on stderr' }),
  engine: str({
    default: 'node',
    choices: ['node', 'k6'] as const,
    help: 'load engine: node (built in) or k6 (grafana k6 on PATH or K6_BIN; the --k6-* options apply to it only)',
  }),
  ...K6_OPTIONS,
  baselineProfile: str({
    default: 'vllm-single-node',
    meta: 'PROFILE',
    help: 'simulated baseline profile (only without --baseline/--candidate)',
  }),
  candidateProfile: str({
    default: 'dynamo-disaggregated',
    meta: 'PROFILE',
    help: 'simulated candidate profile (only without --baseline/--candidate)',
  }),
  metrics: bool({
    default: true,
    help: "scrape server metrics during the run into <run folder>/metrics/: every --baseline-metrics / --candidate-metrics, and the simulated endpoints' /metrics automatically",
  }),
  ...SERVER_METRICS_OPTIONS,
  ...COST_OPTIONS,
};

type LoadValues = Values<typeof LOAD_OPTIONS>;

const DESCRIPTION =
  'Replays a workload at a target rate (open loop: a slow server never delays the schedule) against a baseline\n' +
  'and a candidate at the same instant, writes one record per request per arm to <run folder>/records.jsonl and\n' +
  'run.json, then analyses the folder. API keys come from BASELINE_API_KEY and CANDIDATE_API_KEY (sent as\n' +
  'Authorization: Bearer; never written anywhere). Ctrl-C stops sending, lets in-flight requests finish for\n' +
  '--grace seconds, and leaves an analysable run folder (exit 130); with --engine k6 it is forwarded to k6, which\n' +
  'stops the test, and its records are converted and analysed the same way (k6/README.md).\n' +
  'Server metrics (prefix/KV-cache hit rate, running and waiting requests, GPU utilisation) are scraped from\n' +
  'the --baseline-metrics / --candidate-metrics Prometheus endpoints (the simulated endpoints: automatically);\n' +
  'with a price per arm (--baseline-cost-per-hour, or --baseline-nodes with --gpu-hour-price...) the analysis\n' +
  'adds monthly cost and cost per 1,000 queries and per 1M output tokens at the tested load.\n' +
  'SIGTERM and SIGHUP act as Ctrl-C. run.json says status running from the start (with the planned requests per\n' +
  'arm), then complete, interrupted or failed; one run per folder (--force replaces a previous one).\n' +
  "Exit code: the analysis' verdict (0 PROCEED, 1 INVESTIGATE; --no-analyze: 0), 2 for bad input or a disk error\n" +
  '(or, with --engine k6, k6 missing or no records), 128 + the signal after a stop signal (Ctrl-C: 130, SIGTERM: 143).';

const PLAN_FLAGS: Record<string, string> = { durationS: '--duration', timeScale: '--time-scale', workload: '--workload' };

function usage(message: string): never {
  throw new UsageError(message);
}

function planOptions(v: LoadValues, explicit: Set<keyof LoadValues>): PlanOptions {
  const plan: PlanOptions = { arrival: v.arrival, seed: v.seed, order: v.order, warmup: v.warmup };
  if (v.arrival === 'trace') {
    plan.timeScale = v.timeScale;
    if (explicit.has('qps')) usage("--qps does not apply with --arrival trace (the workload's timestamps set the rate; use --time-scale)");
  } else {
    plan.qps = v.qps;
    if (explicit.has('timeScale')) usage('--time-scale applies only with --arrival trace');
  }
  if (v.requests !== undefined) plan.requests = v.requests;
  if (v.duration !== undefined) plan.durationS = v.duration;
  else if (v.requests === undefined && v.arrival !== 'trace') plan.durationS = DEFAULT_DURATION_S;
  return plan;
}

function headersFor(v: LoadValues, env: Record<string, string | undefined>, side: 'baseline' | 'candidate'): Record<string, string> {
  const headers: Record<string, string> = {};
  const add = (flag: string, lines: string[]) => {
    for (const line of lines) {
      try {
        const [name, value] = parseHeader(flag, line);
        headers[name] = value;
      } catch (error) {
        usage((error as Error).message);
      }
    }
  };
  add('--header', v.header);
  add(side === 'baseline' ? '--baseline-header' : '--candidate-header', side === 'baseline' ? v.baselineHeader : v.candidateHeader);
  const key = env[side === 'baseline' ? 'BASELINE_API_KEY' : 'CANDIDATE_API_KEY'];
  if (key !== undefined && key !== '') headers.authorization = `Bearer ${key}`;
  return headers;
}

/** Flag combinations of the engine options: k6-only flags need --engine k6, and the k6 mode must agree with --stream. */
function checkEngineOptions(v: LoadValues, explicit: Set<keyof LoadValues>): void {
  if (v.engine !== 'k6') {
    for (const key of K6_OPTION_KEYS) {
      if (explicit.has(key)) usage(`${flagOf(key)} applies only with --engine k6 (this run uses --engine ${v.engine})`);
    }
  } else {
    checkK6Mode(v, explicit);
  }
}

/**
 * Arm → Prometheus endpoints to scrape: --baseline-metrics / --candidate-metrics, and the /metrics of
 * a built-in simulated arm given none; nothing with --no-metrics.
 */
export function metricsTargets(
  v: LoadValues,
  endpoints: { baseline: string; candidate: string; baselineProfile: string | null; candidateProfile: string | null },
  /** The simulated arms, baseline then candidate (their Prometheus targets). */
  sims: readonly SimProcess[] = [],
): Record<string, string[]> {
  if (!v.metrics) return {};
  const targets = scrapeTargets(v);
  // a simulated arm's targets: its /metrics, or a Dynamo profile's frontend, worker ports and DCGM (sim/process.ts)
  if (endpoints.baselineProfile !== null) targets.baseline ??= sims[0]?.metrics ?? [`${endpoints.baseline}/metrics`];
  if (endpoints.candidateProfile !== null) targets.candidate ??= sims[1]?.metrics ?? [`${endpoints.candidate}/metrics`];
  return targets;
}

function preconnectOption(text: string): number | 'auto' {
  if (text === 'auto') return 'auto';
  const n = /^\d+$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isInteger(n) || n < 0 || n > PRECONNECT_MAX)
    usage(`--preconnect: expected auto or an integer 0-${PRECONNECT_MAX}, got ${JSON.stringify(text)}`);
  return n;
}

function checkUrl(flag: string, url: string): void {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    usage(
      `${flag}: ${JSON.stringify(redactUrl(url) === '<invalid url>' ? url.slice(0, 60) : redactUrl(url))} is not a URL (expected e.g. http://10.0.0.5:8000)`,
    );
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')
    usage(`${flag}: expected an http:// or https:// URL, got ${parsed.protocol}`);
}

/** Options as run.json shows them: header values and URL credentials removed. */
function publicOptions(v: LoadValues): Record<string, unknown> {
  const names = (lines: string[]) =>
    lines.map((l) =>
      l
        .slice(0, Math.max(0, l.indexOf(':')))
        .trim()
        .toLowerCase(),
    );
  return {
    ...v,
    baseline: v.baseline === undefined ? null : redactUrl(v.baseline),
    candidate: v.candidate === undefined ? null : redactUrl(v.candidate),
    header: names(v.header),
    baselineHeader: names(v.baselineHeader),
    candidateHeader: names(v.candidateHeader),
    baselineMetrics: v.baselineMetrics.map(describeTarget),
    candidateMetrics: v.candidateMetrics.map(describeTarget),
    api_keys_from_env: [],
  };
}

function modelsInWorkload(workload: PlanWorkload): string[] {
  return [...asSource(workload).models];
}

/**
 * --out as a folder this run may create or fill, checked without creating anything: the path (or the
 * nearest part of it that exists) must be a folder we can write in, and must not hold a run already.
 */
export function checkOutDir(runDir: string, force = false): void {
  if (runDir.trim() === '') usage('--out: empty; give a folder for the run (e.g. results/my-run)');
  let existing: string;
  try {
    existing = nearestExisting(runDir);
  } catch (error) {
    const { code, path } = error as NodeJS.ErrnoException;
    if (code === 'ENOTDIR') usage(`--out ${runDir}: a part of the path is a file, not a folder`);
    usage(`--out ${runDir}: cannot use ${path ?? runDir} (${code ?? (error as Error).message})`);
  }
  if (!statSync(existing).isDirectory())
    usage(
      existing === resolve(runDir) ? `--out ${runDir}: is a file, not a folder` : `--out ${runDir}: ${existing} is a file, not a folder`,
    );
  try {
    accessSync(existing, constants.W_OK | constants.X_OK);
  } catch (error) {
    usage(`--out ${runDir}: cannot write in ${existing} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
  // One run per folder: a folder holding anything (another run, a k6:manifest folder) is refused unless --force.
  checkRunFolder(runDir, { flag: '--out', force });
}

/** What the run needs that no endpoint is involved in: read and checked before any simulated endpoint starts. */
export interface PreparedRun {
  workload: WorkloadSource;
  plan: PlanOptions;
  headers: { baseline: Record<string, string>; candidate: Record<string, string> };
  preconnect: number | 'auto';
  runId: string;
  runDir: string;
}

/** Reads the workload (--sample applied) and checks the plan, --preconnect, the headers and the run folder. */
export async function prepareRun(
  v: LoadValues,
  explicit: Set<keyof LoadValues>,
  env: Record<string, string | undefined>,
): Promise<PreparedRun> {
  const plan = planOptions(v, explicit);
  const preconnect = preconnectOption(v.preconnect);
  let workload: WorkloadSource;
  try {
    // Trace and Azure files are streamed into an index; prompts are built per request (io/workload-file.ts).
    workload = await openWorkload(v.workload, workloadOpenOptions(v));
  } catch (error) {
    if (error instanceof WorkloadError)
      usage(`${/: sample \d+ must be/.test(error.message) ? '--sample' : '--workload'}: ${error.message}`);
    throw error;
  }
  checkWorkloadFlags(v, workload.format);
  for (const note of workload.report.notes) process.stderr.write(`shadowbench: workload: ${note}\n`);
  try {
    createPlan(workload, plan);
  } catch (error) {
    if (error instanceof PlanError) usage(`${PLAN_FLAGS[error.option] ?? flagOf(error.option)}: ${error.message}`);
    throw error;
  }
  const headers = { baseline: headersFor(v, env, 'baseline'), candidate: headersFor(v, env, 'candidate') };
  const runId = newRunId();
  const runDir = v.out ?? join('results', runId);
  checkOutDir(runDir, v.force);
  return { workload, plan, headers, preconnect, runId, runDir };
}

/** Resolves argv + environment + endpoints into the engine's configuration (validating every combination). */
export async function resolveConfig(
  v: LoadValues,
  explicit: Set<keyof LoadValues>,
  env: Record<string, string | undefined>,
  endpoints: { baseline: string; candidate: string; baselineProfile: string | null; candidateProfile: string | null },
  prepared?: PreparedRun,
): Promise<LoadConfig> {
  const { workload, plan, headers, preconnect, runId, runDir } = prepared ?? (await prepareRun(v, explicit, env));
  const arms: ArmTarget[] = [
    {
      arm: BASELINE,
      url: endpoints.baseline,
      model: v.baselineModel ?? v.model ?? null,
      headers: headers.baseline,
      simulatedProfile: endpoints.baselineProfile,
    },
    {
      arm: CANDIDATE,
      url: endpoints.candidate,
      model: v.candidateModel ?? v.model ?? null,
      headers: headers.candidate,
      simulatedProfile: endpoints.candidateProfile,
    },
  ];
  if (v.baselineRepeat) arms.push({ ...arms[0]!, arm: BASELINE_REPEAT, headers: { ...headers.baseline } });
  const options: Record<string, unknown> = {
    ...publicOptions(v),
    api_keys_from_env: ['BASELINE_API_KEY', 'CANDIDATE_API_KEY'].filter((k) => (env[k] ?? '') !== ''),
    plan,
  };
  // The k6 settings only where k6 reads them (cli/load-k6.ts, from config.options).
  for (const key of K6_OPTION_KEYS) delete options[key];
  if (v.engine === 'k6') Object.assign(options, k6ScriptOptions(v, explicit));
  return {
    engine: v.engine,
    runId,
    runDir,
    arms,
    workload,
    workloadPath: v.workload,
    plan,
    seed: v.seed,
    stream: v.stream,
    timeoutMs: v.timeout * 1000,
    maxOutputBytes: v.maxOutputBytes,
    graceMs: v.grace * 1000,
    maxInflight: v.maxInflight,
    // The in-flight cap is split across sender threads, so there are never more threads than slots.
    workers: v.maxInflight > 0 ? Math.min(v.workers, v.maxInflight) : v.workers,
    pacer: v.pacer,
    preconnect,
    preflight: v.preflight,
    progress: v.progress,
    options,
    force: v.force,
  };
}

interface K6Module {
  runK6Load(config: LoadConfig, signals?: Interrupts): Promise<K6LoadResult>;
}

type Endpoints = { baseline: string; candidate: string; baselineProfile: string | null; candidateProfile: string | null };

/**
 * The arms' endpoints: --baseline/--candidate as given, or two simulated endpoints started as child
 * processes on loopback (closed by close(), also on failure).
 */
export class EndpointSetup {
  readonly sims: SimProcess[] = [];

  async start(v: Pick<LoadValues, 'baseline' | 'candidate' | 'baselineProfile' | 'candidateProfile' | 'seed'>): Promise<Endpoints> {
    if (v.baseline !== undefined && v.candidate !== undefined)
      return { baseline: v.baseline, candidate: v.candidate, baselineProfile: null, candidateProfile: null };
    const seedArgs = ['--seed', String(v.seed)];
    // both or neither: if one fails to start, the other is closed before the error propagates
    const { baseline: b, candidate: c } = await startSimTopology({ baseline: v.baselineProfile, candidate: v.candidateProfile }, seedArgs);
    this.sims.push(b, c);
    process.stderr.write(`shadowbench: simulated endpoints: baseline ${b.profile} at ${b.url}, candidate ${c.profile} at ${c.url}\n`);
    return { baseline: b.url, candidate: c.url, baselineProfile: b.profile, candidateProfile: c.profile };
  }

  async close(): Promise<void> {
    await Promise.all(this.sims.splice(0).map((s) => s.close()));
  }
}

/**
 * Server-metrics scrapers: started at the run's origin, stopped (with one last scrape) after the last
 * response, before the simulated endpoints close. Their failures never stop the run.
 */
export class RunScrapers {
  #scraping: Promise<{ stop(): Promise<ScrapeSummary[]> } | null> | null = null;
  readonly #intervalMs: number;
  readonly #start: typeof startRunScrapers;

  constructor(intervalMs: number, start: typeof startRunScrapers = startRunScrapers) {
    this.#intervalMs = intervalMs;
    this.#start = start;
  }

  start(runDir: string, targets: Record<string, string[]>, originNs: bigint): void {
    if (Object.keys(targets).length === 0) return;
    process.stderr.write(
      `shadowbench: scraping server metrics every ${this.#intervalMs} ms: ` +
        Object.entries(targets)
          .map(([arm, urls]) => `${arm} ${urls.map(describeTarget).join(', ')}`)
          .join('; ') +
        '\n',
    );
    this.#scraping = this.#start({ runDir, originNs, targets, intervalMs: this.#intervalMs }).catch((error: unknown) => {
      process.stderr.write(`shadowbench: warning: server metrics not scraped: ${(error as Error).message}\n`);
      return null;
    });
  }

  async stop(): Promise<void> {
    const started = await this.#scraping;
    this.#scraping = null;
    if (started === null || started === undefined) return;
    const summaries = await started.stop();
    const byArm = new Map<string, { scrapes: number; gaps: number }>();
    for (const s of summaries) {
      const total = byArm.get(s.arm) ?? { scrapes: 0, gaps: 0 };
      byArm.set(s.arm, { scrapes: total.scrapes + s.scrapes, gaps: total.gaps + s.gaps });
    }
    process.stderr.write(
      `shadowbench: server metrics: ${[...byArm].map(([arm, n]) => `${arm} ${n.scrapes} scrapes${n.gaps > 0 ? ` (${n.gaps} failed)` : ''}`).join(', ')}\n`,
    );
  }
}

/** Nothing to analyse: exit with the signal's code saying so (not the analysis' "no records", exit 2). */
function interruptedBeforeSending(runDir: string | null, code: number): number {
  process.stderr.write(
    `shadowbench: interrupted before the first request was sent; nothing recorded${runDir === null ? '' : ` (${join(runDir, 'run.json')} says so)`}\n`,
  );
  return code;
}

/** Requests planned but never recorded, per arm, as "baseline 9, candidate 9" (empty when none). */
function notSentText(manifest: { planned?: Record<string, number> | null }, byArm: Map<string, number>): string {
  const missing = notSent(manifest.planned ?? null, byArm);
  return missing === null
    ? ''
    : Object.entries(missing)
        .filter(([, n]) => n > 0)
        .map(([arm, n]) => `${arm} ${n}`)
        .join(', ');
}

/** The engine's outcome as cli/load.ts needs it: an exit code to return now, or null to go on to the analysis. */
interface EngineOutcome {
  stopCode: number | null;
}

/** Runs the Node engine with the signals routed to it; a disk failure is thrown as its one-line error (exit 2). */
async function runNodeEngine(
  config: LoadConfig,
  interrupts: Interrupts,
  scrapers: RunScrapers,
  targets: Record<string, string[]>,
): Promise<EngineOutcome> {
  process.stderr.write(
    `shadowbench: run ${config.runId} → ${config.runDir} (${config.arms.map((a) => a.arm).join(', ')}; ` +
      `${config.plan.arrival}${config.plan.qps !== undefined ? ` ${config.plan.qps}/s` : ''}; ${config.workers === 0 ? 'main thread' : config.workers === 1 ? '1 worker' : `${config.workers} workers`})\n`,
  );
  const loadRun = new NodeLoadRun(config, { onStart: (originNs) => scrapers.start(config.runDir, targets, originNs) });
  interrupts.running(loadRun);
  const result = await loadRun.run();
  interrupts.after();
  await scrapers.stop();
  if (result.error !== null) throw result.error;
  if (result.interruptedBeforeSending) return { stopCode: interruptedBeforeSending(config.runDir, interrupts.exitCode) };
  const byArm = new Map<string, number>();
  const counts = result.manifest.counts as { by_arm?: Record<string, { ok: number; errors: number; cancelled: number }> };
  for (const [arm, c] of Object.entries(counts.by_arm ?? {})) byArm.set(arm, c.ok + c.errors + c.cancelled);
  const missing = notSentText(result.manifest, byArm);
  process.stderr.write(
    `shadowbench: ${result.sent} pair${result.sent === 1 ? '' : 's'} sent, ${result.records} records in ${join(result.runDir, 'records.jsonl')}${result.interrupted ? ` (stopped: ${result.interrupted})` : ''}${missing === '' ? '' : `; planned but not sent: ${missing}`}\n`,
  );
  // A second signal: the run was cut short and saved; no analysis (exit with the signal's code).
  if (interrupts.count >= 2) return { stopCode: interrupts.exitCode };
  return { stopCode: null };
}

/** Runs the k6 engine (cli/load-k6.ts, loaded on demand) with the signals routed to k6. */
async function runK6Engine(
  config: LoadConfig,
  interrupts: Interrupts,
  scrapers: RunScrapers,
  targets: Record<string, string[]>,
): Promise<EngineOutcome> {
  let k6: K6Module;
  try {
    k6 = await import('./load-k6.ts');
  } catch (error) {
    usage(`--engine k6: the k6 engine is not available in this build (cli/load-k6.ts: ${(error as Error).message.split('\n')[0]})`);
  }
  if (interrupts.count > 0) return { stopCode: interruptedBeforeSending(null, interrupts.exitCode) };
  // k6 keeps its own clock: the scrapes' origin is this process's clock when k6 is launched.
  scrapers.start(config.runDir, targets, process.hrtime.bigint());
  const result = await k6.runK6Load(config, interrupts);
  interrupts.after();
  await scrapers.stop();
  // 0 after a first signal too: the records k6 wrote are analysed, then the exit code is the signal's.
  return { stopCode: result.exitCode !== 0 ? result.exitCode : null };
}

/** Checks of argv that need no file, no endpoint and no network. */
function checkLoadValues(v: LoadValues, explicit: Set<keyof LoadValues>, positionals: string[]): void {
  if (positionals.length > 0) usage(`unexpected argument "${positionals[0]}"; load takes only options (see --help)`);
  if ((v.baseline === undefined) !== (v.candidate === undefined)) {
    usage(
      `${v.baseline === undefined ? '--baseline' : '--candidate'} is missing: give both --baseline and --candidate, or neither to use the simulated endpoints`,
    );
  }
  if (v.baseline !== undefined) checkUrl('--baseline', v.baseline);
  if (v.candidate !== undefined) checkUrl('--candidate', v.candidate);
  checkEngineOptions(v, explicit);
  if (!v.metrics && (v.baselineMetrics.length > 0 || v.candidateMetrics.length > 0)) {
    usage(`--no-metrics contradicts ${v.baselineMetrics.length > 0 ? '--baseline-metrics' : '--candidate-metrics'}; give one of them`);
  }
  scrapeTargets(v); // a malformed metrics URL fails before any endpoint is started
  costSpecsFromOptions(v); // so does conflicting or incomplete pricing
}

/**
 * Rate above which one process cannot be expected to send on time (measured: a sender keeps p99 send
 * lag under a few ms to about 200 requests per second on 2 cores, README); above it per sending thread
 * the run warns at start-up, and its send-lag validity check will likely fail.
 */
export const QPS_PER_SENDER_LIMIT = 500;

/** A start-up warning when --qps is above what the senders can send on time; null otherwise. */
export function qpsWarning(qps: number | undefined, arms: number, workers: number): string | null {
  if (qps === undefined) return null;
  const senders = Math.max(1, workers);
  const limit = QPS_PER_SENDER_LIMIT * senders;
  if (qps <= limit) return null;
  return `--qps ${qps} × ${arms} arms is above what ${senders === 1 ? 'one sending thread' : `${senders} sending threads`} can send on time (about ${limit} requests per second here): requests will leave late (the send-lag check will likely make the run invalid); a stop signal is still honoured within --grace`;
}

export async function run(argv: string[], env: Record<string, string | undefined> = process.env): Promise<number> {
  if (argv.includes('--help')) {
    process.stdout.write(formatHelp('shadowbench load [options]   (npm run load -- [options])', DESCRIPTION, LOAD_OPTIONS));
    return 0;
  }
  const { values: v, positionals, explicit } = parseOptions(LOAD_OPTIONS, argv, env);
  checkLoadValues(v, explicit, positionals);
  const gates = await loadGates(v.gates); // a bad gates file fails before any load rather than at the analysis
  // The plan's flag combinations, --preconnect, the workload, the headers and --out fail before any endpoint is started.
  const prepared = await prepareRun(v, explicit, env);

  // Stop signals (SIGINT, SIGTERM, SIGHUP): before the load starts (sims, preflight) they just stop;
  // during the load the first drains gracefully and the second saves at once (with --engine k6 they
  // are forwarded to k6); after the load (analysis) they exit at once. cli/interrupts.ts.
  const interrupts = new Interrupts().attach();
  const endpointSetup = new EndpointSetup();
  const scrapers = new RunScrapers(v.metricsIntervalMs);
  if (!v.stream && v.analyze) {
    process.stderr.write(
      'shadowbench: note: --no-stream measures end-to-end latency only; TTFT and ITL are not measured, so the verdict cannot be PROCEED (it needs a TTFT improvement)\n',
    );
  }
  try {
    const endpoints = await endpointSetup.start(v);
    const config = await resolveConfig(v, explicit, env, endpoints, prepared);
    const targets = metricsTargets(v, endpoints, endpointSetup.sims);
    config.options.metricsTargets = Object.fromEntries(Object.entries(targets).map(([arm, urls]) => [arm, urls.map(describeTarget)]));
    const warning = config.engine === 'node' ? qpsWarning(config.plan.qps, config.arms.length, config.workers) : null;
    if (warning !== null) process.stderr.write(`shadowbench: warning: ${warning}\n`);
    if (config.preflight) {
      try {
        await preflight(
          config.arms.filter((a) => a.arm !== BASELINE_REPEAT),
          (a) => (a.model !== null ? [a.model] : modelsInWorkload(config.workload)),
          (a) => redactUrl(a.url),
          interrupts.startup.signal,
        );
      } catch (error) {
        if (error instanceof PreflightError) usage(error.message);
        throw error;
      }
    }
    if (interrupts.count > 0) return interruptedBeforeSending(null, interrupts.exitCode);
    const outcome =
      config.engine === 'k6'
        ? await runK6Engine(config, interrupts, scrapers, targets)
        : await runNodeEngine(config, interrupts, scrapers, targets);
    if (outcome.stopCode !== null) return outcome.stopCode;
    await endpointSetup.close();
    const code = v.analyze ? (await analyzeRunFolder(config.runDir, { gates })).exitCode : null;
    if (interrupts.count > 0) return interrupts.exitCode;
    return code ?? 0;
  } finally {
    interrupts.dispose();
    await scrapers.stop().catch(() => undefined);
    await endpointSetup.close();
  }
}
