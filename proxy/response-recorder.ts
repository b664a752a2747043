// Turns the bytes of one upstream response, as they arrive, into a RequestRecord: status, SSE
// event timings, content text (or its hash), usage and outcome. It only observes: the bytes the
// client receives are forwarded untouched by proxy/upstream.ts; this is the tee.
//
// Outcomes follow the Node engine's client (engine/client.ts) so a proxied run and a replay analyse
// alike: ok at [DONE] (end_ns = the [DONE] event) or a 2xx OpenAI JSON body; http_error for non-2xx;
// protocol_error for a 2xx that is not the stream or body asked for, a bad event, or a stream that
// ends without [DONE]. Unlike the engine, a bad event does not abort the exchange: the client's stream
// is the primary's business, the proxy only notes it.
import { createHash, type Hash } from 'node:crypto';
import { createParser, type EventSourceParser } from 'eventsource-parser';
import { DONE, interpretChunk, interpretResponse, type Api } from '../core/openai.ts';
import type { Outcome, RequestRecord, TimeoutPhase } from '../core/record.ts';
import { errorBodyMessage, scrub } from '../engine/client.ts';

/** Non-streaming bodies are kept up to this size for interpretation; error bodies up to MAX_ERROR_BODY. */
const MAX_JSON_BODY = 8 << 20;
const MAX_ERROR_BODY = 16_384;
const MAX_MESSAGE = 300;

/**
 * What `output_text` holds when text is not recorded: `sha256:<hex>` of the text, so the analysis can
 * still tell identical outputs from different ones (similarity of two hashes is only meaningful as equality).
 */
export const TEXT_HASH_PREFIX = 'sha256:';

type Mode = 'pending' | 'sse' | 'json' | 'not-sse' | 'error-body';

export class ResponseRecorder {
  readonly record: RequestRecord;
  readonly #api: Api;
  readonly #recordText: boolean;
  readonly #secrets: readonly string[];
  #mode: Mode = 'pending';
  #contentType = '';
  #parser: EventSourceParser | null = null;
  #decoder = new TextDecoder();
  #textParts: string[] = [];
  #textHash: Hash | null = null;
  #textLength = 0;
  #body = '';
  #events = 0;
  #doneNs: number | null = null;
  #problem: string | null = null;
  #chunkNs = 0;
  /** usage.completion_tokens on each content chunk (vLLM continuous usage stats), null where absent. */
  #cumulativeTokens: Array<number | null> = [];
  #finished = false;

  /** `secrets` (API keys) are scrubbed from every message written to the record. */
  constructor(record: RequestRecord, api: Api, recordText: boolean, secrets: readonly string[] = []) {
    this.record = record;
    this.#api = api;
    this.#recordText = recordText;
    this.#secrets = secrets;
  }

  sent(ns: number): void {
    this.record.sent_ns = ns;
  }

