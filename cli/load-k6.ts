// `npm run load -- --engine k6 ...`: runs the resolved LoadConfig through grafana k6 instead of the
// Node engine. Builds the k6 bundle if it is stale, writes the script's config and the resolved
// workload into the run folder, runs `k6 run` (binary from K6_BIN or PATH, always
// --no-usage-report, records on --console-output), converts the console output to records.jsonl
// and writes run.json — also after Ctrl-C, which is forwarded to k6 (K6Interrupts). cli/load.ts
// then analyses the folder as for any engine.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { accessSync, closeSync, constants, openSync, writeFileSync, writeSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { delimiter, join, resolve } from 'node:path';
import { asSource, createPlan, type PlanWorkload } from '../core/plan.ts';
import { RECORD_SCHEMA_VERSION } from '../core/record.ts';
import type { RunManifest, RunStatus } from '../core/run.ts';

import type { Gates } from '../analysis/gates.ts';
import { loadRunManifest, type LoadConfig } from '../engine/config.ts';
import { convertK6Console, droppedIterations, k6Warnings } from '../k6/collect.ts';
import { createRunFolder, writeRunManifest } from '../io/run-folder.ts';
import { Interrupts, type InterruptTarget } from './interrupts.ts';
import { ensureK6Bundle } from '../k6/build.ts';
import { K6_ARMS, K6_CONFIG_VERSION, K6_MODES, scenarioVus, type K6Mode, type K6ScriptConfig } from '../k6/script/config.ts';
import { InFlightTracker, vuSizingWarning } from '../k6/vu-sizing.ts';
import { gatesToThresholds, RULES_NOT_IN_K6 } from '../k6/script/thresholds.ts';
import { resolvedWorkloadLine } from '../k6/script/workload.ts';
import { loadGates } from '../pipeline/analyze-folder.ts';
import { UsageError } from '../core/options.ts';

/** Exit code of a missing k6 / extension (the CLI's usage-error code). */
export const K6_MISSING_EXIT = 2;

export const K6_INSTALL_HINT = [
  'shadowbench: --engine k6 needs grafana k6 v1.2 or newer.',
  '  install it from https://github.com/grafana/k6/releases or your package manager',
  '  (https://grafana.com/docs/k6/latest/set-up/install-k6/: apt/dnf repositories, brew install k6, winget, docker grafana/k6),',
  '  then put it on PATH or point K6_BIN at the binary.',
  '  Streaming mode also needs the xk6-sse extension (import "k6/x/sse"): k6 ≥ 1.2 resolves it automatically',
  '  when it has network access; offline, build a binary with it: xk6 build --with github.com/phymbert/xk6-sse',
  '  (go install go.k6.io/xk6/cmd/xk6@latest), or use --no-stream (buffered mode, core k6/http only).',
].join('\n');

