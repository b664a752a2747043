// The request record: one per request per arm, written by every engine (Node, k6, proxy)
// and read by the analysis. Raw monotonic timestamps only; metrics are derived in analysis.
// Runtime-agnostic: no Node or k6 imports here.

/**
 * Bump when a field changes meaning or is removed; readers refuse versions they do not know.
 * Version 2 (output comparison for tool calls and reasoning): output_text is the answer only, with
 * reasoning_text, tool_calls, first_answer_ns, model and truncated beside it; the token timestamps
 * (first_content_ns, content_ns) count every token-bearing chunk: content, reasoning or tool-call
 * delta. Version-1 records still read: reasoning_text '' (v1 mixed it into output_text),
 * tool_calls [], first_answer_ns = first_content_ns, model null, truncated false.
 */
export const RECORD_SCHEMA_VERSION = 2;
/** Versions this build reads. */
export const READABLE_RECORD_VERSIONS = [1, 2] as const;

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

/**
 * One tool call of a response: streamed as `delta.tool_calls[i]` fragments joined per index, or
 * `message.tool_calls[i]` in a non-streamed answer. `arguments` is canonical JSON (keys sorted,
 * no whitespace) when the joined text parses as JSON, else the text as received (arguments_json false).
 */
export interface ToolCall {
  name: string;
  arguments: string;
  arguments_json: boolean;
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
  /** First chunk carrying a token of any kind: content, reasoning or a tool-call delta (TTFT). */
  first_content_ns: number | null;
  /** First chunk carrying answer content (not reasoning, not a tool call): time to first answer token. */
  first_answer_ns: number | null;
  /** Every token-bearing chunk (content, reasoning or tool-call delta), in arrival order (the first equals first_content_ns). */
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
  /** The answer: concatenated `content` as received (without reasoning; v1 records mixed reasoning in). */
  output_text: string;
  /** Concatenated reasoning (`delta.reasoning` or `delta.reasoning_content`) as received. */
  reasoning_text: string;
  /** Tool calls in index order; [] when none. */
  tool_calls: ToolCall[];
  /** The `model` the response named (first chunk that names one); null when it named none. */
  model: string | null;
  /** The texts were cut at the per-response byte cap (--max-output-bytes); timing still runs to the end of the stream. */
  truncated: boolean;
}

/**
 * How a record field is written, for readers that do not go through JSON.parse (io/record-fast-parse.ts
 * reads each kind with one reader; a kind it does not know sends the line to parseRecord).
 */
export type FieldKind =
  | 'version' // the schema version, an integer of READABLE_RECORD_VERSIONS
  | 'nonempty_string' // a string of at least one character
  | 'arm' // a string matching ARM_PATTERN
  | 'uint' // a non-negative integer
  | 'string' // any string
  | 'repeated_string' // a string that repeats across records (interned by readers)
  | 'bool'
  | 'ns_or_null' // non-negative integer nanoseconds or null
  | 'ns_array' // non-decreasing non-negative integers
  | 'counts_or_null' // non-negative integers or null (same length as content_ns)
  | 'status_or_null' // an HTTP status 100-599 or null
  | 'outcome'
  | 'usage'
  | 'repeated_string_or_null'
  | 'tool_calls';

/**
 * THE record field list, in the order engines write them (emptyRecord builds them in this order; the
 * fast parser's keys and readers come from it). The `satisfies` makes the compiler refuse a field of
 * RequestRecord missing here or a key here that RequestRecord lacks; test/record-fields.test.ts checks
 * emptyRecord, recordErrors and the fast parser against it.
 */
export const RECORD_FIELDS = {
  v: 'version',
  run_id: 'nonempty_string',
  arm: 'arm',
  index: 'uint',
  item_id: 'string',
  warmup: 'bool',
  source: 'repeated_string',
  instance: 'repeated_string',
  streaming: 'bool',
  token_timing: 'bool',
  scheduled_ns: 'uint',
  sent_ns: 'ns_or_null',
  headers_ns: 'ns_or_null',
  first_chunk_ns: 'ns_or_null',
  first_content_ns: 'ns_or_null',
  first_answer_ns: 'ns_or_null',
  content_ns: 'ns_array',
  content_tokens: 'counts_or_null',
  end_ns: 'ns_or_null',
  queue_wait_ns: 'uint',
  http_status: 'status_or_null',
  outcome: 'outcome',
  usage: 'usage',
  finish_reason: 'repeated_string_or_null',
  output_text: 'string',
  reasoning_text: 'string',
  tool_calls: 'tool_calls',
  model: 'repeated_string_or_null',
  truncated: 'bool',
} as const satisfies { readonly [K in keyof RequestRecord]-?: FieldKind };

export type RecordField = keyof typeof RECORD_FIELDS;

/** The fields version 1 did not have (upgradeRecord fills them). */
export const V2_ONLY_FIELDS = [
  'first_answer_ns',
  'reasoning_text',
  'tool_calls',
  'model',
  'truncated',
] as const satisfies readonly RecordField[];

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
  if (!(READABLE_RECORD_VERSIONS as readonly unknown[]).includes(r.v)) {
    return [`unknown record schema version ${JSON.stringify(r.v)} (this build reads versions ${READABLE_RECORD_VERSIONS.join(' and ')})`];
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
  if (r.v === 2) {
    need(isNsOrNull(r.first_answer_ns), 'first_answer_ns', 'non-negative integer nanoseconds or null');
    need(typeof r.reasoning_text === 'string', 'reasoning_text', 'a string');
    need(Array.isArray(r.tool_calls) && r.tool_calls.every(isToolCall), 'tool_calls', 'an array of {name, arguments, arguments_json}');
    need(r.model === null || typeof r.model === 'string', 'model', 'a string or null');
    need(typeof r.truncated === 'boolean', 'truncated', 'true or false');
  }
  return errors;
}

function isToolCall(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false;
  const c = value as Record<string, unknown>;
  return typeof c.name === 'string' && typeof c.arguments === 'string' && typeof c.arguments_json === 'boolean';
}

/** A valid version-1 record as version 2 (see RECORD_SCHEMA_VERSION); a version-2 record unchanged. */
export type RequestRecordV1 = Omit<RequestRecord, 'v' | (typeof V2_ONLY_FIELDS)[number]> & {
  v: 1;
};

export function upgradeRecord(record: RequestRecord | RequestRecordV1): RequestRecord {
  if (record.v === RECORD_SCHEMA_VERSION) return record;
  return {
    ...record,
    v: RECORD_SCHEMA_VERSION,
    first_answer_ns: record.first_content_ns,
    reasoning_text: '',
    tool_calls: [],
    model: null,
    truncated: false,
  };
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
  return upgradeRecord(value as RequestRecord);
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
    first_answer_ns: null,
    content_ns: [],
    content_tokens: null,
    end_ns: null,
    queue_wait_ns: 0,
    http_status: null,
    outcome: { kind: 'cancelled', message: 'request never completed' },
    usage: null,
    finish_reason: null,
    output_text: '',
    reasoning_text: '',
    tool_calls: [],
    model: null,
    truncated: false,
  };
}
