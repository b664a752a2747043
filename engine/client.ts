// The streaming client: sends one request to one arm through undici's dispatch API (no stream or
// promise machinery per chunk) and fills in its RequestRecord as bytes arrive.
//
// Timestamps: every SSE event is stamped with the time its bytes' data callback began (the clock is
// read once per incoming chunk, not per event: events that arrived in one read share a time).
//
// Outcome mapping (every request ends in exactly one record):
//   ok               [DONE] received (streaming), or a 2xx OpenAI-shaped JSON body (non-streaming)
//   http_error       non-2xx status; message = the server's error message (truncated)
//   protocol_error   2xx but not an SSE stream / not JSON / not OpenAI-shaped / an error object in the
//                    stream / the stream ended cleanly without [DONE]
//   connection_error refused, reset or closed before the response ended (code kept); a socket
//                    closed mid-stream says "socket closed mid-stream after N events"
//   timeout          the per-request limit struck; phase = connect | headers | first_token | stream
//   cancelled        the run stopped (SIGINT, grace exceeded) before the response ended
// Partial data (chunks received before a failure) stays in the record.
import { Pool, type Dispatcher } from 'undici';
import { createParser, type EventSourceParser } from 'eventsource-parser';
import { API_PATH, type Api } from '../core/openai.ts';
import { MODELS_PATH, parseEndpoint, requestPath, type Endpoint } from '../core/endpoint.ts';
import { emptyRecord, type Outcome, type RequestRecord, type TimeoutPhase } from '../core/record.ts';
import {
  bodyKind,
  DEFAULT_MAX_OUTPUT_BYTES,
  maxSseLine,
  recordWholeResponse,
  SseLineGuard,
  sseLineTooLong,
  StreamRecorder,
  type BodyKind,
} from '../core/stream-recorder.ts';
import { httpErrorMessage, recordMessage } from '../core/outcome-message.ts';
import { headerSecrets, redactUrl, scrubRecordTexts, urlSecrets } from '../core/redact.ts';
import { monoNow, systemClock, type EngineClock } from './pacer.ts';

/** One arm as the sending thread sees it (headers include secrets: never copy them into a record). */
export interface ArmClient {
  arm: string;
  dispatcher: Dispatcher;
  origin: string;
  /** The base URL by the endpoint policy (core/endpoint.ts): origin, path prefix, query. */
  endpoint: Endpoint;
  headers: Record<string, string>;
  /** Known secrets redacted from every message and text of a record (API keys, header values, URL credentials): core/redact.ts. */
  secrets: string[];
  /** For messages: the URL without credentials. */
  displayUrl: string;
}

const MAX_ERROR_BODY = 16_384;

/**
 * One connection pool per arm (an arm has one origin); keep-alive connections are reused, no limit on
 * their number. A Pool, not an Agent: undici's Agent checks on every socket close whether its pool is
 * still in use by walking every connection, so with thousands of connections open (a rate far above
 * what the endpoint answers) each close cost O(connections) and the sender's event loop stalled for
 * seconds at a time (measured at --qps 20000: 15 s of 35 s CPU in Agent closeClientIfUnused), long
 * enough that a stop signal was not seen within --grace.
 * `dispatcher` replaces the arm's pool (tests: a scripted transport on a virtual clock).
 */
export function createArmClient(
  arm: string,
  url: string,
  headers: Record<string, string>,
  timeoutMs: number,
  dispatcher?: Dispatcher,
): ArmClient {
  const endpoint = parseEndpoint(url);
  const colon = endpoint.credentials.indexOf(':');
  const username = colon < 0 ? endpoint.credentials : endpoint.credentials.slice(0, colon);
  const password = colon < 0 ? '' : endpoint.credentials.slice(colon + 1);
  const secrets = [...headerSecrets(headers), ...urlSecrets(url)];
  const authHeaders = { ...headers };
  if (username || password) {
    authHeaders.authorization ??= `Basic ${Buffer.from(`${decodeURIComponent(username)}:${decodeURIComponent(password)}`).toString('base64')}`;
  }
  return {
    arm,
    dispatcher:
      dispatcher ??
      new Pool(endpoint.origin, {
        connections: null,
        pipelining: 1,
        connectTimeout: timeoutMs,
        // Our own per-request timer decides outcomes; undici's are only a backstop for abandoned sockets.
        headersTimeout: timeoutMs + 5_000,
        bodyTimeout: timeoutMs + 5_000,
        keepAliveTimeout: 30_000,
      }),
    origin: endpoint.origin,
    endpoint,
    headers: authHeaders,
    secrets,
    displayUrl: redactUrl(url),
  };
}

