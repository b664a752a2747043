// One request to one arm, through undici's dispatch API: the response bytes go to an optional
// sink (the client, for the primary) exactly as they arrive, with backpressure, and are tee'd into
// a ResponseRecorder. Resolves with the finished record; never rejects.
import type { Dispatcher } from 'undici';
import type { IncomingHttpHeaders } from 'node:http';
import type { Arm, RequestRecord } from '../core/record.ts';
import type { ResponseRecorder } from './response-recorder.ts';
import { forwardPath, parseEndpoint, type Endpoint } from '../core/endpoint.ts';

export interface ArmTarget {
  arm: Arm;
  /** The configured base URL by the endpoint policy (core/endpoint.ts): origin, path prefix (/v1 removed), query. */
  endpoint: Endpoint;
  /** Replaces the client's Authorization when set (BASELINE_API_KEY / CANDIDATE_API_KEY). */
  apiKey: string | null;
}

/** One upstream arm from its base URL (with or without /v1, a path prefix, a query: core/endpoint.ts). */
export function armTarget(arm: Arm, url: string, apiKey: string | null): ArmTarget {
  return { arm, endpoint: parseEndpoint(url), apiKey };
}

/** The path and query sent upstream for a client request path: prefix + the client's path, base query then the client's. */
export function upstreamPath(target: ArmTarget, incoming: string): string {
  return forwardPath(target.endpoint, incoming);
}

export interface ForwardedRequest {
  method: string;
  /** Incoming path and query string. */
  path: string;
  /** The client's headers, hop-by-hop ones removed. */
  headers: Record<string, string | string[]>;
  body: Buffer | null;
}

/** Where a primary's response goes: the client. */
export interface ResponseSink {
  start(status: number, headers: IncomingHttpHeaders): void;
  /** False when the client is not keeping up: the upstream is paused until the resume passed to onDrain runs. */
  write(chunk: Buffer): boolean;
  onDrain(resume: () => void): void;
  end(): void;
  /** The upstream failed: the client must see a broken response, never a complete-looking one. */
  fail(error: Error): void;
}

export interface Exchange {
  done: Promise<RequestRecord>;
  /** Aborts the upstream request; the record's outcome becomes `cancelled` with this message. */
  cancel(message: string): void;
}

/** Headers that describe one connection, not the message: never forwarded in either direction. */
export const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'host',
  'content-length',
  'expect',
]);

/** The client's headers as sent to one arm: its own credentials replace the client's when configured. */
export function armHeaders(target: ArmTarget, headers: Record<string, string | string[]>): Record<string, string | string[]> {
  if (target.apiKey === null) return headers;
  return { ...headers, authorization: `Bearer ${target.apiKey}` };
}

export function exchange(
  dispatcher: Dispatcher,
  target: ArmTarget,
  request: ForwardedRequest,
  recorder: ResponseRecorder,
  options: { timeoutMs: number; clock: () => number; sink: ResponseSink | null },
): Exchange {
  const { clock, sink } = options;
  let controller: Dispatcher.DispatchController | null = null;
  let aborted: { timeout: boolean; message: string } | null = null;
  let settled = false;
  let resolve!: (record: RequestRecord) => void;
  const done = new Promise<RequestRecord>((r) => (resolve = r));

  const settle = (record: RequestRecord) => {
    if (settled) return;
    settled = true;
    clearTimeout(timer);
    resolve(record);
  };
  const abort = (timeout: boolean, message: string) => {
    if (settled || aborted !== null) return;
    aborted = { timeout, message };
    const error = new Error(message);
    if (controller !== null) controller.abort(error);
    // Before onRequestStart there is no controller yet; it aborts on arrival.
  };
  // Node's timers count from the event loop's cached time, which can be older than now: a timer can
  // fire early by as long as the current loop iteration has run. The deadline is checked on the records'
  // clock and re-armed for what is left, so an exchange never times out before its limit.
  const deadlineNs = clock() + options.timeoutMs * 1e6;
  let timer: NodeJS.Timeout;
  const expire = () => {
    const leftMs = (deadlineNs - clock()) / 1e6;
    if (leftMs > 0) timer = setTimeout(expire, leftMs);
    else abort(true, `no complete response within ${options.timeoutMs} ms`);
  };
  timer = setTimeout(expire, options.timeoutMs);

  const handler: Dispatcher.DispatchHandler = {
    onRequestStart(c) {
      controller = c;
      if (aborted !== null) c.abort(new Error(aborted.message));
    },
    onResponseStart(c, status, headers) {
      const contentType = headers['content-type'];
      recorder.headers(status, Array.isArray(contentType) ? (contentType[0] ?? '') : (contentType ?? ''), clock());
      if (sink !== null) {
        sink.start(status, headers);
        sink.onDrain(() => c.resume());
      }
    },
    onResponseData(c, chunk) {
      const ns = clock();
      // The client first: the recorder's parsing must not delay the bytes.
      if (sink !== null && !sink.write(chunk)) c.pause();
      recorder.data(chunk, ns);
    },
    onResponseEnd() {
      const ns = clock();
      sink?.end();
      settle(recorder.end(ns));
    },
    onResponseError(_c, error) {
      const ns = clock();
      sink?.fail(error);
      if (aborted !== null) {
        settle(
          recorder.abort(
            aborted.timeout
              ? { kind: 'timeout', phase: recorder.timeoutPhase(), message: aborted.message }
              : { kind: 'cancelled', message: aborted.message },
            ns,
          ),
        );
      } else {
        const code = (error as NodeJS.ErrnoException).code;
        settle(recorder.abort({ kind: 'connection_error', ...(code !== undefined ? { code } : {}), message: error.message }, ns));
      }
    },
  };

  recorder.sent(clock());
  try {
    dispatcher.dispatch(
      {
        origin: target.endpoint.origin,
        path: upstreamPath(target, request.path),
        method: request.method,
        headers: armHeaders(target, request.headers),
        body: request.body,
        // Our own deadline governs (options.timeoutMs); undici's idle timers would cut long generations.
        headersTimeout: 0,
        bodyTimeout: 0,
      },
      handler,
    );
  } catch (error) {
    settle(recorder.abort({ kind: 'connection_error', message: (error as Error).message }, clock()));
    sink?.fail(error as Error);
  }
  return { done, cancel: (message) => abort(false, message) };
}
