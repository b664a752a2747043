// The live shadow proxy: an OpenAI-compatible reverse proxy that answers every request from the
// primary arm (baseline, or the candidate for the `weight` share of traffic), passing its bytes
// through as they arrive, and sends the same request to the other arm as a fire-and-forget shadow.
// Both responses become records in a run folder, paired by index, so the offline analysis reads
// live traffic like a replay. A periodic check applies the rollback triggers and latches weight 0.
//
// This file is the HTTP layer only: listening, reading bodies, starting the upstream exchanges,
// shutdown. Request parsing is proxy/request.ts; numbering, routing, totals, rollback checks and
// operator actions are proxy/state.ts (ProxyCore); records reach the disk through proxy/recording.ts
// (SafeRecords), so a full disk pauses recording and never stops serving.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Agent } from 'undici';
import { BASELINE, emptyRecord, RECORD_SCHEMA_VERSION, type Arm } from '../core/record.ts';
import { RUN_MANIFEST_VERSION, type RunManifest } from '../core/run.ts';
import { redactUrl } from '../core/redact.ts';
import { startAdmin, type AdminServer } from './admin.ts';
import type { RollbackThresholds } from './rollback.ts';
import { ProxyRunFolder, type OpenJournal } from './run-folder.ts';
import { ResponseRecorder } from './response-recorder.ts';
import type { WeightSchedule } from './schedule.ts';
import { armTarget, exchange, type ArmTarget, type Exchange, type ForwardedRequest, type ResponseSink } from './upstream.ts';
import { armBody, classify, forwardedHeaders, hasBody, itemIdOf, requestSecrets, responseHeaders } from './request.ts';
import { SafeRecords, type RecordSink } from './recording.ts';
import { ProxyCore, type ProxyState } from './state.ts';

export type { ArmTotals, ProxyState, ProxyTotals } from './state.ts';

/** Node's timers hold at most 2^31 − 1 ms: every proxy time limit must fit (cli/proxy.ts rejects more). */
export const MAX_TIMER_MS = 2_147_483_647;

export interface ProxyOptions {
  baselineUrl: string;
  candidateUrl: string;
  host: string;
  port: number;
  /** Admin listener (loopback only); null disables it. */
  admin: { host: string; port: number; token: string } | null;
  /** Manual candidate weight, 0–1 (ignored when a schedule is given). */
  weight: number;
  schedule: WeightSchedule | null;
  /** Length of a schedule "day" in ms (86 400 000; shorter for rehearsals). */
  scheduleDayMs: number;
  /** Send each request to the non-primary arm as well. */
  shadow: boolean;
  shadowTimeoutMs: number;
  /** Shadow requests in flight beyond this are dropped and counted, never queued. */
  shadowMaxInflight: number;
  primaryTimeoutMs: number;
  checkIntervalMs: number;
  windowMs: number;
  thresholds: RollbackThresholds;
  /** Keep output text in records (else a sha256 of it). */
  recordText: boolean;
  /** Text kept per response (--max-output-bytes; the recorder's default when absent). */
  maxOutputBytes?: number;
  apiKeys: { baseline: string | null; candidate: string | null };
  /** Per-arm model name replacing the body's `model` (null = forward the client's). */
  models: { baseline: string | null; candidate: string | null };
  runDir: string;
  runId: string;
  seed: number;
  /** In-flight requests get this long to finish at shutdown before they are cancelled. */
  drainTimeoutMs: number;
  maxBodyBytes: number;
  /** Resolved options for run.json, secrets already removed. */
  config: Record<string, unknown>;
  versions: Record<string, string>;
  log: (message: string) => void;
  /** Replaces the run folder's records file as the records' destination (tests: a failing disk). */
  recordSink?: RecordSink;
  /** How often a paused recording tries to write again (default 5 s). */
  recordRetryMs?: number;
  /** Opens routing.jsonl and events.jsonl (tests: a stream whose disk fills up). */
  openJournal?: OpenJournal;
}

