// run.json: what was run, with which seed and versions. Never holds secrets.
import type { Arm } from './record.ts';

export const RUN_MANIFEST_VERSION = 1;

export interface ArmEndpoint {
  arm: Arm;
  /** Base URL without credentials, e.g. http://127.0.0.1:8000 */
  url: string;
  model: string | null;
  /** Set when the arm is a built-in simulated endpoint: its profile name. */
  simulated_profile: string | null;
  /** Names of extra headers sent (values omitted: they may be secrets). */
  header_names: string[];
}

export interface RunManifest {
  v: typeof RUN_MANIFEST_VERSION;
  record_schema_version: number;
  run_id: string;
  /** ISO-8601 wall-clock time of run start (timestamps in records are relative to it). */
  started_at: string;
  ended_at: string | null;
  engine: 'node' | 'k6' | 'proxy';
  seed: number;
  arms: ArmEndpoint[];
  /** `models`: the distinct models the workload's items ask for (what an arm without its own --model is asked). */
  workload: { path: string; format: string; items: number; models?: string[] } | null;
  /** Every option as resolved (defaults included), secrets removed. */
  config: Record<string, unknown>;
  versions: Record<string, string>;
  /** Where the run is in its life (RUN_STATUSES); io/run-folder.ts writes it (`running` at creation). */
  status?: RunStatus;
  /** Requests planned per arm (warm-up included), so requests never sent are counted; null when open-ended (proxy). */
  planned?: Record<string, number> | null;
  /** Why the run stopped early, if it did (SIGINT, SIGTERM, an error). */
  interrupted: string | null;
  /** The error that ended the run when status is `failed`. */
  error?: string | null;
  /**
   * The run's origin on the machine's monotonic clock (process.hrtime.bigint(), decimal ns), so record
   * times (ns since the origin) can be compared with other processes' hrtime (e.g. a server's ground truth).
   * Absent when the engine has no such clock.
   */
  mono_origin_ns?: string | null;
  /** Things the engine noticed about its own accuracy (event-loop saturation, dropped iterations...). */
  warnings: string[];
}

/**
 * A run folder's life (run.json `status`): `running` from the moment the folder is created (a folder
 * left `running` was killed: kill -9, power loss), then exactly one of `complete` (the plan ran to its
 * end), `interrupted` (stopped early: a signal or a reason in `interrupted`) or `failed` (an error,
 * in `error`). The analysis treats anything but `complete` as INVESTIGATE.
 */
