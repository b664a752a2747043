// The resolved, validated configuration of one load run: what `npm run load` hands to an engine
// (the Node engine in engine/run-load.ts, or the k6 engine via cli/load-k6.ts `runK6Load(config)`).
// Holds secrets in memory (arm headers); `publicConfig` is the only view that may be written anywhere.
import { resolve } from 'node:path';
import { RECORD_SCHEMA_VERSION, type Arm } from '../core/record.ts';
import { asSource, createPlan, type PlanOptions, type PlanWorkload } from '../core/plan.ts';
import { RUN_MANIFEST_VERSION, SECRET_HEADER, redactUrl, type RunManifest, type RunStatus } from '../core/run.ts';

export interface ArmTarget {
  arm: Arm;
  /**
   * Base URL, e.g. http://127.0.0.1:8000; with or without /v1, a path prefix or a query string are
   * accepted: every engine builds request URLs from it by one policy (core/endpoint.ts).
   */
  url: string;
  /** Replaces the body's model when set. */
  model: string | null;
  /** Every header sent on this arm, Authorization included: SECRET, never written out. */
  headers: Record<string, string>;
  /** The built-in simulated endpoint's profile when the arm is one. */
  simulatedProfile: string | null;
}

export interface LoadConfig {
  engine: 'node' | 'k6';
  runId: string;
  /** The run folder: records.jsonl and run.json go here. */
  runDir: string;
  /** baseline, candidate, and baseline_repeat (to the baseline URL) when asked for. */
  arms: ArmTarget[];
  /** A source (items built on demand; io/workload-file.ts openWorkload) or a parsed workload. */
  workload: PlanWorkload;
  /** As given (relative to the working directory); run.json stores it resolved. */
  workloadPath: string;
  /** Everything core/plan.ts needs to compute request i (the same plan on every engine). */
  plan: PlanOptions;
  seed: number;
  stream: boolean;
  /** Per-request limit, from dispatch to the end of the response. */
  timeoutMs: number;
  /** Text kept per response (--max-output-bytes; core/stream-recorder.ts DEFAULT_MAX_OUTPUT_BYTES when absent). */
  maxOutputBytes?: number;
  /** After SIGINT: how long in-flight requests may finish before they are cancelled. */
  graceMs: number;
  /** Most request pairs in flight at once (a pair holds its slot until every arm has finished); 0 = no cap. */
  maxInflight: number;
  /** Sender threads; 0 = send from the main thread. */
  workers: number;
  /** How senders wake at the due instant (engine/clock.ts vs engine/pacer.ts). */
  pacer: 'clock' | 'spin';
  /** Connections opened per arm per sender before the first send; 'auto' (the default) estimates the run's concurrency; 0 = none. */
  preconnect?: number | 'auto';
  preflight: boolean;
  /** Live progress line on stderr. */
  progress: boolean;
  /** Every option as resolved (defaults included), for run.json; must already be free of secrets. */
  options: Record<string, unknown>;
  /** --force: the run may replace what runDir holds (io/run-folder.ts createRunFolder); never appends to it. */
  force?: boolean;
}

/** Requests planned per arm (warm-up included): every arm is sent the whole plan. */
export function plannedRequests(c: Pick<LoadConfig, 'arms' | 'workload' | 'plan'>): Record<string, number> {
  const total = createPlan(c.workload, c.plan).total;
  return Object.fromEntries(c.arms.map((a) => [a.arm, total]));
}

/** Header names only: values may be secrets. */
export function headerNames(headers: Record<string, string>): string[] {
  return Object.keys(headers).sort();
}

/** Parses `Name: value` (the --header syntax); the error names the flag. */
export function parseHeader(flag: string, text: string): [string, string] {
  const colon = text.indexOf(':');
  const name = colon > 0 ? text.slice(0, colon).trim() : '';
  if (!/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/.test(name)) {
    throw new Error(`${flag}: expected 'Name: value', got ${JSON.stringify(redactHeaderText(text))}`);
  }
  return [name.toLowerCase(), text.slice(colon + 1).trim()];
}

/** A header line for error messages: the value is dropped when the name looks secret or the value long. */
function redactHeaderText(text: string): string {
  const colon = text.indexOf(':');
  if (colon < 0) return text.length > 40 ? `${text.slice(0, 20)}…` : text;
  const name = text.slice(0, colon).trim();
  return SECRET_HEADER.test(name) ? `${name}: <redacted>` : text;
}

/** The arm list as run.json shows it: URLs without credentials, header names without values. */
export function publicArms(
  arms: readonly ArmTarget[],
): Array<{ arm: Arm; url: string; model: string | null; simulated_profile: string | null; header_names: string[] }> {
  return arms.map((a) => ({
    arm: a.arm,
    url: redactUrl(a.url),
    model: a.model,
    simulated_profile: a.simulatedProfile,
    header_names: headerNames(a.headers),
  }));
}

/**
 * run.json for a load run: the fields every engine derives from the config the same way (run id,
 * seed, public arms, workload summary, the workload's notes first among the warnings), plus the
 * engine's own. Keys in run.json's usual order.
 */
export function loadRunManifest(
  c: LoadConfig,
  run: Pick<RunManifest, 'engine' | 'started_at' | 'ended_at' | 'config' | 'versions' | 'interrupted' | 'mono_origin_ns'> & {
    warnings?: string[];
    status?: RunStatus;
    error?: string | null;
  },
): RunManifest {
  const source = asSource(c.workload);
  return {
    v: RUN_MANIFEST_VERSION,
    record_schema_version: RECORD_SCHEMA_VERSION,
    run_id: c.runId,
    status: run.status ?? 'running',
    planned: plannedRequests(c),
    started_at: run.started_at,
    ended_at: run.ended_at,
    engine: run.engine,
    seed: c.seed,
    arms: publicArms(c.arms),
    // Absolute, so the file is found wherever run.json is read from (assess run from another folder).
    workload: { path: resolve(c.workloadPath), format: source.format, items: source.length, models: [...source.models] },
    config: run.config,
    versions: run.versions,
    interrupted: run.interrupted,
    error: run.error ?? null,
    ...(run.mono_origin_ns !== undefined ? { mono_origin_ns: run.mono_origin_ns } : {}),
    warnings: [...source.report.notes, ...(run.warnings ?? [])],
  };
}

/** Sortable and unique enough: UTC timestamp plus a short random suffix, e.g. 20260124-101530-4f9c. */
export function newRunId(now: Date = new Date()): string {
  const stamp = now
    .toISOString()
    .replace(/\.\d+Z$/, '')
    .replace(/[-:]/g, '')
    .replace('T', '-');
  return `${stamp}-${Math.floor(Math.random() * 0x10000)
    .toString(16)
    .padStart(4, '0')}`;
}