export interface ProxyServer {
  url: string;
  adminUrl: string | null;
  runDir: string;
  state(): ProxyState;
  /** Stops accepting, lets in-flight requests finish (bounded by drainTimeoutMs), flushes records, completes run.json. */
  close(reason?: string): Promise<void>;
}

const target = armTarget;

/** The client's response, fed by the primary's bytes. */
function clientSink(res: ServerResponse): ResponseSink {
  return {
    start(status, headers) {
      res.writeHead(status, responseHeaders(headers));
      res.flushHeaders(); // time to first byte is the upstream's, not the first chunk's
    },
    write: (chunk) => res.write(chunk),
    onDrain: (resume) => res.on('drain', resume),
    end: () => res.end(),
    fail(error) {
      if (!res.headersSent) {
        const body = JSON.stringify({ error: { message: `upstream failed: ${error.message}`, type: 'proxy_error' } });
        res.writeHead(502, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
        res.end(body);
      } else {
        res.destroy(error); // mid-stream: the client must see a broken stream, as it would directly
      }
    },
  };
}

class BodyTooLarge extends Error {}

async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new BodyTooLarge(`request body larger than ${limit} bytes`);
    parts.push(chunk);
  }
  return Buffer.concat(parts);
}

const jsonError = (res: ServerResponse, status: number, message: string, close = false) => {
  res.writeHead(status, { 'content-type': 'application/json', ...(close && { connection: 'close' }) });
  res.end(JSON.stringify({ error: { message, type: 'proxy_error' } }));
};

/** Every time limit, in ms, must fit Node's timers (a larger one fires at once: every request would fail). */
function checkTimers(options: ProxyOptions): void {
  for (const [name, ms] of Object.entries({
    primaryTimeoutMs: options.primaryTimeoutMs,
    shadowTimeoutMs: options.shadowTimeoutMs,
    checkIntervalMs: options.checkIntervalMs,
    drainTimeoutMs: options.drainTimeoutMs,
  })) {
    if (!(ms >= 0 && ms <= MAX_TIMER_MS)) throw new RangeError(`${name}: ${ms} ms is outside 0–${MAX_TIMER_MS} ms (Node's timer limit)`);
  }
}

/** run.json as the proxy starts it (proxy/run-folder.ts completes it at shutdown). */
function proxyManifest(options: ProxyOptions, originNs: bigint, startedAt: Date): RunManifest {
  return {
    v: RUN_MANIFEST_VERSION,
    record_schema_version: RECORD_SCHEMA_VERSION,
    run_id: options.runId,
    started_at: startedAt.toISOString(),
    ended_at: null,
    engine: 'proxy',
    seed: options.seed,
    arms: (['baseline', 'candidate'] as const).map((arm) => ({
      arm,
      url: redactUrl(arm === BASELINE ? options.baselineUrl : options.candidateUrl),
      model: options.models[arm],
      simulated_profile: null,
      header_names: options.apiKeys[arm] !== null ? ['authorization'] : [],
    })),
    workload: null,
    config: options.config,
    mono_origin_ns: originNs.toString(),
    versions: options.versions,
    interrupted: null,
    warnings: [],
  };
}

/**
 * The HTTP side of each client request: reads the body, asks ProxyCore where it goes, starts the
 * primary exchange (the client's bytes) and the shadow, and keeps the exchanges in flight for shutdown.
 */
class Forwarder {
  readonly #o: ProxyOptions;
  readonly #core: ProxyCore;
  readonly #clock: () => number;
  readonly #targets: Record<'baseline' | 'candidate', ArmTarget>;
  // Separate connection pools: a stalled shadow must never hold a connection a primary is waiting for.
  readonly #primaryAgent: Agent;
  readonly #shadowAgent: Agent;
  readonly #keys: string[];
  readonly #primaries = new Map<Exchange, Promise<unknown>>();
  readonly #shadows = new Map<Exchange, Promise<unknown>>();
  closing = false;