export const RUN_STATUSES = ['running', 'complete', 'interrupted', 'failed'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

export const RUN_ENGINES = ['node', 'k6', 'proxy'] as const;

/** run.json as read back (readRunManifest): validated; fields older or hand-made files may lack are optional. */
export type StoredRunManifest = Partial<Omit<RunManifest, 'v' | 'run_id' | 'arms' | 'warnings' | 'status' | 'planned'>> & {
  v: typeof RUN_MANIFEST_VERSION;
  run_id: string;
  arms: Array<Pick<ArmEndpoint, 'arm'> & Partial<ArmEndpoint>>;
  warnings: string[];
  status: RunStatus;
  /** False when the file predates `status` and it was derived (interrupted → interrupted, ended_at null → running). */
  status_given: boolean;
  planned: Record<string, number> | null;
  dropped_iterations?: number | null;
  /** Other keys an engine adds (counts, k6 facts...), unvalidated. */
  [extra: string]: unknown;
};

/** A run.json that is not what the writers write: the message names the field. */
export class RunManifestError extends Error {
  readonly field: string;
  constructor(field: string, message: string) {
    super(`${field}: ${message}`);
    this.name = 'RunManifestError';
    this.field = field;
  }
}

const describeValue = (value: unknown): string =>
  value === null
    ? 'null'
    : Array.isArray(value)
      ? 'an array'
      : typeof value === 'string'
        ? JSON.stringify(value.slice(0, 40))
        : typeof value === 'object'
          ? 'an object'
          : String(value);

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Checks a parsed run.json and returns it typed. Required: `v` (1), `run_id`, `arms` (each with an
 * `arm` name); every other known field, when present, must have its documented type. A file written
 * before `status` existed gets one derived from `interrupted` and `ended_at` (status_given false).
 */
export function validateRunManifest(value: unknown): StoredRunManifest {
  if (!isObject(value)) throw new RunManifestError('(top level)', `expected a JSON object, got ${describeValue(value)}`);
  const bad = (field: string, expected: string, got: unknown): never => {
    throw new RunManifestError(field, `expected ${expected}, got ${describeValue(got)}`);
  };
  const optional = (field: string, check: (v: unknown) => boolean, expected: string) => {
    if (field in value && !check(value[field])) bad(field, expected, value[field]);
  };
  const isString = (v: unknown) => typeof v === 'string';
  const stringOrNull = (v: unknown) => v === null || typeof v === 'string';
  if (value.v !== RUN_MANIFEST_VERSION) bad('v', `${RUN_MANIFEST_VERSION} (the run.json version)`, value.v);
  if (typeof value.run_id !== 'string' || value.run_id === '') bad('run_id', 'a non-empty string', value.run_id);
  if (!Array.isArray(value.arms)) bad('arms', 'an array of arms', value.arms);
  (value.arms as unknown[]).forEach((a, k) => {
    if (!isObject(a)) bad(`arms[${k}]`, 'an object', a);
    else if (typeof a.arm !== 'string' || a.arm === '') bad(`arms[${k}].arm`, 'an arm name', a.arm);
  });
  optional('status', (v) => (RUN_STATUSES as readonly unknown[]).includes(v), RUN_STATUSES.join(', '));
  optional('engine', (v) => (RUN_ENGINES as readonly unknown[]).includes(v), RUN_ENGINES.join(', '));
  optional('started_at', isString, 'an ISO-8601 time');
  optional('ended_at', stringOrNull, 'an ISO-8601 time or null');
  optional('interrupted', stringOrNull, 'a reason or null');
  optional('error', stringOrNull, 'an error message or null');
  optional('seed', (v) => typeof v === 'number' && Number.isFinite(v), 'a number');
  optional('record_schema_version', (v) => typeof v === 'number', 'a number');
  optional('mono_origin_ns', (v) => v === null || (typeof v === 'string' && /^\d+$/.test(v)), 'decimal nanoseconds or null');
  optional('config', isObject, 'an object');
  optional('versions', isObject, 'an object');
  optional('workload', (v) => v === null || isObject(v), 'an object or null');
  optional('dropped_iterations', (v) => v === null || (typeof v === 'number' && v >= 0), 'a count or null');
  optional('warnings', (v) => Array.isArray(v) && v.every(isString), 'an array of strings');
  optional(
    'planned',
    (v) => v === null || (isObject(v) && Object.values(v).every((n) => Number.isSafeInteger(n) && (n as number) >= 0)),
    'an object of arm → planned request count, or null',
  );
  const given = 'status' in value;
  const status: RunStatus = given
    ? (value.status as RunStatus)
    : typeof value.interrupted === 'string' && value.interrupted !== ''
      ? 'interrupted'
      : 'ended_at' in value && value.ended_at === null
        ? 'running'
        : 'complete';
  return {
    ...value,
    v: RUN_MANIFEST_VERSION,
    run_id: value.run_id as string,
    arms: value.arms as StoredRunManifest['arms'],
    warnings: (value.warnings as string[] | undefined) ?? [],
    status,
    status_given: given,
    planned: (value.planned as Record<string, number> | null | undefined) ?? null,
  };
}

/**
 * Why a run is not a complete one, for the verdict and `gate --against`: null when it is complete.
 * `running` means the process that owned the folder died without saying how (kill -9, power loss),
 * or the run is still going: either way its figures cover only part of the plan.
 */
export function runStatusProblem(manifest: Pick<StoredRunManifest, 'status' | 'interrupted' | 'error'>): string | null {
  switch (manifest.status) {
    case 'complete':
      return null;
    case 'interrupted':
      return `status "interrupted" (${manifest.interrupted ?? 'no reason given'})`;
    case 'failed':
      return `status "failed" (${manifest.error ?? 'no error given'})`;
    case 'running':
      return 'status "running": the run never recorded its end (killed, e.g. kill -9, or still going); analysed as interrupted';
  }
}

/** Planned requests per arm without a record: planned − recorded, per arm of `planned` (0 when all were recorded). */
export function notSent(planned: Record<string, number> | null, recorded: ReadonlyMap<string, number>): Record<string, number> | null {
  if (planned === null) return null;
  return Object.fromEntries(Object.entries(planned).map(([arm, n]) => [arm, Math.max(0, n - (recorded.get(arm) ?? 0))]));
}

// The redaction policy lives in core/redact.ts (one for every engine and the proxy).
export { SECRET_HEADER, redactUrl } from './redact.ts';
