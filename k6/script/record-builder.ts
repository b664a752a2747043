// Turns what k6 observed about one request into the standard RequestRecord (core/record.ts):
// SSE events as xk6-sse delivers them (sse mode), or a whole k6/http response (buffered mode).
// No k6 imports: the k6 entry (k6/script/shadow.ts) feeds it; the logic is the same under the doubles.
import type { Api } from '../../core/openai.ts';
import { httpErrorMessage, recordMessage } from '../../core/outcome-message.ts';
import { scrubRecordTexts } from '../../core/redact.ts';
import type { Outcome, RequestRecord, TimeoutPhase } from '../../core/record.ts';
import { recordWholeResponse, StreamRecorder } from '../../core/stream-recorder.ts';

/** xk6-sse reports each non-SSE line (e.g. of a JSON error body) as an error "unknown event: <line>\n". */
const UNKNOWN_EVENT = /^unknown event: /;

/** The non-SSE lines xk6-sse reported, joined back into the body the server sent ('' when none). */
const nonSseBody = (errors: readonly string[]): string =>
  errors
    .filter((e) => UNKNOWN_EVENT.test(e))
    .map((e) => e.replace(UNKNOWN_EVENT, '').replace(/\r?\n$/, ''))
    .join('\n');

/**
 * Events a k6 VU keeps before it records them (SseRecorder.events). In k6 every event callback
 * resumes one of many VU runtimes, and the recorder's JavaScript cost about three times as much
 * there as in a loop over stored events (bench/RESULTS.md, session 3); a batch bounds the memory of a
 * long stream and how late a bad chunk closes it.
 */
export const EVENT_BATCH = 256;

/** The data of the SSE event that ends an OpenAI stream. */
export const DONE_DATA = '[DONE]';

/**
 * Stream state for one SSE request. Call open() on the 'open' callback (response headers are in),
 * event() with each event and its arrival time (or events() with a batch of them, in order),
 * error() on 'error', and finish() once sse.open has returned. event() and events() return true
 * when the client should be closed ([DONE], a bad chunk, or the timeout has passed).
 */
export class SseRecorder {
  readonly record: RequestRecord;
  readonly #timeoutNs: number;
  /** Event data → record fields (core/stream-recorder.ts, as the Node engine): a bad event ends the stream. */
  readonly #stream: StreamRecorder;
  #timeout: Outcome | null = null;
  /** event() said close: the timeout passed, or the stream is complete or bad (later events change nothing). */
  #closed = false;
  readonly #errors: string[] = [];
  readonly #secrets: readonly string[];

  /** `secrets`: strings scrubbed from outcome messages (the arm's header values: core/redact.ts headerSecrets). */
  constructor(record: RequestRecord, api: Api, timeoutNs: number, secrets: readonly string[] = []) {
    this.record = record;
    this.#timeoutNs = timeoutNs;
    this.#secrets = secrets;
    this.#stream = new StreamRecorder(record, api, { onBadEvent: 'stop' });
  }

  open(nowNs: number): void {
    this.record.headers_ns ??= nowNs;
  }