  headers(status: number, contentType: string, ns: number): void {
    this.record.headers_ns = ns;
    this.record.http_status = status;
    this.#contentType = contentType;
    if (status < 200 || status > 299) this.#mode = 'error-body';
    else if (!this.record.streaming) this.#mode = 'json';
    else if (/json|html|xml/i.test(contentType)) this.#mode = 'not-sse';
    else {
      this.#mode = 'sse';
      this.#parser = createParser({
        onEvent: (event) => this.#onEvent(event.data),
        onError: (error) => {
          this.#problem ??= `invalid SSE: ${error.message}`;
        },
      });
    }
  }

  /** One body chunk, timestamped when it arrived at the proxy. */
  data(chunk: Buffer, ns: number): void {
    if (this.#finished) return;
    if (this.#mode === 'sse') {
      this.#chunkNs = ns;
      this.#parser?.feed(this.#decoder.decode(chunk, { stream: true }));
    } else if (this.#body.length < (this.#mode === 'json' ? MAX_JSON_BODY : MAX_ERROR_BODY)) {
      this.#body += this.#decoder.decode(chunk, { stream: true });
    }
  }

  #onEvent(data: string): void {
    const ns = this.#chunkNs;
    this.#events++;
    this.record.first_chunk_ns ??= ns;
    if (this.#doneNs !== null) return;
    if (data.trim() === DONE) {
      this.#doneNs = ns;
      return;
    }
    let payload: unknown;
    try {
      payload = JSON.parse(data);
    } catch {
      this.#problem ??= `SSE event ${this.#events} is not JSON: ${JSON.stringify(data.slice(0, 120))}`;
      return;
    }
    const chunk = interpretChunk(this.#api, payload);
    if (!chunk.ok) {
      this.#problem ??= `SSE event ${this.#events}: ${chunk.error}`;
      return;
    }
    const { text, finishReason, usage } = chunk.value;
    if (text !== '') {
      this.record.first_content_ns ??= ns;
      this.record.content_ns.push(ns);
      this.#addText(text);
      this.#cumulativeTokens.push(usage?.completion_tokens ?? null);
    }
    if (finishReason !== null) this.record.finish_reason = finishReason;
    if (usage !== null) this.record.usage = usage;
  }

  #addText(text: string): void {
    this.#textLength += text.length;
    if (this.#recordText) this.#textParts.push(text);
    else (this.#textHash ??= createHash('sha256')).update(text);
  }

  /** The response body ended normally. */
  end(ns: number): RequestRecord {
    if (this.#finished) return this.record;
    const oneLine = (text: string) => text.replace(/\s+/g, ' ').trim();
    switch (this.#mode) {
      case 'sse': {
        this.#chunkNs = ns;
        this.#parser?.feed(this.#decoder.decode() + '\n\n'); // a last event without its blank line still counts
        if (this.#problem !== null) this.#finish({ kind: 'protocol_error', message: this.#problem }, ns);
        else if (this.#doneNs !== null) this.#finish({ kind: 'ok' }, this.#doneNs);
        else if (this.#events === 0) this.#finish({ kind: 'protocol_error', message: `response is not an SSE stream (content-type ${JSON.stringify(this.#contentType)})` }, ns);
        else this.#finish({ kind: 'protocol_error', message: `stream ended without [DONE] after ${this.#events} events` }, ns);
        break;
      }
      case 'error-body':
        this.#finish({ kind: 'http_error', status: this.record.http_status ?? 0, message: oneLine(errorBodyMessage(this.#body)) }, ns);
        break;
      case 'json':
      case 'not-sse': {
        let payload: unknown;
        try {
          payload = JSON.parse(this.#body);
        } catch {
          this.#finish({ kind: 'protocol_error', message: `response body is not JSON (content-type ${JSON.stringify(this.#contentType)})` }, ns);
          break;
        }
        const whole = interpretResponse(this.#api, payload);
        if (!whole.ok) this.#finish({ kind: 'protocol_error', message: whole.error }, ns);
        else if (this.#mode === 'not-sse') this.#finish({ kind: 'protocol_error', message: `asked for a stream but the server answered with one JSON body (content-type ${JSON.stringify(this.#contentType)})` }, ns);
        else {
          this.#addText(whole.value.text);
          this.record.finish_reason = whole.value.finishReason;
          this.record.usage = whole.value.usage;
          this.#finish({ kind: 'ok' }, ns);
        }
        break;
      }
      case 'pending':
        this.#finish({ kind: 'protocol_error', message: 'response ended before its headers' }, ns);
    }
    return this.record;
  }

  /** The exchange failed before the body ended (connection lost, timed out, cancelled). A stream that already sent [DONE] stays ok. */
  abort(outcome: Outcome, ns: number): RequestRecord {
    if (this.#finished) return this.record;
    if (this.#mode === 'sse' && this.#doneNs !== null && this.#problem === null) this.#finish({ kind: 'ok' }, this.#doneNs);
    else this.#finish(outcome, ns);
    return this.record;
  }

  /** Where a timeout striking now would be: before the request left, before headers, before content, mid-stream. */
  timeoutPhase(): TimeoutPhase {
    if (this.record.sent_ns === null) return 'connect';
    if (this.record.headers_ns === null) return 'headers';
    if (this.record.first_content_ns === null && this.record.streaming) return 'first_token';
    return 'stream';
  }

  #finish(outcome: Outcome, ns: number): void {
    this.#finished = true;
    if (outcome.kind !== 'ok') {
      const message = scrub(outcome.message, this.#secrets);
      outcome.message = message.length > MAX_MESSAGE ? `${message.slice(0, MAX_MESSAGE - 1)}…` : message;
    }
    this.record.outcome = outcome;
    this.record.end_ns = ns;
    this.record.content_tokens = contentTokens(this.#cumulativeTokens, this.record.content_ns.length);
    if (this.#recordText) this.record.output_text = this.#textParts.join('');
    else this.record.output_text = this.#textLength === 0 || this.#textHash === null ? '' : TEXT_HASH_PREFIX + this.#textHash.digest('hex');
    this.#parser = null;
    this.#body = '';
    this.#textParts = [];
  }
}

/** Per-chunk token counts from cumulative usage, when every content chunk carried it; else null (as the engine does). */
function contentTokens(cumulative: Array<number | null>, chunks: number): number[] | null {
  if (cumulative.length === 0 || cumulative.length !== chunks) return null;
  const out: number[] = [];
  let previous = 0;
  for (const c of cumulative) {
    if (c === null || c < previous) return null;
    out.push(c - previous);
    previous = c;
  }
  return out;
}