  constructor(options: ProxyOptions, core: ProxyCore, clock: () => number) {
    this.#o = options;
    this.#core = core;
    this.#clock = clock;
    this.#targets = {
      baseline: target('baseline', options.baselineUrl, options.apiKeys.baseline),
      candidate: target('candidate', options.candidateUrl, options.apiKeys.candidate),
    };
    this.#primaryAgent = new Agent({ keepAliveTimeout: 30_000, connections: null });
    this.#shadowAgent = new Agent({ keepAliveTimeout: 30_000, connections: options.shadowMaxInflight });
    this.#keys = [options.apiKeys.baseline, options.apiKeys.candidate].filter((k): k is string => k !== null && k.length >= 6);
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const arrivalNs = this.#clock();
    let body: Buffer | null = null;
    if (hasBody(req.method)) {
      try {
        body = await readBody(req, this.#o.maxBodyBytes);
      } catch (error) {
        if (error instanceof BodyTooLarge && !res.headersSent) jsonError(res, 413, error.message, true);
        return; // the client went away mid-body otherwise
      }
    }
    if (this.closing) return jsonError(res, 503, 'proxy is shutting down', true);
    const request = classify(req.method, req.url, body);
    if (request.kind === 'pass') return this.#passThrough(req, res, body);

    const o = this.#o;
    const { api, parsed } = request;
    const { index, primary, shadowArm, shadow } = this.#core.admit(parsed);
    const streaming = parsed.stream === true;
    const itemId = itemIdOf(request.body);
    const headers = forwardedHeaders(req.headers);
    const secrets = requestSecrets(this.#keys, req.headers, req.url);
    const recorder = (arm: Arm) =>
      new ResponseRecorder(
        emptyRecord({ run_id: o.runId, arm, index, item_id: itemId, warmup: false, source: 'proxy', streaming, scheduled_ns: arrivalNs }),
        api,
        o.recordText,
        secrets,
        o.maxOutputBytes,
      );
    const forArm = (arm: Arm): ForwardedRequest => ({
      method: 'POST',
      path: req.url ?? '/',
      headers,
      body: armBody(o.models[arm as 'baseline' | 'candidate'], request.body, parsed),
    });
    // Primary first: the client's bytes start moving before any shadow work is done.
    const primaryEx = this.#start('primary', primary, forArm(primary), recorder(primary), clientSink(res));
    res.on('close', () => {
      if (!res.writableFinished) primaryEx.cancel('client disconnected');
    });
    if (shadow === 'sent') this.#start('shadow', shadowArm, forArm(shadowArm), recorder(shadowArm), null);
  }

  #start(role: 'primary' | 'shadow', arm: Arm, request: ForwardedRequest, recorder: ResponseRecorder, sink: ResponseSink | null): Exchange {
    const primary = role === 'primary';
    const ex = exchange(
      primary ? this.#primaryAgent : this.#shadowAgent,
      this.#targets[arm as 'baseline' | 'candidate'],
      request,
      recorder,
      {
        timeoutMs: primary ? this.#o.primaryTimeoutMs : this.#o.shadowTimeoutMs,
        clock: this.#clock,
        sink,
      },
    );
    const pending = primary ? this.#primaries : this.#shadows;
    pending.set(
      ex,
      ex.done.then((record) => {
        pending.delete(ex);
        this.#core.complete(record, role);
      }),
    );
    return ex;
  }

  /** Forwards without recording: other endpoints (/v1/models, ...) and bodies that are not JSON go to the baseline. */
  #passThrough(req: IncomingMessage, res: ServerResponse, body: Buffer | null): void {
    this.#core.passedThrough();
    const o = this.#o;
    const record = emptyRecord({
      run_id: o.runId,
      arm: BASELINE,
      index: 0,
      item_id: '',
      warmup: false,
      source: 'proxy',
      streaming: false,
      scheduled_ns: 0,
    });
    const ex = exchange(
      this.#primaryAgent,
      this.#targets.baseline,
      { method: req.method ?? 'GET', path: req.url ?? '/', headers: forwardedHeaders(req.headers), body },
      new ResponseRecorder(record, 'chat', false),
      { timeoutMs: o.primaryTimeoutMs, clock: this.#clock, sink: clientSink(res) },
    );
    res.on('close', () => {
      if (!res.writableFinished) ex.cancel('client disconnected');
    });
  }

