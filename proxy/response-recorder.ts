// Turns the bytes of one upstream response, as they arrive, into a RequestRecord: status, SSE
// event timings, content text (or its hash), usage and outcome. It only observes: the bytes the
// client receives are forwarded untouched by proxy/upstream.ts; this is the tee.
//
// Events and whole bodies become record fields and outcomes through core/stream-recorder.ts, as in
// the Node engine's client, so a proxied run and a replay analyse alike: ok at [DONE] (end_ns = the
// [DONE] event) or a 2xx OpenAI JSON body; http_error for non-2xx; protocol_error for a 2xx that is
// not the stream or body asked for, a bad event, bad SSE framing, or a stream that ends without
// [DONE]. Unlike the engine, a bad event does not abort the exchange ('observe' mode): the client's
// stream is the primary's business, the proxy only notes it. No body text is quoted in messages.
import { createHash, type Hash } from 'node:crypto';
import { createParser, type EventSourceParser } from 'eventsource-parser';
import type { Api } from '../core/openai.ts';
import type { Outcome, RequestRecord, TimeoutPhase } from '../core/record.ts';
import {
  bodyKind,
  DEFAULT_MAX_OUTPUT_BYTES,
  recordWholeResponse,
  SseLineGuard,
  sseLineTooLong,
  StreamRecorder,
  type BodyKind,
} from '../core/stream-recorder.ts';
import { httpErrorMessage, recordMessage } from '../core/outcome-message.ts';
import { scrubRecordTexts } from '../core/redact.ts';

/** Non-streaming bodies are kept up to this size for interpretation; error bodies up to MAX_ERROR_BODY. */
const MAX_JSON_BODY = 8 << 20;
const MAX_ERROR_BODY = 16_384;

/**
 * What `output_text` holds when text is not recorded: `sha256:<hex>` of the text, so the analysis can
 * still tell identical outputs from different ones (similarity of two hashes is only meaningful as equality).
 */
export const TEXT_HASH_PREFIX = 'sha256:';

type Mode = 'pending' | BodyKind;

