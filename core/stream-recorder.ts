// One response → the fields of its RequestRecord, the same for every engine (Node client, k6 script,
// shadow proxy) so their records analyse alike. Fed with what arrived and when; knows nothing of
// sockets or SSE framing (each engine parses bytes its own way and hands over event data strings).
// Runtime-agnostic: no Node or k6 imports here.
//
// Per SSE event (data, arrival ns):
//   every event      first_chunk_ns (role-only, empty and usage-only chunks included)
//   token chunk      non-empty content, reasoning, or a tool-call delta carrying a name or an arguments
//                    fragment (core/openai.ts interpretChunk): first_content_ns (TTFT), content_ns, the
//                    chunk's cumulative usage.completion_tokens; content also sets first_answer_ns
//   any chunk        usage and finish_reason, the last seen kept; model, the first named kept
//   texts            answer (output_text) and reasoning (reasoning_text) kept apart; tool-call fragments
//                    kept per index and joined once at finish() (no JSON parsing while streaming), then
//                    canonical JSON (core/canonical-json.ts) or the text as received (arguments_json false).
//                    At most maxOutputBytes (UTF-8) of text in all per response: past it the texts are cut
//                    and record.truncated is set, while timing goes on to the end of the stream.
//   [DONE]           the stream is complete: ok, end = the [DONE] event
//   bad event        not JSON, not OpenAI-shaped, or an error object in the stream: protocol_error
// Outcome when the body ends without [DONE]: protocol_error, "not an SSE stream" when no event came,
// else "stream ended without [DONE] after N events".
//
// A bad event either stops the stream (`onBadEvent: 'stop'`: a client that owns the exchange aborts it,
// end = the bad event) or is noted while recording goes on (`'observe'`: a passthrough must not cut the
// client's stream; the first problem before [DONE] decides the outcome, end = the body's end).
import { canonicalJson } from './canonical-json.ts';
import { DONE, interpretChunk, interpretResponse, type Api } from './openai.ts';
import { oneLine } from './outcome-message.ts';
import type { Outcome, RequestRecord, ToolCall } from './record.ts';

/** What one event meant: more to come, the stream is complete, or the stream is bad. */
export type StreamStep = 'more' | 'done' | 'bad';

/** A decided outcome and the end time that goes with it (ns since the run's origin). */
export interface StreamEnd {
  outcome: Outcome;
  endNs: number;
}

export interface StreamRecorderOptions {
  onBadEvent: 'stop' | 'observe';
  /** Where answer text goes (e.g. a hash); by default it becomes record.output_text at finish(). */
  onText?: (text: string) => void;
  /** Where reasoning text goes; by default it becomes record.reasoning_text at finish(). */
  onReasoning?: (text: string) => void;
  /** Text kept per response, UTF-8 bytes over answer, reasoning and tool calls together (default DEFAULT_MAX_OUTPUT_BYTES). */
  maxOutputBytes?: number;
}

/** --max-output-bytes default: 1 MiB of text per response. */
export const DEFAULT_MAX_OUTPUT_BYTES = 1 << 20;

/**
 * The longest SSE line (characters) an engine buffers for a response whose texts are capped at
 * `maxOutputBytes`: room for a chunk carrying all of it JSON-escaped (up to 6 characters per
 * character, \uXXXX) plus the chunk's envelope. A longer line cannot be recorded whole: the
 * engines stop parsing there (protocol_error, see sseLineTooLong), so one line without a newline
 * never holds more than this.
 */
export function maxSseLine(maxOutputBytes: number): number {
  return 6 * maxOutputBytes + 65_536;
}

/** The protocol_error message for an SSE line longer than maxSseLine. */
export function sseLineTooLong(limit: number): string {
  return `an SSE line is longer than ${limit} characters (6 × --max-output-bytes + 64 KiB) without a newline: not parsed further`;
}

/**
 * Watches the text fed to an SSE parser for a line longer than maxSseLine (a server that never sends
 * a newline would otherwise make the parser buffer all of it). `feed` is false from the text that
 * made a line too long on: the caller stops parsing (and drops its parser with what it buffered).
 */
