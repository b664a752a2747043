// The request record: one per request per arm, written by every engine (Node, k6, proxy)
// and read by the analysis. Raw monotonic timestamps only; metrics are derived in analysis.
// Runtime-agnostic: no Node or k6 imports here.

/** Bump when a field changes meaning or is removed; readers refuse versions they do not know. */
export const RECORD_SCHEMA_VERSION = 1;

/** `baseline` and `candidate` are the compared arms; extra arms (e.g. `baseline_repeat`, the A/A arm) are allowed. */
export type Arm = string;
export const BASELINE: Arm = 'baseline';
export const CANDIDATE: Arm = 'candidate';
/** The baseline sent the same request a second time, to measure the baseline's own output noise (A/A). */
export const BASELINE_REPEAT: Arm = 'baseline_repeat';

export const ARM_PATTERN = /^[a-z][a-z0-9_-]{0,31}$/;

export const OUTCOME_KINDS = ['ok', 'http_error', 'timeout', 'cancelled', 'connection_error', 'protocol_error'] as const;
export type OutcomeKind = (typeof OUTCOME_KINDS)[number];

/** Where a timeout struck: before headers, before the first content token, or mid-stream. */
export type TimeoutPhase = 'connect' | 'headers' | 'first_token' | 'stream';

export type Outcome =
  | { kind: 'ok' }
  | { kind: 'http_error'; status: number; message: string }
  | { kind: 'timeout'; phase: TimeoutPhase; message: string }
  | { kind: 'cancelled'; message: string }
  | { kind: 'connection_error'; code?: string; message: string }
  | { kind: 'protocol_error'; message: string };

export interface Usage {
  prompt_tokens: number | null;
  completion_tokens: number | null;
  /** `usage.prompt_tokens_details.cached_tokens` when the server reports it. */
  cached_prompt_tokens: number | null;
}

/** Which engine produced the record; the analysis treats them alike. */
export type RecordSource = 'node' | 'k6' | 'k6-buffered' | 'proxy' | 'fixture';

export interface RequestRecord {
  v: typeof RECORD_SCHEMA_VERSION;
  run_id: string;
  arm: Arm;
  /** Position in the plan; the same index on two arms is the same request sent at the same planned instant. */
  index: number;
  /** Workload item id (stable across runs of the same workload). */
  item_id: string;
  /** Sent but excluded from analysis. */
  warmup: boolean;
  source: RecordSource;
  /** Engine instance (worker thread, k6 instance) that sent it; '' when there is one. */
  instance: string;
  streaming: boolean;
  /** False when the engine could not observe token arrival (k6 buffered mode): TTFT / ITL are "not measured", never approximated. */
  token_timing: boolean;

  // Monotonic timestamps, integer nanoseconds since run start. null = never happened.
  scheduled_ns: number;
  /** Request handed to the socket. */
  sent_ns: number | null;
  /** Response status line and headers received (time to first byte). */
  headers_ns: number | null;
  /** First SSE event of any kind (role-only and empty chunks included). */
  first_chunk_ns: number | null;
  /** First chunk carrying non-empty content or reasoning. */
  first_content_ns: number | null;
  /** Every content-carrying chunk, in arrival order (the first equals first_content_ns). */
  content_ns: number[];
  /** Tokens each content chunk carried, parallel to content_ns; null when the server does not say (assume 1 each). */
  content_tokens: number[] | null;
  /** Response finished (stream closed, [DONE], error or timeout). */
  end_ns: number | null;
  /** Time spent waiting for a --max-inflight slot before sending (0 without a cap). */
  queue_wait_ns: number;

  http_status: number | null;
  outcome: Outcome;
  usage: Usage | null;
  finish_reason: string | null;
  /** Concatenated content (and reasoning, if any) as received. */
  output_text: string;
}

export interface RecordProblem {
  line: number;
  message: string;
}

const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v);
const isNsOrNull = (v: unknown): v is number | null => v === null || (isInt(v) && v >= 0);
const isCountOrNull = (v: unknown): v is number | null => v === null || (isInt(v) && v >= 0);

/**
 * Checks one parsed record and returns what is wrong with it (empty when valid).
 * Hand-written rather than schema-library driven: it runs once per record on million-record runs.
 */