/** The k6 binary: K6_BIN when set (must be executable), else the first `k6` on PATH; null when none. */
export function findK6(env: Record<string, string | undefined> = process.env): string | null {
  const executable = (file: string) => {
    try {
      accessSync(file, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  };
  if (env.K6_BIN) return executable(env.K6_BIN) ? resolve(env.K6_BIN) : null;
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (dir && executable(join(dir, 'k6'))) return join(dir, 'k6');
  }
  return null;
}

/**
 * The workload exactly as the Node side resolved it (format detection, sampling, synthesis, model
 * filling done once), as openai wrapper JSONL (k6/script/workload.ts): the k6 script reads the
 * items back without the workload parsers and gets the same items, ids and order.
 */
export function resolvedWorkloadJsonl(workload: PlanWorkload): string {
  const lines: string[] = [];
  writeResolvedWorkload(workload, (line) => lines.push(line));
  return lines.join('');
}

/** The same lines one at a time (items of a streamed trace are built, written and dropped one by one). */
export function writeResolvedWorkload(workload: PlanWorkload, write: (line: string) => void): void {
  const source = asSource(workload);
  for (let i = 0; i < source.length; i++) write(resolvedWorkloadLine(source.item(i)));
}

export interface K6RunFiles {
  /** Path the script opens for the workload (absolute locally; relative to the script in a ConfigMap). */
  workloadFile: string;
  summaryFile: string | null;
}

/** Reads an option the load command may or may not declare (k6-specific flags are optional). */
function option<T>(config: LoadConfig, key: string, fallback: T): T {
  const value = config.options[key];
  return value === undefined || value === null ? fallback : (value as T);
}

/** The script config for a LoadConfig (no secrets: header values travel in SB_HEADERS only). */
export function k6ScriptConfig(config: LoadConfig, files: K6RunFiles, gates: Gates): K6ScriptConfig {
  if (config.plan.arrival !== 'constant') {
    throw new UsageError(
      `--engine k6 supports --arrival constant only (k6 runs each arm as a constant-arrival-rate scenario); got --arrival ${config.plan.arrival}: use --engine node`,
    );
  }
  for (const a of config.arms) {
    if (!K6_ARMS.includes(a.arm)) throw new UsageError(`--engine k6: arm ${a.arm} is not one the k6 script runs (${K6_ARMS.join(', ')})`);
  }
  const mode = option<K6Mode>(config, 'k6Mode', config.stream ? 'sse' : 'buffered');
  if (!K6_MODES.includes(mode)) throw new UsageError(`--k6-mode: got ${JSON.stringify(mode)}; expected ${K6_MODES.join(' or ')}`);
  const plan = createPlan(config.workload, config.plan);
  const timeoutS = config.timeoutMs / 1000;
  return {
    v: K6_CONFIG_VERSION,
    run_id: config.runId,
    mode,
    qps: config.plan.qps!,
    total_requests: plan.total,
    warmup: plan.warmup,
    seed: config.seed,
    order: config.plan.order ?? 'sequential',
    workload_file: files.workloadFile,
    workload: { format: 'openai' },
    arms: config.arms.map((a) => ({ arm: a.arm, url: a.url, model: a.model })),
    timeout_s: timeoutS,
    expected_latency_s: option<number>(config, 'k6ExpectedLatency', Math.min(3, timeoutS)),
    max_vus: option<number>(config, 'k6MaxVus', 0),
    start_delay_s: 0,
    thresholds: gatesToThresholds(gates),
    summary_file: files.summaryFile,
  };
}

/** Arm → header values, for SB_HEADERS in k6's environment (never written to a file). */
export function secretHeaders(config: LoadConfig): Record<string, Record<string, string>> {
  return Object.fromEntries(config.arms.map((a) => [a.arm, a.headers]));
}

/** The exact `k6 run` arguments. */
export function k6RunArgs(bundle: string, consoleFile: string, quiet: boolean): string[] {
  return ['run', '--no-usage-report', '--console-output', consoleFile, '--log-format', 'raw', ...(quiet ? ['--quiet'] : []), bundle];
}

/** What k6's exit codes mean (https://github.com/grafana/k6/blob/master/errext/exitcodes/codes.go). */
const K6_EXIT: Record<number, string> = {
  0: 'ok',
  97: 'cloud test failed',
  98: 'setup timeout',
  99: 'thresholds crossed',
  100: 'teardown timeout',
  101: 'generic timeout',
  103: 'invalid config',
  104: 'cloud failed to get progress',
  105: 'external abort (Ctrl-C)',
  106: 'cannot start REST API',
  107: 'script exception',
  108: 'script aborted',
  109: 'Go panic',
  110: 'marked as failed',
};

function k6Version(bin: string): string {
  const out = spawnSync(bin, ['version'], { encoding: 'utf8', timeout: 10_000 });
  return (out.stdout ?? '').trim().split('\n')[0] || `unknown (k6 version exited ${out.status})`;
}

/** What runK6Load ended with; cli/load.ts analyses the folder when exitCode is 0. */
export interface K6LoadResult {
  /** 0: records written (analyse them); 2: no k6 or no records; 130: stopped by Ctrl-C before k6 ran, without records, or by a second Ctrl-C. */
  exitCode: number;
  /** SIGINTs received while runK6Load ran: 1 = forwarded to k6, 2 or more = k6 killed. */
  interrupts: number;
}

/**
 * Stop signals while the k6 engine runs (an InterruptTarget of cli/interrupts.ts: SIGINT, SIGTERM and
 * SIGHUP alike). k6 runs in its own process group, so a terminal's Ctrl-C reaches only this process,
 * which forwards the first signal to k6 as SIGINT (a second one reaching k6 directly would make it exit
 * at once, without its summary). On that SIGINT k6 aborts the test run (iterations in flight are
 * interrupted, not given gracefulStop), still runs handleSummary and exits 105; this process waits for
 * it. A second signal kills k6 (SIGKILL). Either way the console output written so far is then
 * converted and run.json written. A signal before k6 is started means it is not started.
 */
export class K6Interrupts implements InterruptTarget {
  count = 0;
  /** The first signal's name, for run.json. */
  signal: string | null = null;
  #child: ChildProcess | null = null;
  // k6 must not outlive this process (its own process group is not stopped with ours).
  readonly #onExit = () => this.#child?.kill('SIGKILL');

  constructor() {
    process.on('exit', this.#onExit);
  }

  #running(): ChildProcess | null {
    const child = this.#child;
    return child === null || child.exitCode !== null || child.signalCode !== null ? null : child;
  }

  stop(reason: string): void {
    this.count++;
    this.signal ??= reason;
    const child = this.#running();
    if (child === null) return;
    process.stderr.write(`\nshadowbench: ${reason}: stopping k6 (it ends the test and writes its summary); again to kill it\n`);
    child.kill('SIGINT');
  }

  exitNow(reason: string): void {
    this.count = Math.max(2, this.count + 1);
    this.signal ??= reason.replace(/ \(second\)$/, '');
    const child = this.#running();
    if (child === null) return;
    process.stderr.write(`\nshadowbench: ${reason}: killing k6; keeping the records it wrote\n`);
    child.kill('SIGKILL');
  }

  watch(child: ChildProcess): void {
    this.#child = child;
  }

  dispose(): void {
    process.off('exit', this.#onExit);
  }
}

/** Exit status of a child as a shell reports it: the code, or 128 + the signal's number. */
function exitStatus(status: number | null, signal: NodeJS.Signals | null): number {
  if (status !== null) return status;
  return signal !== null ? 128 + (osConstants.signals[signal] ?? 0) : 1;
}

/**
 * Runs the load through k6. `signals` (cli/load.ts's) routes stop signals to k6; without it, this call
 * listens to SIGINT, SIGTERM and SIGHUP itself while it runs.
 */
export async function runK6Load(config: LoadConfig, signals?: Interrupts): Promise<K6LoadResult> {
  const interrupts = new K6Interrupts();
  const own = signals ?? new Interrupts().attach();
  own.running(interrupts);
  try {
    return await runK6(config, interrupts);
  } finally {
    interrupts.dispose();
    if (signals === undefined) own.dispose();
  }
}

async function runK6(config: LoadConfig, interrupts: K6Interrupts): Promise<K6LoadResult> {
  const runDir = resolve(config.runDir);
  // Read and checked as analyze reads it: a bad file is a UsageError naming --gates FILE.
  const gates = await loadGates(option<string | undefined>(config, 'gates', undefined));
  const files: K6RunFiles = { workloadFile: join(runDir, 'k6-workload.jsonl'), summaryFile: join(runDir, 'k6-summary.json') };
  const scriptConfig = k6ScriptConfig(config, files, gates);
  // One run per folder, held for the run; run.json says `running` (with the planned requests per arm) from the start.
  const folder = createRunFolder(runDir, { flag: '--out', force: config.force ?? false });
  try {
    return await runK6InFolder(config, interrupts, runDir, files, scriptConfig);
  } finally {
    folder.release();
  }
}

async function runK6InFolder(
  config: LoadConfig,
  interrupts: K6Interrupts,
  runDir: string,
  files: K6RunFiles,
  scriptConfig: K6ScriptConfig,
): Promise<K6LoadResult> {
  const startedAt = new Date();
  const base = (): Parameters<typeof loadRunManifest>[1] => ({
    status: 'running',
    started_at: startedAt.toISOString(),
    ended_at: null,
    engine: 'k6',
    config: { ...config.options, k6: { ...scriptConfig, arms: undefined } },
    versions: { node: process.version, record_schema: String(RECORD_SCHEMA_VERSION) },
    interrupted: null,
  });
  writeRunManifest(runDir, loadRunManifest(config, base()));
  const ended = (status: RunStatus, why: { interrupted?: string; error?: string }) =>
    writeRunManifest(
      runDir,
      loadRunManifest(config, {
        ...base(),
        status,
        ended_at: new Date().toISOString(),
        interrupted: why.interrupted ?? null,
        error: why.error ?? null,
      }),
    );

  const bin = findK6();
  if (bin === null) {
    process.stderr.write(
      `${K6_INSTALL_HINT}\n  (${process.env.K6_BIN ? `K6_BIN=${process.env.K6_BIN} is not an executable file` : 'no k6 on PATH and K6_BIN is not set'})\n`,
    );
    ended('failed', { error: 'k6 not found' });
    return { exitCode: K6_MISSING_EXIT, interrupts: interrupts.count };
  }
  const bundle = await ensureK6Bundle();
  const fd = openSync(files.workloadFile, 'w');
  try {
    writeResolvedWorkload(config.workload, (line) => writeSync(fd, line));
  } finally {
    closeSync(fd);
  }
  const configFile = join(runDir, 'k6-config.json');
  writeFileSync(configFile, JSON.stringify(scriptConfig, null, 2) + '\n');
  // k6 appends to --console-output: start from an empty file so only this run's lines are in it.
  const consoleFile = join(runDir, 'k6-console.log');
  writeFileSync(consoleFile, '');
  const version = k6Version(bin);
  const args = k6RunArgs(bundle, consoleFile, !config.progress);
  if (interrupts.count > 0) {
    process.stderr.write(`shadowbench: ${interrupts.signal ?? 'SIGINT'} before k6 started; k6 not run\n`);
    ended('interrupted', { interrupted: `${interrupts.signal ?? 'SIGINT'} (before k6 started)` });
    return { exitCode: 130, interrupts: interrupts.count };
  }
  process.stderr.write(
    `shadowbench: run ${config.runId} → ${runDir} (k6 ${scriptConfig.mode}; ${config.arms.map((a) => a.arm).join(', ')}; ${scriptConfig.qps}/s × ${scriptConfig.total_requests})\n  ${bin} ${args.join(' ')}\n`,
  );

  let stderrTail = '';
  const code = await new Promise<number>((done, fail) => {
    const child = spawn(bin, args, {
      stdio: ['ignore', 'inherit', 'pipe'],
      // K6_AUTO_EXTENSION_RESOLUTION=false: k6 must never try to fetch an extension from the network
      // (xk6-sse is compiled into the binary the user points at).
      env: {
        ...process.env,
        K6_AUTO_EXTENSION_RESOLUTION: 'false',
        SB_CONFIG_FILE: configFile,
        SB_HEADERS: JSON.stringify(secretHeaders(config)),
      },
      // Its own process group: a terminal's Ctrl-C reaches k6 only as this process forwards it (K6Interrupts).
      detached: true,
    });
    interrupts.watch(child);
    child.stderr.on('data', (chunk: Buffer) => {
      process.stderr.write(chunk);
      stderrTail = (stderrTail + chunk.toString('utf8')).slice(-4000);
    });
    child.on('error', fail);
    child.on('close', (status, signal) => done(exitStatus(status, signal)));
  });
  const endedAt = new Date();
  const stopped = interrupts.count; // Ctrl-Cs while k6 ran; any later ones only count
  if (code !== 0 && code !== 99 && stopped === 0 && /k6\/x\/sse|unknown module|extension/i.test(stderrTail)) {
    process.stderr.write(`${K6_INSTALL_HINT}\n`);
  }

  const inFlight = new InFlightTracker();
  const converted = await convertK6Console([consoleFile], join(runDir, 'records.jsonl'), {
    summaryFiles: [files.summaryFile!],
    onRecord: (r) => inFlight.add(r.arm, r.sent_ns, r.end_ns),
  });
  const sizing = vuSizingWarning(scenarioVus(scriptConfig).preAllocatedVUs, inFlight.peak(), scriptConfig.qps);
  const dropped = droppedIterations(converted.summaries);
  const warnings = [
    ...k6Warnings(converted),
    ...(sizing === null ? [] : [sizing]),
    `k6 thresholds cover the absolute gates only; ${RULES_NOT_IN_K6.join(', ')} are decided by the analysis alone`,
  ];
  if (code !== 0) warnings.push(`k6 exited ${code} (${K6_EXIT[code] ?? 'see k6 output'})`);
  const signal = interrupts.signal ?? 'SIGINT';
  if (stopped === 1)
    warnings.push(`stopped by ${signal} (forwarded to k6): k6 aborted the test run; requests in flight at that moment may have no record`);
  if (stopped >= 2)
    warnings.push(
      `k6 killed by a second ${signal}: requests in flight have no record, and the k6 summary (dropped iterations, thresholds) is missing`,
    );
  const interrupted =
    stopped >= 2
      ? `${signal} (second: k6 killed)`
      : stopped === 1
        ? `${signal} (forwarded to k6)`
        : code === 105
          ? 'SIGINT (k6 external abort)'
          : null;
  const failure = interrupted === null && code !== 0 && code !== 99 ? `k6 exit ${code} (${K6_EXIT[code] ?? 'error'})` : null;
  const manifest: RunManifest & { dropped_iterations: number | null; k6: Record<string, unknown> } = {
    ...loadRunManifest(config, {
      ...base(),
      status: failure !== null ? 'failed' : interrupted !== null ? 'interrupted' : 'complete',
      started_at: new Date(converted.originUnixMs ?? startedAt.getTime()).toISOString(),
      ended_at: endedAt.toISOString(),
      versions: { k6: version, node: process.version, record_schema: String(RECORD_SCHEMA_VERSION) },
      interrupted,
      error: failure,
      warnings,
    }),
    dropped_iterations: dropped?.total ?? null,
    k6: {
      exit_code: code,
      exit_meaning: K6_EXIT[code] ?? null,
      records: converted.records,
      // Requests due per arm (started + dropped, summed over instances): planned − records = never recorded.
      planned: converted.planned,
      ignored_console_lines: converted.ignoredLines,
      instances: converted.metas,
      summaries: converted.summaries,
    },
  };
  writeRunManifest(runDir, manifest);
  process.stderr.write(
    `shadowbench: k6 exited ${code} (${K6_EXIT[code] ?? 'error'}); ${converted.records} records in ${join(runDir, 'records.jsonl')}${dropped ? `, ${dropped.total} dropped iterations` : ''}${stopped > 0 ? ` (stopped: ${manifest.interrupted})` : ''}\n`,
  );
  if (converted.records === 0) return { exitCode: stopped > 0 ? 130 : 2, interrupts: interrupts.count };
  if (stopped >= 2) return { exitCode: 130, interrupts: interrupts.count };
  return { exitCode: 0, interrupts: interrupts.count };
}
