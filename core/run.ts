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
  workload: { path: string; format: string; items: number } | null;
  /** Every option as resolved (defaults included), secrets removed. */
  config: Record<string, unknown>;
  versions: Record<string, string>;
  /** Why the run stopped early, if it did (SIGINT, error). */
  interrupted: string | null;
  /**
   * The run's origin on the machine's monotonic clock (process.hrtime.bigint(), decimal ns), so record
   * times (ns since the origin) can be compared with other processes' hrtime (e.g. a server's ground truth).
   * Absent when the engine has no such clock.
   */
  mono_origin_ns?: string | null;
  /** Things the engine noticed about its own accuracy (event-loop saturation, dropped iterations...). */
  warnings: string[];
}

// The redaction policy lives in core/redact.ts (one for every engine and the proxy).
export { SECRET_HEADER, redactUrl } from './redact.ts';