/** Hash mode: a tool call's arguments as `sha256:<hex>` of their canonical text (compared by equality only). */
const hashArguments = (canonical: string): string => TEXT_HASH_PREFIX + createHash('sha256').update(canonical).digest('hex');

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
  #reasoningParts: string[] = [];
  #reasoningHash: Hash | null = null;
  #reasoningLength = 0;
  readonly #maxOutputBytes: number | undefined;
  #body = '';
  #chunkNs = 0;
  /** Stops parsing at an SSE line longer than maxSseLine. */
  readonly #lines: SseLineGuard;
  /** SSE events → record fields; a bad event is noted, never acted on. */
  readonly #stream: StreamRecorder;
  #finished = false;

  /**
   * `secrets` (configured keys, the client's credentials: proxy/request.ts requestSecrets) are redacted from the record's
   * message and texts. `maxOutputBytes`: text kept per response (--max-output-bytes; the default 1 MiB when undefined),
   * also the SSE line cap.
   */
  constructor(record: RequestRecord, api: Api, recordText: boolean, secrets: readonly string[] = [], maxOutputBytes?: number) {
    this.record = record;
    this.#api = api;
    this.#recordText = recordText;
    this.#secrets = secrets;
    this.#maxOutputBytes = maxOutputBytes;
    this.#lines = new SseLineGuard(maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES);
    this.#stream = new StreamRecorder(record, api, {
      onBadEvent: 'observe',
      onText: (text) => this.#addText(text),
      onReasoning: (text) => this.#addReasoning(text),
      ...(maxOutputBytes !== undefined && { maxOutputBytes }),
    });
  }

  sent(ns: number): void {
    this.record.sent_ns = ns;
  }

  headers(status: number, contentType: string, ns: number): void {
    this.record.headers_ns = ns;
    this.record.http_status = status;
    this.#contentType = contentType;
    this.#mode = bodyKind(status, this.record.streaming, contentType);
    if (this.#mode === 'sse') {
      this.#parser = createParser({
        onEvent: (event) => this.#stream.event(event.data, this.#chunkNs),
        onError: (error) => this.#stream.problem(`invalid SSE: ${error.message}`, this.#chunkNs),
      });
    }
  }

  /** One body chunk, timestamped when it arrived at the proxy. */
  data(chunk: Buffer, ns: number): void {
    if (this.#finished) return;
    if (this.#mode === 'sse') {
      this.#chunkNs = ns;
      if (this.#parser === null) return; // stopped at an over-long line: only the end time counts now
      const text = this.#decoder.decode(chunk, { stream: true });
      if (!this.#lines.feed(text)) {
        this.#stream.problem(sseLineTooLong(this.#lines.limit), ns);
        this.#parser = null; // what it buffered goes with it
        return;
      }
      this.#parser.feed(text);
    } else if (this.#body.length < (this.#mode === 'json' ? MAX_JSON_BODY : MAX_ERROR_BODY)) {
      this.#body += this.#decoder.decode(chunk, { stream: true });
    }
  }

  #addReasoning(text: string): void {
    this.#reasoningLength += text.length;
    if (this.#recordText) this.#reasoningParts.push(text);
    else (this.#reasoningHash ??= createHash('sha256')).update(text);
  }

  #addText(text: string): void {
    this.#textLength += text.length;
    if (this.#recordText) this.#textParts.push(text);
    else (this.#textHash ??= createHash('sha256')).update(text);
  }

  /** The response body ended normally. */
  end(ns: number): RequestRecord {
    if (this.#finished) return this.record;
    switch (this.#mode) {
      case 'sse': {
        this.#chunkNs = ns;
        this.#parser?.feed(this.#decoder.decode() + '\n\n'); // a last event without its blank line still counts
        const end = this.#stream.endOfStream(ns, { contentType: this.#contentType });
        this.#finish(end.outcome, end.endNs);
        break;
      }
      case 'error-body':
        this.#finish({ kind: 'http_error', status: this.record.http_status ?? 0, message: httpErrorMessage(this.#body) }, ns);
        break;
      case 'json':
      case 'not-sse':
        this.#finish(
          recordWholeResponse(
            this.record,
            this.#api,
            this.#body,
            this.#mode === 'not-sse',
            { contentType: this.#contentType },
            (text) => this.#addText(text),
            {
              onReasoning: (text) => this.#addReasoning(text),
              ...(this.#maxOutputBytes !== undefined && { maxOutputBytes: this.#maxOutputBytes }),
              ...(!this.#recordText && { mapToolArguments: hashArguments }),
            },
          ),
          ns,
        );
        break;
      case 'pending':
        this.#finish({ kind: 'protocol_error', message: 'response ended before its headers' }, ns);
    }
    return this.record;
  }

  /** The exchange failed before the body ended (connection lost, timed out, cancelled). A stream that already sent [DONE] stays ok. */
  abort(outcome: Outcome, ns: number): RequestRecord {
    if (this.#finished) return this.record;
    const settled = this.#mode === 'sse' ? this.#stream.settled() : null;
    if (settled !== null) this.#finish(settled.outcome, settled.endNs);
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
    if (outcome.kind !== 'ok') outcome.message = recordMessage(outcome.message, this.#secrets);
    this.record.outcome = outcome;
    this.record.end_ns = ns;
    this.#stream.finish(this.#recordText ? undefined : hashArguments);
    if (this.#recordText) {
      this.record.output_text = this.#textParts.join('');
      this.record.reasoning_text = this.#reasoningParts.join('');
    } else {
      this.record.output_text = this.#textLength === 0 || this.#textHash === null ? '' : TEXT_HASH_PREFIX + this.#textHash.digest('hex');
      this.record.reasoning_text =
        this.#reasoningLength === 0 || this.#reasoningHash === null ? '' : TEXT_HASH_PREFIX + this.#reasoningHash.digest('hex');
    }
    scrubRecordTexts(this.record, this.#secrets);
    this.#parser = null;
    this.#body = '';
    this.#textParts = [];
    this.#reasoningParts = [];
  }
}
