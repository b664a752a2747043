// One response → the fields of its RequestRecord, the same for every engine (Node client, k6 script,
// shadow proxy) so their records analyse alike. Fed with what arrived and when; knows nothing of
// sockets or SSE framing (each engine parses bytes its own way and hands over event data strings).
// Runtime-agnostic: no Node or k6 imports here.
//
// Per SSE event (data, arrival ns):
//   every event      first_chunk_ns (role-only, empty and usage-only chunks included)
//   content chunk    non-empty content or reasoning text (core/openai.ts interpretChunk): first_content_ns,
//                    content_ns, the text, and the chunk's cumulative usage.completion_tokens
//   any chunk        usage and finish_reason, the last seen kept
//   [DONE]           the stream is complete: ok, end = the [DONE] event
//   bad event        not JSON, not OpenAI-shaped, or an error object in the stream: protocol_error
// Outcome when the body ends without [DONE]: protocol_error, "not an SSE stream" when no event came,
// else "stream ended without [DONE] after N events".
//
// A bad event either stops the stream (`onBadEvent: 'stop'`: a client that owns the exchange aborts it,
// end = the bad event) or is noted while recording goes on (`'observe'`: a passthrough must not cut the
// client's stream; the first problem before [DONE] decides the outcome, end = the body's end).
import { DONE, interpretChunk, interpretResponse, type Api } from './openai.ts';
import { oneLine } from './outcome-message.ts';
import type { Outcome, RequestRecord } from './record.ts';

/** What one event meant: more to come, the stream is complete, or the stream is bad. */
export type StreamStep = 'more' | 'done' | 'bad';

/** A decided outcome and the end time that goes with it (ns since the run's origin). */
export interface StreamEnd {
  outcome: Outcome;
  endNs: number;
}

export interface StreamRecorderOptions {
  onBadEvent: 'stop' | 'observe';
  /** Where content text goes (e.g. a hash); by default it becomes record.output_text at finish(). */
  onText?: (text: string) => void;
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

  constructor(record: RequestRecord, api: Api, options: StreamRecorderOptions) {
    this.record = record;
    this.#api = api;
    this.#stopAtBadEvent = options.onBadEvent === 'stop';
    const texts: string[] | null = options.onText === undefined ? [] : null;
    this.#texts = texts;
    this.#onText = options.onText ?? ((text) => texts!.push(text));
  }

  /** Content chunks received so far. */
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
    const { text, finishReason, usage } = chunk.value;
    if (text !== '') {
      r.first_content_ns ??= ns;
      this.#addChunk(ns, usage?.completion_tokens ?? NaN);
      this.#onText(text);
    }
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
    if (
      t !== null &&
      this.#doneNs === null &&
      this.#problem === null &&
      data.length > t.prefix.length + t.suffix.length &&
      data.startsWith(t.prefix) &&
      data.endsWith(t.suffix)
    ) {
      const text = data.slice(t.prefix.length, data.length - t.suffix.length);
      if (!NEEDS_ESCAPE.test(text)) {
        const r = this.record;
        this.#events++;
        r.first_chunk_ns ??= ns;
        r.first_content_ns ??= ns;
        this.#addChunk(ns, NaN);
        this.#onText(text);
        return 'more';
      }
    }
    const before = this.#chunks;
    const step = this.event(data, ns);
    if (t === null && step === 'more' && this.#chunks > before && this.#learnTries < MAX_LEARN_TRIES) this.#learn(data);
    return step;
  }

  #template: { prefix: string; suffix: string } | null = null;
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
      if (!c.ok || c.value.finishReason !== null || c.value.usage !== null || c.value.text === '') return null;
      return text === null || c.value.text === text ? c.value.text : null;
    };
    const text = plain(data, null);
    if (text === null || NEEDS_ESCAPE.test(text)) return;
    const slot = `"${text}"`;
    const at = data.indexOf(slot);
    if (at < 0 || data.indexOf(slot, at + 1) >= 0) return; // the slot must be unambiguous
    const prefix = data.slice(0, at + 1);
    const suffix = data.slice(at + 1 + text.length);
    for (const probe of ['x', 'y z']) if (plain(prefix + probe + suffix, probe) === null) return;
    this.#template = { prefix, suffix };
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
   * Writes what the chunks said so far into the record: content_ns, content_tokens and (without onText)
   * output_text. Call when the response has ended (again after more events, if any are still fed).
   */
  finish(): void {
    const r = this.record;
    const n = this.#chunks;
    r.content_ns = Array.from(this.#contentNs.subarray(0, n));
    r.content_tokens = contentTokens(this.#cumulativeTokens.subarray(0, n));
    if (this.#texts !== null && this.#texts.length > 0) r.output_text = this.#texts.join('');
  }
}

/** Characters a JSON string can only carry escaped: a text slot holding none of them is taken verbatim. */
const NEEDS_ESCAPE = /["\\\u0000-\u001f]/;
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
  if (onText === undefined) record.output_text = whole.value.text;
  else onText(whole.value.text);
  record.finish_reason = whole.value.finishReason;
  record.usage = whole.value.usage;
  return { kind: 'ok' };
}