  event(data: string, nowNs: number): boolean {
    if (this.#closed) return true;
    const r = this.record;
    r.first_chunk_ns ??= nowNs; // an event that arrives past the limit is still the first chunk
    if (nowNs - (r.sent_ns ?? 0) > this.#timeoutNs && this.#timedOut(nowNs)) return (this.#closed = true);
    if (this.#stream.eventTemplated(data, nowNs) === 'more') return false; // no JSON.parse for plain content chunks
    r.end_ns = this.#stream.settled()?.endNs ?? nowNs;
    return (this.#closed = true);
  }

  /** event() for each stored event in order, until one says close; true if one did. */
  events(data: readonly string[], nowNs: readonly number[]): boolean {
    for (let k = 0; k < data.length; k++) if (this.event(data[k]!, nowNs[k]!)) return true;
    return false;
  }

  error(message: string): void {
    this.#errors.push(message);
  }

  /** Status and error as sse.open returned them (status 0 and an error when no response came). */
  finish(status: number, error: string, nowNs: number): RequestRecord {
    const r = this.record;
    r.end_ns ??= nowNs;
    if (status >= 100) r.http_status = status;
    const settled = this.#stream.settled();
    if (this.#timeout === null && settled?.outcome.kind !== 'protocol_error') this.#timedOut(r.end_ns);
    const failure = this.#timeout ?? (settled?.outcome.kind === 'protocol_error' ? settled.outcome : null);
    const firstError = this.#errors[0]?.replace(UNKNOWN_EVENT, '').trimEnd() ?? ''; // without the line's '\n'
    if (failure !== null) r.outcome = failure;
    else if (status === 0 || status === undefined) r.outcome = { kind: 'connection_error', message: error || firstError || 'no response' };
    else if (status >= 400) {
      // The whole error body, not its first line: a pretty-printed JSON body arrives one line per error.
      const body = nonSseBody(this.#errors) || firstError;
      r.outcome = { kind: 'http_error', status, message: body ? httpErrorMessage(body) : error || `HTTP ${status}` };
    } else if (settled !== null) r.outcome = settled.outcome;
    else if (this.#errors.length > 0) r.outcome = { kind: 'protocol_error', message: firstError };
    else r.outcome = this.#stream.endOfStream(r.end_ns).outcome;
    this.#stream.finish();
    return fitMessage(r, this.#secrets);
  }

  /** The limit is checked when something arrives: xk6-sse has no timeout of its own (see README). */
  #timedOut(nowNs: number): boolean {
    const sent = this.record.sent_ns ?? 0;
    if (nowNs - sent <= this.#timeoutNs) return false;
    const phase: TimeoutPhase =
      this.record.headers_ns === null ? 'headers' : this.record.first_content_ns === null ? 'first_token' : 'stream';
    this.#timeout = { kind: 'timeout', phase, message: `no complete response within ${this.#timeoutNs / 1e6} ms` };
    this.record.end_ns = nowNs;
    return true;
  }
}

/** A record as every engine writes it (core/redact.ts): a failure's message redacted and bounded, known secrets out of the texts. */
function fitMessage(r: RequestRecord, secrets: readonly string[]): RequestRecord {
  if (r.outcome.kind !== 'ok') r.outcome.message = recordMessage(r.outcome.message, secrets);
  scrubRecordTexts(r, secrets);
  return r;
}

/** The subset of a k6/http Response the buffered mode reads. */
export interface HttpResponseLike {
  status: number;
  body: string | null | ArrayBuffer;
  error: string;
  error_code: number;
  /** k6 phase timings, ms with µs precision (measured by k6's Go HTTP client). */
  timings: { blocked: number; connecting: number; tls_handshaking: number; sending: number; waiting: number; receiving: number };
}

/** k6 error code for a request that hit its timeout (https://grafana.com/docs/k6/latest/javascript-api/error-codes/). */
export const K6_REQUEST_TIMEOUT = 1050;

/**
 * Fills a buffered (non-streaming) record. Headers and end times come from k6's own phase timings
 * (µs precision) added to the send time; TTFT and ITL are not measured (token_timing false,
 * no chunk timestamps), never approximated.
 */
export function fillBufferedRecord(
  record: RequestRecord,
  api: Api,
  res: HttpResponseLike,
  afterNs: number,
  secrets: readonly string[] = [],
): RequestRecord {
  const r = record;
  r.token_timing = false;
  const sent = r.sent_ns ?? 0;
  const t = res.timings;
  const toHeadersMs = t.blocked + t.connecting + t.tls_handshaking + t.sending + t.waiting;
  if (res.status >= 100) {
    r.http_status = res.status;
    r.headers_ns = sent + Math.round(toHeadersMs * 1e6);
    r.end_ns = Math.min(afterNs, r.headers_ns + Math.round(t.receiving * 1e6));
    if (r.end_ns < r.headers_ns) r.end_ns = r.headers_ns;
  } else {
    r.end_ns = afterNs;
  }
  const body = typeof res.body === 'string' ? res.body : '';
  if (res.status === 0 || res.status === undefined) {
    r.outcome =
      res.error_code === K6_REQUEST_TIMEOUT
        ? { kind: 'timeout', phase: 'headers', message: res.error || 'request timeout' }
        : { kind: 'connection_error', code: String(res.error_code), message: res.error || 'no response' };
    return fitMessage(r, secrets);
  }
  if (res.status >= 400) {
    // The server's own words, as the Node engine and the proxy record them (core/outcome-message.ts).
    r.outcome = { kind: 'http_error', status: res.status, message: httpErrorMessage(body) };
    return fitMessage(r, secrets);
  }
  r.outcome = recordWholeResponse(r, api, body, false, { bodySample: body });
  return fitMessage(r, secrets);
}