const CONNECTION_WORDS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset by the server',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host name lookup failed',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  EPIPE: 'connection closed while sending',
  UND_ERR_SOCKET: 'the server closed the connection',
  UND_ERR_CLOSED: 'the client was closed',
};

export interface SendOptions {
  client: ArmClient;
  api: Api;
  stream: boolean;
  /** The serialized request body (prepared before the due instant): UTF-8 bytes (sent as they are) or a string. */
  body: string | Uint8Array;
  requestId: string;
  /** Filled in and handed to onDone exactly once. */
  record: RequestRecord;
  /** The run's monotonic origin: record times are ns since it. */
  origin: bigint;
  timeoutMs: number;
  onDone: (record: RequestRecord) => void;
  /** Called with each response chunk's arrival time (clock.now()), before the chunk is parsed. */
  onData?: (arrived: bigint) => void;
  /** Time source for every timestamp and the per-request deadline (default systemClock; tests inject a virtual one). */
  clock?: EngineClock;
  /** Text kept per response (--max-output-bytes; DEFAULT_MAX_OUTPUT_BYTES when absent): past it texts are cut, timing goes on. */
  maxOutputBytes?: number;
}

export interface InFlightRequest {
  /** Dispatches now (record.sent_ns = this instant); onDone may run synchronously if sending fails at once. */
  start(): void;
  /** Ends the request now with outcome cancelled (no-op once it has ended), and aborts it upstream. */
  cancel(message: string): void;
  /**
   * cancel() in two steps, for many requests at once: `record` hands over the cancelled record
   * (cheap), `abort` closes the upstream request (a socket to destroy, errors to build: the costly
   * part), so every record is out before the first socket is closed.
   */
  cancelSteps(message: string): { abort(): void };
}

type Mode = 'pending' | BodyKind;

class ArmRequest implements Dispatcher.DispatchHandler, InFlightRequest {
  readonly #o: SendOptions;
  readonly #r: RequestRecord;
  #controller: Dispatcher.DispatchController | null = null;
  #finished = false;
  #abortWhenStarted = false;
  #mode: Mode = 'pending';
  #contentType = '';
  #decoder = new TextDecoder();
  #parser: EventSourceParser | null = null;
  /** Arrival time of the chunk being parsed (ns since origin). */
  #chunkNs = 0;
  /** SSE events → record fields; the first bad event ends the request (and aborts it). */
  readonly #stream: StreamRecorder;
  #parseError: string | null = null;
  #body = '';
  /** Stops SSE parsing at a line longer than maxSseLine (a line without newline is never held whole). */
  readonly #lines: SseLineGuard;
  /** The most characters of a whole (non-streamed) body kept: a bigger one is a protocol_error. */
  readonly #maxBody: number;

  #timer: unknown;
  readonly #clock: EngineClock;

  constructor(options: SendOptions) {
    this.#o = options;
    this.#r = options.record;
    this.#clock = options.clock ?? systemClock;
    const maxOutputBytes = options.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES;
    this.#stream = new StreamRecorder(options.record, options.api, { onBadEvent: 'stop', maxOutputBytes });
    this.#lines = new SseLineGuard(maxOutputBytes);
    this.#maxBody = maxSseLine(maxOutputBytes);
  }

  #now(): number {
    return Number(this.#clock.now() - this.#o.origin);
  }

  start(): void {
    const { client, api, body, requestId } = this.#o;
    const headers: Record<string, string> = {
      ...client.headers,
      'content-type': 'application/json',
      accept: this.#o.stream ? 'text/event-stream' : 'application/json',
      'x-request-id': requestId,
    };
    this.#timer = this.#clock.setTimer(() => this.#timeout(), this.#o.timeoutMs);
    this.#r.sent_ns = this.#now();
    try {
      client.dispatcher.dispatch(
        { origin: client.origin, path: requestPath(client.endpoint, API_PATH[api]), method: 'POST', headers, body },
        this,
      );
    } catch (error) {
      this.#finish({ kind: 'connection_error', message: `could not send: ${(error as Error).message}` }, this.#now());
    }
  }