export class SseLineGuard {
  readonly limit: number;
  #line = 0;
  constructor(maxOutputBytes: number) {
    this.limit = maxSseLine(maxOutputBytes);
  }
  feed(text: string): boolean {
    let start = 0;
    for (;;) {
      const nl = text.indexOf('\n', start);
      const stop = nl < 0 ? text.length : nl;
      let line = this.#line + stop - start;
      if (line > this.limit) {
        const cr = text.lastIndexOf('\r', stop - 1); // CR alone also ends an SSE line
        if (cr >= start) line = stop - cr - 1;
        if (line > this.limit) return false;
      }
      if (nl < 0) {
        this.#line = line;
        return true;
      }
      this.#line = 0;
      start = nl + 1;
    }
  }
}

/** UTF-8 length of a string (lone surrogates count 3, as TextEncoder writes U+FFFD). */
export function utf8Length(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) n += 1;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      n += 2; // a pair: 2 code units, 4 bytes
      i++;
    } else n += 2;
  }
  return n;
}

/** The longest prefix of `s` of at most `bytes` UTF-8 bytes, never splitting a surrogate pair. */
export function utf8Prefix(s: string, bytes: number): string {
  let used = 0;
  let i = 0;
  while (i < s.length) {
    const c = s.charCodeAt(i);
    const pair = c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00;
    const size = c < 0x80 ? 1 : c < 0x800 ? 2 : pair ? 4 : 3;
    if (used + size > bytes) break;
    used += size;
    i += pair ? 2 : 1;
  }
  return s.slice(0, i);
}

/** Keeps text up to a byte budget; past it, pieces are cut and `truncated` is set. */
class TextBudget {
  #left: number;
  truncated = false;
  constructor(bytes: number) {
    this.#left = bytes;
  }
  /** The part of `text` kept ('' once the budget is spent). `size`: its UTF-8 length when the caller knows it. */
  take(text: string, size = utf8Length(text)): string {
    if (this.truncated) return '';
    if (size <= this.#left) {
      this.#left -= size;
      return text;
    }
    const kept = utf8Prefix(text, this.#left);
    this.#left = 0;
    this.truncated = true;
    return kept;
  }
}

/**
 * Tool-call fragments of one response, per server index (OpenAI and vLLM stream `delta.tool_calls[i]`:
 * the first fragment of a call with id, type and name, later ones `{index, function: {arguments}}`;
 * some servers repeat the id, send no index (-1 or absent) or interleave calls: all accepted).
 * Fragments are kept as received and joined once in calls(); ids and types are not recorded.
 */
class ToolCallParts {
  readonly #names: string[] = [];
  readonly #args: string[][] = [];
  readonly #serverIndex: number[] = [];
  #last = -1;