  /** Lets in-flight exchanges finish until `deadline` (Date.now() ms), primaries first, then cancels the rest. */
  async drain(deadline: number): Promise<void> {
    for (const pending of [this.#primaries, this.#shadows]) {
      const left = deadline - Date.now();
      if (pending.size > 0 && left > 0) {
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([Promise.all(pending.values()), new Promise((r) => (timer = setTimeout(r, left)))]);
        clearTimeout(timer);
      }
      for (const ex of pending.keys()) ex.cancel('proxy shut down before the response finished');
      await Promise.all(pending.values());
    }
  }

  async close(): Promise<void> {
    await Promise.all([this.#primaryAgent.close(), this.#shadowAgent.close()]);
  }
}

async function listen(server: Server, host: string, port: number): Promise<void> {
  server.listen(port, host);
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
}

export async function startProxy(options: ProxyOptions): Promise<ProxyServer> {
  checkTimers(options);
  const originNs = process.hrtime.bigint();
  /** Monotonic ns since run start: the records' time base. */
  const clock = () => Number(process.hrtime.bigint() - originNs);
  const folder = await ProxyRunFolder.create(options.runDir, proxyManifest(options, originNs, new Date()), {
    log: options.log,
    ...(options.openJournal !== undefined && { open: options.openJournal }),
  });
  const records = new SafeRecords(options.recordSink ?? folder.records, {
    log: options.log,
    ...(options.recordRetryMs !== undefined && { retryMs: options.recordRetryMs }),
  });
  const core = new ProxyCore(options, folder, records, { monoNs: clock, nowMs: Date.now });
  const forwarder = new Forwarder(options, core, clock);
  const server: Server = createServer({ keepAliveTimeout: 65_000 }, (req, res) => {
    forwarder.handle(req, res).catch((error: unknown) => {
      options.log(`proxy: request failed inside the proxy: ${(error as Error).message}`);
      if (!res.headersSent) jsonError(res, 500, 'proxy internal error');
      else res.destroy();
    });
  });
  const checkTimer = setInterval(() => core.check(), options.checkIntervalMs);
  checkTimer.unref();

  let admin: AdminServer | null = null;
  try {
    await listen(server, options.host, options.port);
    if (options.admin !== null) {
      admin = await startAdmin({
        ...options.admin,
        controls: {
          state: () => core.state(),
          setWeight: (weight) => core.setWeight(weight),
          resetRollback: (weight) => core.resetRollback(weight),
        },
      });
    }
  } catch (error) {
    clearInterval(checkTimer);
    server.close();
    await folder.discard(); // nothing was served: no run folder left behind (one per failed attempt before)
    throw error;
  }
  core.started();

  let closing: Promise<void> | null = null;
  const close = (reason = 'closed') => {
    closing ??= (async () => {
      forwarder.closing = true;
      clearInterval(checkTimer);
      const serverClosed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      await forwarder.drain(Date.now() + options.drainTimeoutMs);
      server.closeAllConnections();
      await serverClosed;
      await admin?.close();
      await forwarder.close();
      const warnings = core.stopped(reason);
      try {
        await folder.close({ interrupted: reason === 'closed' ? null : reason, warnings });
      } catch (error) {
        const e = error as NodeJS.ErrnoException;
        options.log(`proxy: could not complete the run folder ${options.runDir} (${e.code ?? 'error'}: ${e.message})`);
      }
    })();
    return closing;
  };

  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return { url: `http://${host}:${address.port}`, adminUrl: admin?.url ?? null, runDir: options.runDir, state: () => core.state(), close };
}