export function recordErrors(value: unknown): string[] {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return ['record is not a JSON object'];
  const r = value as Record<string, unknown>;
  if (r.v !== RECORD_SCHEMA_VERSION) {
    return [`unknown record schema version ${JSON.stringify(r.v)} (this build reads version ${RECORD_SCHEMA_VERSION})`];
  }
  const errors: string[] = [];
  const need = (ok: boolean, field: string, what: string) => {
    if (!ok) errors.push(`${field}: expected ${what}, got ${JSON.stringify(r[field])?.slice(0, 60) ?? 'nothing'}`);
  };
  need(typeof r.run_id === 'string' && r.run_id.length > 0, 'run_id', 'a non-empty string');
  need(typeof r.arm === 'string' && ARM_PATTERN.test(r.arm), 'arm', 'an arm name like "baseline" or "candidate" ([a-z][a-z0-9_-]*)');
  need(isInt(r.index) && r.index >= 0, 'index', 'a non-negative integer');
  need(typeof r.item_id === 'string', 'item_id', 'a string');
  need(typeof r.warmup === 'boolean', 'warmup', 'true or false');
  need(typeof r.source === 'string', 'source', 'a string');
  need(typeof r.instance === 'string', 'instance', 'a string');
  need(typeof r.streaming === 'boolean', 'streaming', 'true or false');
  need(typeof r.token_timing === 'boolean', 'token_timing', 'true or false');
  need(isInt(r.scheduled_ns) && r.scheduled_ns >= 0, 'scheduled_ns', 'non-negative integer nanoseconds');
  for (const f of ['sent_ns', 'headers_ns', 'first_chunk_ns', 'first_content_ns', 'end_ns'] as const) {
    need(isNsOrNull(r[f]), f, 'non-negative integer nanoseconds or null');
  }
  need(isInt(r.queue_wait_ns) && r.queue_wait_ns >= 0, 'queue_wait_ns', 'non-negative integer nanoseconds');
  const content = r.content_ns;
  if (!Array.isArray(content) || !content.every((t) => isInt(t) && t >= 0)) {
    need(false, 'content_ns', 'an array of integer nanoseconds');
  } else {
    for (let i = 1; i < content.length; i++) {
      if ((content[i] as number) < (content[i - 1] as number)) {
        errors.push(`content_ns: timestamps go backwards at chunk ${i}`);
        break;
      }
    }
    if (r.content_tokens !== null) {
      const tokens = r.content_tokens;
      if (!Array.isArray(tokens) || !tokens.every((n) => isInt(n) && n >= 0)) {
        need(false, 'content_tokens', 'an array of token counts or null');
      } else if (tokens.length !== content.length) {
        errors.push(`content_tokens: has ${tokens.length} entries but content_ns has ${content.length}`);
      }
    }
  }
  need(
    r.http_status === null || (isInt(r.http_status) && r.http_status >= 100 && r.http_status <= 599),
    'http_status',
    'an HTTP status (100-599) or null',
  );
  const outcomeProblem = outcomeError(r.outcome);
  if (outcomeProblem) errors.push(`outcome: ${outcomeProblem}`);
  if (r.usage !== null) {
    const u = r.usage as Record<string, unknown> | undefined;
    if (typeof u !== 'object' || u === undefined || Array.isArray(u)) need(false, 'usage', 'an object or null');
    else if (!isCountOrNull(u.prompt_tokens) || !isCountOrNull(u.completion_tokens) || !isCountOrNull(u.cached_prompt_tokens)) {
      errors.push('usage: prompt_tokens, completion_tokens and cached_prompt_tokens must be token counts or null');
    }
  }
  need(r.finish_reason === null || typeof r.finish_reason === 'string', 'finish_reason', 'a string or null');
  need(typeof r.output_text === 'string', 'output_text', 'a string');
  return errors;
}

function outcomeError(value: unknown): string | null {
  if (typeof value !== 'object' || value === null) return 'expected an object with a "kind"';
  const o = value as Record<string, unknown>;
  if (!OUTCOME_KINDS.includes(o.kind as OutcomeKind)) {
    return `unknown kind ${JSON.stringify(o.kind)} (accepted: ${OUTCOME_KINDS.join(', ')})`;
  }
  if (o.kind === 'ok') return null;
  if (typeof o.message !== 'string') return `${String(o.kind)} needs a "message" string`;
  if (o.kind === 'http_error' && !isInt(o.status)) return 'http_error needs an integer "status"';
  if (o.kind === 'timeout' && !['connect', 'headers', 'first_token', 'stream'].includes(o.phase as string)) {
    return 'timeout needs a "phase" of connect, headers, first_token or stream';
  }
  return null;
}

/** Validates and returns the record, or throws with every problem found. */
export function parseRecord(line: string): RequestRecord {
  const value: unknown = JSON.parse(line);
  const errors = recordErrors(value);
  if (errors.length > 0) throw new Error(errors.join('; '));
  return value as RequestRecord;
}

/** One JSONL line (no trailing newline). Field order is fixed by the object literal the engine builds. */
export function serializeRecord(record: RequestRecord): string {
  return JSON.stringify(record);
}

export function isFailure(record: RequestRecord): boolean {
  return record.outcome.kind !== 'ok';
}

/** A record with every field at its "nothing happened yet" value; engines fill it in as the request progresses. */
export function emptyRecord(init: {
  run_id: string;
  arm: Arm;
  index: number;
  item_id: string;
  warmup: boolean;
  source: RecordSource;
  instance?: string;
  streaming: boolean;
  scheduled_ns: number;
}): RequestRecord {
  return {
    v: RECORD_SCHEMA_VERSION,
    run_id: init.run_id,
    arm: init.arm,
    index: init.index,
    item_id: init.item_id,
    warmup: init.warmup,
    source: init.source,
    instance: init.instance ?? '',
    streaming: init.streaming,
    token_timing: init.streaming,
    scheduled_ns: init.scheduled_ns,
    sent_ns: null,
    headers_ns: null,
    first_chunk_ns: null,
    first_content_ns: null,
    content_ns: [],
    content_tokens: null,
    end_ns: null,
    queue_wait_ns: 0,
    http_status: null,
    outcome: { kind: 'cancelled', message: 'request never completed' },
    usage: null,
    finish_reason: null,
    output_text: '',
  };
}