  /** Adds a chunk's `delta.tool_calls`; true when some element carried a name or an arguments fragment (a token). */
  add(deltas: readonly unknown[], budget: TextBudget): boolean {
    let token = false;
    for (const d of deltas) {
      if (typeof d !== 'object' || d === null) continue;
      const call = d as Record<string, unknown>;
      const f = call.function;
      const fn = typeof f === 'object' && f !== null ? (f as Record<string, unknown>) : null;
      const name = typeof fn?.name === 'string' ? fn.name : '';
      const args = typeof fn?.arguments === 'string' ? fn.arguments : '';
      if (name === '' && args === '') continue;
      token = true;
      const index = typeof call.index === 'number' && Number.isInteger(call.index) && call.index >= 0 ? call.index : -1;
      let slot = index < 0 ? (name === '' ? this.#last : -1) : this.#serverIndex.indexOf(index);
      if (slot < 0) {
        slot = this.#names.length;
        this.#names.push('');
        this.#args.push([]);
        this.#serverIndex.push(index < 0 ? Number.MAX_SAFE_INTEGER - 1000 + slot : index);
      }
      this.#last = slot;
      if (name !== '') {
        const current = this.#names[slot] as string;
        if (current !== name) this.#names[slot] = current + budget.take(name); // a name streamed in pieces is joined
      }
      if (args !== '') {
        const kept = budget.take(args);
        if (kept !== '') (this.#args[slot] as string[]).push(kept);
      }
    }
    return token;
  }

  /** The calls in server index order, arguments canonical when they parse as JSON. */
  calls(mapArguments?: (canonical: string, json: boolean) => string): ToolCall[] {
    const order = this.#names.map((_, slot) => slot).sort((a, b) => (this.#serverIndex[a] as number) - (this.#serverIndex[b] as number));
    return order.map((slot) => toolCall(this.#names[slot] as string, (this.#args[slot] as string[]).join(''), mapArguments));
  }

  get size(): number {
    return this.#names.length;
  }
}

/** A tool call with canonical arguments (the text as received when it is not JSON; '' stays text). */
function toolCall(name: string, joined: string, mapArguments?: (canonical: string, json: boolean) => string): ToolCall {
  const canonical = joined === '' ? null : canonicalJson(joined);
  const json = canonical !== null;
  const text = canonical ?? joined;
  return { name, arguments: mapArguments ? mapArguments(text, json) : text, arguments_json: mapArguments ? false : json };
}

/** What the caller knows about a response, for messages: all optional, each said when given. */
export interface ResponseContext {
  contentType?: string;
  /** What the SSE framing parser complained about, if anything. */
  framingError?: string | null;
  /** The start of the body as received, quoted in "not SSE / not JSON" messages; omit to keep the body out of records. */
  bodySample?: string;
}

/**
 * How to read a response body, from its status line and headers: a non-2xx error body, a whole JSON
 * body (non-streaming request), an SSE stream, or a body that cannot be the stream asked for
 * (JSON / HTML / XML content type: read whole, then a protocol_error).
 */
export type BodyKind = 'error-body' | 'json' | 'sse' | 'not-sse';

export function bodyKind(status: number, streaming: boolean, contentType: string): BodyKind {
  if (status < 200 || status > 299) return 'error-body';
  if (!streaming) return 'json';
  return /json|html|xml/i.test(contentType) ? 'not-sse' : 'sse';
}

const SAMPLE_CHARS = 120;
const sample = (context: ResponseContext) =>
  context.bodySample === undefined ? '' : `: ${JSON.stringify(oneLine(context.bodySample).slice(0, SAMPLE_CHARS))}`;
const contentTypeOf = (context: ResponseContext) =>
  context.contentType === undefined ? [] : [`content-type ${JSON.stringify(context.contentType)}`];

export class StreamRecorder {
  readonly record: RequestRecord;
  readonly #api: Api;
  readonly #stopAtBadEvent: boolean;
  readonly #onText: (text: string) => void;
  readonly #onReasoning: (text: string) => void;
  readonly #budget: TextBudget;
  #tools: ToolCallParts | null = null;
  #events = 0;
  #doneNs: number | null = null;
  /** The first problem found, and when (ns). */
  #problem: string | null = null;
  #problemNs = 0;
  // Per content chunk, kept compact until finish(): a stream holds these for its whole life, so they
  // are what a load engine's young-generation collections copy. Against a growing JS array and a cons
  // string per appended piece, the sender's scavenges at 300 QPS copied ~25 % less (--trace-gc-nvp).
  #chunks = 0;
  /** Arrival times (ns) of the content chunks. */
  #contentNs = new Float64Array(INITIAL_CHUNKS);
  /** usage.completion_tokens on each content chunk (vLLM continuous usage stats), NaN where absent. */
  #cumulativeTokens = new Float64Array(INITIAL_CHUNKS);
  /** The text pieces, when no onText was given (joined into record.output_text by finish()). */
  readonly #texts: string[] | null;
  /** The reasoning pieces, when no onReasoning was given (joined into record.reasoning_text by finish()). */
  readonly #reasoning: string[] | null;

  constructor(record: RequestRecord, api: Api, options: StreamRecorderOptions) {
    this.record = record;
    this.#api = api;
    this.#stopAtBadEvent = options.onBadEvent === 'stop';
    this.#budget = new TextBudget(options.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES);
    const texts: string[] | null = options.onText === undefined ? [] : null;
    this.#texts = texts;
    this.#onText = options.onText ?? ((text) => texts!.push(text));
    const reasoning: string[] | null = options.onReasoning === undefined ? [] : null;
    this.#reasoning = reasoning;
    this.#onReasoning = options.onReasoning ?? ((text) => reasoning!.push(text));
  }

  /** Token-bearing chunks (content, reasoning, tool-call deltas) received so far. */
  get contentChunks(): number {
    return this.#chunks;
  }

  /** Events received so far (until the stream was complete, or stopped at a bad event). */
  get events(): number {
    return this.#events;
  }

  /**
   * One SSE event's data, arrived at `ns`. Returns what this event meant; once the stream is complete
   * (or stopped at a bad event) further events are ignored and the same step is returned again.
   */
  event(data: string, ns: number): StreamStep {
    if (this.#doneNs !== null) return 'done';
    if (this.#stopAtBadEvent && this.#problem !== null) return 'bad';
    const r = this.record;
    this.#events++;
    r.first_chunk_ns ??= ns;
    if (data.trim() === DONE) {
      this.#doneNs = ns;
      return 'done';
    }
    let payload: unknown;
    try {
      payload = JSON.parse(data);
    } catch {
      return this.problem(`SSE event ${this.#events} is not JSON: ${JSON.stringify(data.slice(0, SAMPLE_CHARS))}`, ns);
    }
    const chunk = interpretChunk(this.#api, payload);
    if (!chunk.ok) return this.problem(`SSE event ${this.#events}: ${chunk.error}`, ns);
    const { content, reasoning, toolCalls, model, finishReason, usage } = chunk.value;
    let token = false;
    if (reasoning !== '') {
      token = true;
      const kept = this.#budget.take(reasoning);
      if (kept !== '') this.#onReasoning(kept);
    }
    if (toolCalls !== null && (this.#tools ??= new ToolCallParts()).add(toolCalls, this.#budget)) token = true;
    if (content !== '') {
      token = true;
      r.first_answer_ns ??= ns;
      const kept = this.#budget.take(content);
      if (kept !== '') this.#onText(kept);
    }
    if (token) {
      r.first_content_ns ??= ns;
      this.#addChunk(ns, usage?.completion_tokens ?? NaN);
    }
    if (model !== null) r.model ??= model;
    if (usage !== null) r.usage = usage;
    if (finishReason !== null) r.finish_reason = finishReason;
    return 'more';
  }

  /**
   * event() with a shortcut for the common chunk, the same record either way (for per-event-costly
   * runtimes: the k6 script, where JSON.parse is most of an event's cost). The first plain content
   * chunk (text only: no finish_reason, no usage) teaches the stream its template, the chunk's text
   * before and after its text slot, checked by parsing two probes through the full path. A later
   * event that is that template with another non-empty string in the slot, holding no character a
   * JSON string must escape, parses to exactly that string as the chunk's text and nothing else, so
   * it is recorded as a content chunk without JSON.parse. Everything else (role, finish and usage
   * chunks, escapes, errors, [DONE]) takes event().
   */
  eventTemplated(data: string, ns: number): StreamStep {
    const t = this.#template;
    // Each string method call costs about a microsecond in k6's JavaScript runtime (Sobek), so the
    // fast path makes few: the lengths are the template's, one regex tells plain ASCII text (its UTF-8
    // length is its length) from text that needs a closer look. The first_* times were set by the
    // chunk the template was learned from.
    if (
      t !== null &&
      this.#doneNs === null &&
      this.#problem === null &&
      data.length > t.minLength &&
      data.startsWith(t.prefix) &&
      data.endsWith(t.suffix)
    ) {
      const text = data.slice(t.prefix.length, data.length - t.suffix.length);
      const ascii = PLAIN_ASCII.test(text);
      if (ascii || !NEEDS_ESCAPE.test(text)) {
        this.#events++;
        this.#addChunk(ns, NaN);
        const kept = ascii ? this.#budget.take(text, text.length) : this.#budget.take(text);
        if (kept !== '') this.#onText(kept);
        return 'more';
      }
    }
    const before = this.#chunks;
    const step = this.event(data, ns);
    if (t === null && step === 'more' && this.#chunks > before && this.#learnTries < MAX_LEARN_TRIES) this.#learn(data);
    return step;
  }

  #template: { prefix: string; suffix: string; minLength: number } | null = null;
  #learnTries = 0;

  /** Learns the template from a content chunk if it carried text only, verified by parsing two probes. */
  #learn(data: string): void {
    this.#learnTries++;
    const plain = (payload: string, text: string | null): string | null => {
      let parsed: unknown;
      try {
        parsed = JSON.parse(payload);
      } catch {
        return null;
      }
      const c = interpretChunk(this.#api, parsed);
      const v = c.ok ? c.value : null;
      // Answer text only: a reasoning or tool-call chunk, a finish or usage chunk, or one naming another model never teaches the template.
      if (v === null || v.finishReason !== null || v.usage !== null || v.content === '' || v.reasoning !== '' || v.toolCalls !== null)
        return null;
      if (v.model !== null && v.model !== this.record.model) return null;
      return text === null || v.content === text ? v.content : null;
    };
    const text = plain(data, null);
    if (text === null || NEEDS_ESCAPE.test(text)) return;
    const slot = `"${text}"`;
    const at = data.indexOf(slot);
    if (at < 0 || data.indexOf(slot, at + 1) >= 0) return; // the slot must be unambiguous
    const prefix = data.slice(0, at + 1);
    const suffix = data.slice(at + 1 + text.length);
    for (const probe of ['x', 'y z']) if (plain(prefix + probe + suffix, probe) === null) return;
    this.#template = { prefix, suffix, minLength: prefix.length + suffix.length };
  }

  /**
   * A problem found at `ns` outside the event data (e.g. bad SSE framing): the first one counts, as a
   * bad event would. After [DONE] it is ignored, like any event there: the answer was complete, and a
   * client that stops reading at [DONE] (the Node engine, the OpenAI SDKs) never sees it.
   */
  problem(message: string, ns: number): StreamStep {
    if (this.#doneNs !== null) return 'done';
    if (this.#problem === null) {
      this.#problem = message;
      this.#problemNs = ns;
    }
    return 'bad';
  }

  /** The outcome the events have already decided: ok at [DONE], or (stop mode) the bad event; null while open. */
  settled(): StreamEnd | null {
    if (this.#problem !== null)
      return this.#stopAtBadEvent ? { outcome: { kind: 'protocol_error', message: this.#problem }, endNs: this.#problemNs } : null;
    if (this.#doneNs !== null) return { outcome: { kind: 'ok' }, endNs: this.#doneNs };
    return null;
  }

  /** The outcome once the response body ended normally at `ns`. */
  endOfStream(ns: number, context: ResponseContext = {}): StreamEnd {
    const settled = this.settled();
    if (settled !== null) return settled;
    if (this.#problem !== null) return { outcome: { kind: 'protocol_error', message: this.#problem }, endNs: ns };
    const framing = context.framingError ?? null;
    if (this.#events === 0) {
      const details = [...contentTypeOf(context), ...(framing === null ? [] : [framing])];
      const why = `response is not an SSE stream${details.length > 0 ? ` (${details.join('; ')})` : ''}${sample(context)}`;
      return { outcome: { kind: 'protocol_error', message: why }, endNs: ns };
    }
    return {
      outcome: {
        kind: 'protocol_error',
        message: `stream ended without [DONE] after ${this.#events} events${framing === null ? '' : ` (${framing})`}`,
      },
      endNs: ns,
    };
  }

  #addChunk(ns: number, cumulativeTokens: number): void {
    if (this.#chunks === this.#contentNs.length) {
      this.#contentNs = doubled(this.#contentNs);
      this.#cumulativeTokens = doubled(this.#cumulativeTokens);
    }
    this.#contentNs[this.#chunks] = ns;
    this.#cumulativeTokens[this.#chunks] = cumulativeTokens;
    this.#chunks++;
  }

  /**
   * Writes what the chunks said so far into the record: content_ns, content_tokens, tool_calls,
   * truncated and (without onText / onReasoning) output_text / reasoning_text. Call when the response
   * has ended (again after more events, if any are still fed). `mapToolArguments` replaces each call's
   * arguments (the proxy's hash mode); arguments_json is then false.
   */
  finish(mapToolArguments?: (canonical: string, json: boolean) => string): void {
    const r = this.record;
    const n = this.#chunks;
    const times = this.#contentNs;
    const contentNs = new Array<number>(n);
    for (let k = 0; k < n; k++) contentNs[k] = times[k]!; // a loop: Array.from iterates, ~1 µs an element in k6's runtime
    r.content_ns = contentNs;
    r.content_tokens = contentTokens(this.#cumulativeTokens.subarray(0, n));
    if (this.#texts !== null && this.#texts.length > 0) r.output_text = this.#texts.join('');
    if (this.#reasoning !== null && this.#reasoning.length > 0) r.reasoning_text = this.#reasoning.join('');
    if (this.#tools !== null && this.#tools.size > 0) r.tool_calls = this.#tools.calls(mapToolArguments);
    if (this.#budget.truncated) r.truncated = true;
  }
}

/** Characters a JSON string can only carry escaped: a text slot holding none of them is taken verbatim. */
const NEEDS_ESCAPE = /["\\\u0000-\u001f]/;
/** Printable ASCII without '"' and '\\': text that needs no escape and whose UTF-8 length is its length. */
const PLAIN_ASCII = /^[ !#-[\]-~]*$/;
/** Content chunks eventTemplated() tries to learn a template from before it stops trying. */
const MAX_LEARN_TRIES = 4;

/** Content chunks a stream's buffers hold before they first grow (doubling). */
const INITIAL_CHUNKS = 64;

function doubled(from: Float64Array<ArrayBuffer>): Float64Array<ArrayBuffer> {
  const to = new Float64Array(from.length * 2);
  to.set(from);
  return to;
}

/** Per-chunk counts from cumulative completion_tokens (NaN where a chunk did not say): c[k] − c[k−1]; null when none, or any is missing or decreases. */
export function contentTokens(cumulative: ArrayLike<number>): number[] | null {
  if (cumulative.length === 0) return null;
  const out: number[] = [];
  let previous = 0;
  for (let k = 0; k < cumulative.length; k++) {
    const c = cumulative[k] as number;
    if (!(c >= previous)) return null; // NaN (not said) or going back
    out.push(c - previous);
    previous = c;
  }
  return out;
}

/**
 * A whole 2xx body (non-streaming, or a stream request answered with one JSON body) → text, usage,
 * finish_reason and outcome: ok for an OpenAI-shaped response to a non-streaming request, else protocol_error.
 * `askedForStream`: the request wanted a stream, so even a good JSON body is the wrong answer.
 */
export function recordWholeResponse(
  record: RequestRecord,
  api: Api,
  body: string,
  askedForStream: boolean,
  context: ResponseContext = {},
  onText?: (text: string) => void,
  options: {
    maxOutputBytes?: number;
    onReasoning?: (text: string) => void;
    mapToolArguments?: (canonical: string, json: boolean) => string;
  } = {},
): Outcome {
  let payload: unknown;
  try {
    payload = JSON.parse(body);
  } catch {
    const details = contentTypeOf(context);
    return {
      kind: 'protocol_error',
      message: `response body is not JSON${details.length > 0 ? ` (${details.join('; ')})` : ''}${sample(context)}`,
    };
  }
  const whole = interpretResponse(api, payload);
  if (!whole.ok) return { kind: 'protocol_error', message: whole.error };
  if (askedForStream)
    return {
      kind: 'protocol_error',
      message: `asked for a stream but the server answered with one JSON body (content-type ${JSON.stringify(context.contentType ?? '')})`,
    };
  const v = whole.value;
  const budget = new TextBudget(options.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES);
  const reasoning = budget.take(v.reasoning);
  if (options.onReasoning === undefined) record.reasoning_text = reasoning;
  else options.onReasoning(reasoning);
  record.tool_calls = v.toolCalls.map((c) => toolCall(budget.take(c.name), budget.take(c.arguments), options.mapToolArguments));
  const text = budget.take(v.content);
  if (onText === undefined) record.output_text = text;
  else onText(text);
  record.truncated = budget.truncated;
  record.model = v.model;
  record.finish_reason = v.finishReason;
  record.usage = v.usage;
  return { kind: 'ok' };
}