  cancel(message: string): void {
    this.cancelSteps(message).abort();
  }

  cancelSteps(message: string): { abort(): void } {
    if (this.#finished) return { abort: () => undefined };
    this.#finish({ kind: 'cancelled', message }, this.#now());
    return { abort: () => this.#abort('cancelled') };
  }

  #timeout(): void {
    if (this.#finished) return;
    const r = this.#r;
    // Node's timers count from the event loop's cached time, which can be older than sent_ns by as long
    // as the loop iteration that sent this request had run: such a timer fires early. Never time out early.
    const leftMs = this.#o.timeoutMs - (this.#now() - (r.sent_ns ?? 0)) / 1e6;
    if (leftMs > 0) {
      this.#timer = this.#clock.setTimer(() => this.#timeout(), leftMs);
      return;
    }
    const s = `${this.#o.timeoutMs / 1000} s`;
    const [phase, message]: [TimeoutPhase, string] =
      this.#controller === null && r.headers_ns === null
        ? ['connect', `not connected to ${this.#o.client.displayUrl} within ${s}`]
        : r.headers_ns === null
          ? ['headers', `no response headers within ${s}`]
          : r.first_content_ns === null && this.#o.stream
            ? [
                'first_token',
                `no content within ${s} (headers after ${((r.headers_ns - (r.sent_ns ?? 0)) / 1e6).toFixed(1)} ms, ${this.#stream.events} events)`,
              ]
            : ['stream', `response not finished within ${s} (${this.#stream.contentChunks} content chunks received)`];
    this.#finish({ kind: 'timeout', phase, message }, this.#now());
    this.#abort('timeout');
  }

  #abort(why: string): void {
    if (this.#controller !== null) {
      if (!this.#controller.aborted) this.#controller.abort(new Error(`shadowbench: request ${why}`));
    } else {
      this.#abortWhenStarted = true;
    }
  }

  #finish(outcome: Outcome, endNs: number): void {
    if (this.#finished) return;
    this.#finished = true;
    this.#clock.clearTimer(this.#timer);
    const r = this.#r;
    r.end_ns ??= endNs;
    if (outcome.kind !== 'ok') outcome.message = recordMessage(outcome.message, this.#o.client.secrets);
    r.outcome = outcome;
    this.#stream.finish();
    scrubRecordTexts(r, this.#o.client.secrets);
    this.#parser = null;
    this.#o.onDone(r);
  }

  // --- undici handler ---------------------------------------------------------------------

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.#controller = controller;
    if (this.#abortWhenStarted) controller.abort(new Error('shadowbench: request ended before it was sent'));
  }

  onResponseStart(
    _controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: Record<string, string | string[] | undefined>,
  ): void {
    if (this.#finished) return;
    const r = this.#r;
    r.headers_ns = this.#now();
    r.http_status = statusCode;
    const ct = headers['content-type'];
    this.#contentType = (Array.isArray(ct) ? ct[0] : ct) ?? '';
    this.#mode = bodyKind(statusCode, this.#o.stream, this.#contentType);
    if (this.#mode === 'sse') {
      this.#parser = createParser({
        onEvent: (event) => this.#onEvent(event.data),
        onError: (error) => {
          this.#parseError ??= error.message;
        },
      });
    }
  }

  onResponseData(_controller: Dispatcher.DispatchController, chunk: Buffer): void {
    const arrived = this.#clock.now();
    this.#o.onData?.(arrived);
    if (this.#finished) return;
    if (this.#mode === 'sse') {
      this.#chunkNs = Number(arrived - this.#o.origin);
      const text = this.#decoder.decode(chunk, { stream: true });
      if (this.#stream.events === 0 && this.#body.length < 200) this.#body += text.slice(0, 200); // for "not an SSE stream" messages
      if (!this.#lines.feed(text)) {
        this.#stream.problem(sseLineTooLong(this.#lines.limit), this.#chunkNs);
        const end = this.#stream.settled();
        if (end !== null) this.#finish(end.outcome, end.endNs);
        this.#abort('protocol error');
        return;
      }
      this.#parser?.feed(text);
    } else if (this.#mode === 'json' && this.#body.length + chunk.length > this.#maxBody) {
      const t = this.#now();
      this.#finish(
        {
          kind: 'protocol_error',
          message: `response body longer than ${this.#maxBody} bytes (6 × --max-output-bytes + 64 KiB): not read further`,
        },
        t,
      );
      this.#abort('protocol error');
    } else if (this.#mode === 'json' || this.#body.length < MAX_ERROR_BODY) {
      this.#body += this.#decoder.decode(chunk, { stream: true });
    }
  }

  onResponseEnd(): void {
    if (this.#finished) return;
    const t = this.#now();
    const r = this.#r;
    switch (this.#mode) {
      case 'sse': {
        this.#chunkNs = t;
        this.#parser?.feed(this.#decoder.decode() + '\n\n'); // a last event without its blank line still counts
        if (this.#finished) return;
        const end = this.#stream.endOfStream(t, { contentType: this.#contentType, framingError: this.#parseError, bodySample: this.#body });
        this.#finish(end.outcome, end.endNs);
        return;
      }
      case 'error-body':
        this.#finish({ kind: 'http_error', status: r.http_status ?? 0, message: httpErrorMessage(this.#body) }, t);
        return;
      case 'not-sse':
      case 'json':
        this.#finish(
          recordWholeResponse(
            r,
            this.#o.api,
            this.#body,
            this.#mode === 'not-sse',
            { contentType: this.#contentType, bodySample: this.#body },
            undefined,
            { ...(this.#o.maxOutputBytes !== undefined && { maxOutputBytes: this.#o.maxOutputBytes }) },
          ),
          t,
        );
        return;
      case 'pending':
        this.#finish({ kind: 'protocol_error', message: 'response ended before its headers' }, t);
    }
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    if (this.#finished) return;
    const t = this.#now();
    const r = this.#r;
    const code = (error as { code?: string }).code;
    if (code === 'UND_ERR_CONNECT_TIMEOUT') {
      this.#finish(
        {
          kind: 'timeout',
          phase: 'connect',
          message: `not connected to ${this.#o.client.displayUrl} within ${this.#o.timeoutMs / 1000} s`,
        },
        t,
      );
      return;
    }
    const what = (code && CONNECTION_WORDS[code]) ?? error.message;
    const detail = `${what}${code ? ` (${code})` : ''}`;
    if (r.headers_ns === null) {
      this.#finish({ kind: 'connection_error', ...(code && { code }), message: `${detail} — ${this.#o.client.displayUrl}` }, t);
    } else if (this.#mode === 'error-body') {
      this.#finish({ kind: 'http_error', status: r.http_status ?? 0, message: `${httpErrorMessage(this.#body)} (then ${what})` }, t);
    } else {
      const received = this.#mode === 'sse' ? `${this.#stream.events} events` : `${this.#body.length} body characters`;
      this.#finish(
        { kind: 'connection_error', ...(code && { code }), message: `socket closed mid-stream after ${received}: ${detail}` },
        t,
      );
    }
  }

  // --- SSE events ---------------------------------------------------------------------------

  #onEvent(data: string): void {
    if (this.#finished) return;
    const step = this.#stream.event(data, this.#chunkNs);
    if (step === 'more') return;
    const end = this.#stream.settled();
    if (end !== null) this.#finish(end.outcome, end.endNs);
    if (step === 'bad') this.#abort('protocol error');
  }
}

/** A request ready to go: start() sends it; options.onDone gets the finished record exactly once. */
export function createRequest(options: SendOptions): InFlightRequest {
  return new ArmRequest(options);
}

// --- before the run: open the pool's connections, warm the per-event code ----------------------

/** Largest number of connections opened ahead per arm per sending thread. */
export const PRECONNECT_MAX = 256;

/**
 * Opens up to `connections` keep-alive connections in the arm's pool by sending that many GET
 * /v1/models at once (every OpenAI-compatible server answers it; each concurrent request needs its
 * own socket with pipelining 1). Without it the run's first second opens a connection for almost
 * every request (TCP connect + undici client set-up on the hot path) until the pool reaches the
 * run's concurrency. Never recorded. Returns how many answered (any status: the socket is open).
 */
export async function preconnect(client: ArmClient, connections: number, timeoutMs: number): Promise<number> {
  const headers = { ...client.headers, accept: 'application/json' };
  const path = requestPath(client.endpoint, MODELS_PATH);
  const one = async (): Promise<number> => {
    try {
      const response = await client.dispatcher.request({
        origin: client.origin,
        path,
        method: 'GET',
        headers,
        signal: AbortSignal.timeout(timeoutMs),
      });
      await response.body.dump();
      return 1;
    } catch {
      return 0; // an unreachable arm shows up in the run's own records
    }
  };
  const results = await Promise.all(Array.from({ length: connections }, one));
  // undici marks a client free again on a later turn than the one its body ended on: a request sent
  // in this turn could still open a new connection.
  await new Promise((resolve) => setImmediate(resolve));
  return results.reduce((a, b) => a + b, 0);
}

const ignoreArrival = (_arrived: bigint): void => {};

const WARM_CONTROLLER = { aborted: false, paused: false, reason: null, abort() {}, pause() {}, resume() {} };

/** A dispatcher that answers every request at once with a synthetic SSE stream (no socket). */
function syntheticStreamDispatcher(api: Api, events: number): Dispatcher {
  const chunk = (text: string) => {
    const choice = api === 'chat' ? { index: 0, delta: { content: text }, finish_reason: null } : { index: 0, text, finish_reason: null };
    return `data: ${JSON.stringify({ id: 'warm', object: api === 'chat' ? 'chat.completion.chunk' : 'text_completion', created: 0, model: 'warm', choices: [choice] })}\n\n`;
  };
  const usage = `data: ${JSON.stringify({ id: 'warm', created: 0, model: 'warm', choices: [], usage: { prompt_tokens: 8, completion_tokens: events, total_tokens: events + 8 } })}\n\n`;
  const body = [...Array.from({ length: events }, (_, i) => Buffer.from(chunk(` w${i}`))), Buffer.from(usage + 'data: [DONE]\n\n')];
  const controller = WARM_CONTROLLER as unknown as Dispatcher.DispatchController;
  return {
    dispatch(_options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
      handler.onRequestStart?.(controller, {});
      handler.onResponseStart?.(controller, 200, { 'content-type': 'text/event-stream' }, 'OK');
      for (const b of body) handler.onResponseData?.(controller, b);
      handler.onResponseEnd?.(controller, {});
      return true;
    },
  } as unknown as Dispatcher;
}

/**
 * Runs `streams` synthetic streams of `events` events each through the real request handler (SSE
 * parser, stream recorder, record completion) so V8 has compiled the per-event path before the first
 * due instant instead of during the run's first second. No network; the records are discarded.
 * `onData` should be the function the run's requests will call (the sender's chunk check, idle before
 * the run starts), so the compiled handler expects that call target. Returns how many ended ok with
 * every event counted (all of them, unless the handler changed).
 */
export function warmUpStreamPath(api: Api, streams: number, events: number, onData: (arrived: bigint) => void = ignoreArrival): number {
  const dispatcher = syntheticStreamDispatcher(api, events);
  const client: ArmClient = {
    arm: 'warm',
    dispatcher,
    origin: 'http://warm.invalid',
    endpoint: parseEndpoint('http://warm.invalid'),
    headers: {},
    secrets: [],
    displayUrl: 'warm',
  };
  const origin = monoNow();
  let ok = 0;
  const onDone = (r: RequestRecord) => {
    if (r.outcome.kind === 'ok' && r.content_ns.length === events) ok++;
  };
  for (let i = 0; i < streams; i++) {
    const record = emptyRecord({
      run_id: 'warm',
      arm: 'warm',
      index: i,
      item_id: 'warm',
      warmup: true,
      source: 'node',
      streaming: true,
      scheduled_ns: 0,
    });
    // The options as the sender builds them (same keys, same order), so V8 compiles the handler for the
    // object shape the run's requests will have.
    new ArmRequest({
      client,
      api,
      stream: true,
      body: '{}',
      requestId: 'warm',
      record,
      origin,
      timeoutMs: 60_000,
      onData,
      onDone,
      clock: systemClock,
      maxOutputBytes: DEFAULT_MAX_OUTPUT_BYTES,
    }).start();
  }
  return ok;
}
