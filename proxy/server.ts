// The live shadow proxy: an OpenAI-compatible reverse proxy that answers every request from the
// primary arm (baseline, or the candidate for the `weight` share of traffic), passing its bytes
// through as they arrive, and sends the same request to the other arm as a fire-and-forget shadow.
// Both responses become records in a run folder, paired by index, so the offline analysis reads
// live traffic like a replay. A periodic check applies the rollback triggers and latches weight 0.
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createHash } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { Agent } from 'undici';
import { BASELINE, CANDIDATE, emptyRecord, RECORD_SCHEMA_VERSION, type Arm, type RequestRecord } from '../core/record.ts';
import { RUN_MANIFEST_VERSION, redactUrl, type RunManifest } from '../core/run.ts';
import type { Api } from '../core/openai.ts';
import { derivedRandom } from '../core/random.ts';
import { startAdmin, type AdminServer } from './admin.ts';
import { evaluateRollback, type RollbackDecision, type RollbackThresholds } from './rollback.ts';
import { ProxyRunFolder } from './run-folder.ts';
import { ResponseRecorder } from './response-recorder.ts';
import type { WeightSchedule } from './schedule.ts';
import { choosePrimary, TrafficControl } from './traffic.ts';
import { exchange, HOP_BY_HOP, type ArmTarget, type Exchange, type ForwardedRequest, type ResponseSink } from './upstream.ts';
import { SlidingWindow, type WindowStats } from './window.ts';

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
}

export interface ArmTotals {
  primary: number;
  shadow: number;
  ok: number;
  failed: number;
  timeouts: number;
  cancelled: number;
}

export interface ProxyTotals {
  requests: number;
  /** Requests forwarded without a record (not a completions endpoint, or a body that is not JSON). */
  unrecorded: number;
  shadow_dropped: number;
  shadow_inflight: number;
  primary_inflight: number;
  baseline: ArmTotals;
  candidate: ArmTotals;
}

export interface ProxyState {
  run_id: string;
  run_dir: string;
  weight: number;
  source: 'manual' | 'schedule';
  requested_weight: number;
  schedule: unknown;
  rolled_back: boolean;
  reason: string | null;
  rollback: { at: string; reasons: string[] } | null;
  check_interval_ms: number;
  last_check: { at: string; trigger: boolean; reasons: string[]; skipped: string[] } | null;
  window: WindowStats;
  totals: ProxyTotals;
}

export interface ProxyServer {
  url: string;
  adminUrl: string | null;
  runDir: string;
  state(): ProxyState;
  /** Stops accepting, lets in-flight requests finish (bounded by drainTimeoutMs), flushes records, completes run.json. */
  close(reason?: string): Promise<void>;
}

const COMPLETION_PATHS: Record<string, Api> = { '/v1/chat/completions': 'chat', '/v1/completions': 'completions' };

function target(arm: Arm, url: string, apiKey: string | null): ArmTarget {
  const u = new URL(url);
  return { arm, origin: u.origin, pathPrefix: u.pathname.replace(/\/+$/, ''), apiKey };
}

function forwardedHeaders(headers: IncomingHttpHeaders): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined && !HOP_BY_HOP.has(name)) out[name] = value;
  }
  return out;
}

function responseHeaders(headers: IncomingHttpHeaders): Record<string, string | string[]> {
  const out = forwardedHeaders(headers);
  // The body is forwarded byte for byte, so the upstream's length still holds.
  if (headers['content-length'] !== undefined) out['content-length'] = headers['content-length'];
  return out;
}

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

const emptyTotals = (): ArmTotals => ({ primary: 0, shadow: 0, ok: 0, failed: 0, timeouts: 0, cancelled: 0 });

export async function startProxy(options: ProxyOptions): Promise<ProxyServer> {
  const originNs = process.hrtime.bigint();
  /** Monotonic ns since run start: the records' time base. */
  const clock = () => Number(process.hrtime.bigint() - originNs);
  const monoMs = () => clock() / 1e6;
  const startedAt = new Date();

  const targets: Record<string, ArmTarget> = {
    [BASELINE]: target(BASELINE, options.baselineUrl, options.apiKeys.baseline),
    [CANDIDATE]: target(CANDIDATE, options.candidateUrl, options.apiKeys.candidate),
  };
  // Separate connection pools: a stalled shadow must never hold a connection a primary is waiting for.
  const primaryAgent = new Agent({ keepAliveTimeout: 30_000, connections: null });
  const shadowAgent = new Agent({ keepAliveTimeout: 30_000, connections: options.shadowMaxInflight });

  const traffic = new TrafficControl({
    weight: options.weight,
    schedule: options.schedule,
    dayMs: options.scheduleDayMs,
    nowMs: startedAt.getTime(),
  });
  const window = new SlidingWindow(options.windowMs);
  const draw = derivedRandom(options.seed, 'proxy-routing');
  const secrets = [options.apiKeys.baseline, options.apiKeys.candidate].filter((k): k is string => k !== null && k.length >= 6);

  const manifest: RunManifest = {
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
  const folder = await ProxyRunFolder.create(options.runDir, manifest);

  let nextIndex = 0;
  const totals: ProxyTotals = {
    requests: 0,
    unrecorded: 0,
    shadow_dropped: 0,
    shadow_inflight: 0,
    primary_inflight: 0,
    baseline: emptyTotals(),
    candidate: emptyTotals(),
  };
  const primaries = new Map<Exchange, Promise<unknown>>();
  const shadows = new Map<Exchange, Promise<unknown>>();
  let lastCheck: ProxyState['last_check'] = null;
  let lastWeight = traffic.weight(Date.now());
  let closing: Promise<void> | null = null;

  const complete = (record: RequestRecord, role: 'primary' | 'shadow') => {
    folder.records.write(record);
    window.add(record, monoMs());
    const t = totals[record.arm as 'baseline' | 'candidate'];
    t[role]++;
    const kind = record.outcome.kind;
    if (kind === 'ok') t.ok++;
    else if (kind === 'cancelled') t.cancelled++;
    else t.failed++;
    if (kind === 'timeout') t.timeouts++;
  };

  const armBody = (arm: Arm, raw: Buffer, parsed: Record<string, unknown>): Buffer => {
    const model = options.models[arm as 'baseline' | 'candidate'];
    return model === null ? raw : Buffer.from(JSON.stringify({ ...parsed, model }));
  };

  /** Forwards without recording: other endpoints (/v1/models, ...) and bodies that are not JSON go to the baseline. */
  const passThrough = (req: IncomingMessage, res: ServerResponse, body: Buffer | null) => {
    totals.unrecorded++;
    const record = emptyRecord({
      run_id: options.runId,
      arm: BASELINE,
      index: 0,
      item_id: '',
      warmup: false,
      source: 'proxy',
      streaming: false,
      scheduled_ns: 0,
    });
    const ex = exchange(
      primaryAgent,
      targets[BASELINE] as ArmTarget,
      { method: req.method ?? 'GET', path: req.url ?? '/', headers: forwardedHeaders(req.headers), body },
      new ResponseRecorder(record, 'chat', false),
      {
        timeoutMs: options.primaryTimeoutMs,
        clock,
        sink: clientSink(res),
      },
    );
    res.on('close', () => {
      if (!res.writableFinished) ex.cancel('client disconnected');
    });
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const arrivalNs = clock();
    const path = (req.url ?? '/').split('?')[0] as string;
    const api = req.method === 'POST' ? COMPLETION_PATHS[path] : undefined;
    let body: Buffer | null = null;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      try {
        body = await readBody(req, options.maxBodyBytes);
      } catch (error) {
        if (error instanceof BodyTooLarge && !res.headersSent) {
          const text = JSON.stringify({ error: { message: error.message, type: 'proxy_error' } });
          res.writeHead(413, { 'content-type': 'application/json', connection: 'close' });
          res.end(text);
        }
        return; // the client went away mid-body otherwise
      }
    }
    if (closing !== null) {
      res.writeHead(503, { 'content-type': 'application/json', connection: 'close' });
      res.end(JSON.stringify({ error: { message: 'proxy is shutting down', type: 'proxy_error' } }));
      return;
    }
    let parsed: Record<string, unknown> | null = null;
    if (api !== undefined && body !== null) {
      try {
        const value: unknown = JSON.parse(body.toString('utf8'));
        if (typeof value === 'object' && value !== null && !Array.isArray(value)) parsed = value as Record<string, unknown>;
      } catch {
        // not JSON: the upstream will say so to the client; nothing to compare
      }
    }
    if (api === undefined || body === null || parsed === null) {
      passThrough(req, res, body);
      return;
    }

    const index = nextIndex++;
    totals.requests++;
    const weight = traffic.weight(Date.now());
    const primary = choosePrimary(weight, typeof parsed.user === 'string' ? parsed.user : null, options.seed, draw);
    const shadowArm = primary === BASELINE ? CANDIDATE : BASELINE;
    const streaming = parsed.stream === true;
    // A stable id for the prompt without writing it: the same body hashes to the same item across runs.
    const itemId = 'body-' + createHash('sha256').update(body).digest('hex').slice(0, 16);
    const headers = forwardedHeaders(req.headers);
    const newRecorder = (arm: Arm) =>
      new ResponseRecorder(
        emptyRecord({
          run_id: options.runId,
          arm,
          index,
          item_id: itemId,
          warmup: false,
          source: 'proxy',
          streaming,
          scheduled_ns: arrivalNs,
        }),
        api,
        options.recordText,
        secrets,
        options.maxOutputBytes,
      );
    const forArm = (arm: Arm): ForwardedRequest => ({ method: 'POST', path: req.url ?? path, headers, body: armBody(arm, body, parsed) });

    // Primary first: the client's bytes start moving before any shadow work is done.
    const primaryEx = exchange(primaryAgent, targets[primary] as ArmTarget, forArm(primary), newRecorder(primary), {
      timeoutMs: options.primaryTimeoutMs,
      clock,
      sink: clientSink(res),
    });
    totals.primary_inflight++;
    res.on('close', () => {
      if (!res.writableFinished) primaryEx.cancel('client disconnected');
    });
    primaries.set(
      primaryEx,
      primaryEx.done.then((record) => {
        totals.primary_inflight--;
        primaries.delete(primaryEx);
        complete(record, 'primary');
      }),
    );

    let shadowState: 'sent' | 'dropped' | 'off' = 'off';
    if (options.shadow) {
      if (totals.shadow_inflight >= options.shadowMaxInflight) {
        shadowState = 'dropped';
        totals.shadow_dropped++;
      } else {
        shadowState = 'sent';
        totals.shadow_inflight++;
        const shadowEx = exchange(shadowAgent, targets[shadowArm] as ArmTarget, forArm(shadowArm), newRecorder(shadowArm), {
          timeoutMs: options.shadowTimeoutMs,
          clock,
          sink: null,
        });
        shadows.set(
          shadowEx,
          shadowEx.done.then((record) => {
            totals.shadow_inflight--;
            shadows.delete(shadowEx);
            complete(record, 'shadow');
          }),
        );
      }
    }
    folder.route({ index, primary, weight, shadow: shadowState });
  };

  const server: Server = createServer({ keepAliveTimeout: 65_000 }, (req, res) => {
    handle(req, res).catch((error: unknown) => {
      options.log(`proxy: request failed inside the proxy: ${(error as Error).message}`);
      if (!res.headersSent) {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { message: 'proxy internal error', type: 'proxy_error' } }));
      } else res.destroy();
    });
  });

  const state = (): ProxyState => {
    const nowMs = Date.now();
    const snap = traffic.snapshot(nowMs);
    return {
      run_id: options.runId,
      run_dir: options.runDir,
      weight: snap.weight,
      source: snap.source,
      requested_weight: snap.requested_weight,
      schedule: snap.schedule,
      rolled_back: snap.rolled_back,
      reason: snap.rollback?.reasons.join('; ') ?? null,
      rollback: snap.rollback,
      check_interval_ms: options.checkIntervalMs,
      last_check: lastCheck,
      window: window.stats(monoMs()),
      totals: structuredClone(totals),
    };
  };

  const noteWeight = (source: 'manual' | 'schedule' | 'admin') => {
    const weight = traffic.weight(Date.now());
    if (weight !== lastWeight) {
      lastWeight = weight;
      folder.event({ event: 'weight', weight, source }, clock());
      options.log(`proxy: candidate weight now ${weight} (${source})`);
    }
  };

  const check = (): RollbackDecision => {
    const stats = window.stats(monoMs());
    const decision = evaluateRollback(stats, options.thresholds);
    lastCheck = { at: new Date().toISOString(), trigger: decision.trigger, reasons: decision.reasons, skipped: decision.skipped };
    if (decision.trigger && traffic.rollback(decision.reasons, lastCheck.at)) {
      folder.event({ event: 'rollback', reasons: decision.reasons, window: stats }, clock());
      options.log(`proxy: ROLLBACK — candidate weight set to 0 until an operator resets it: ${decision.reasons.join('; ')}`);
    }
    noteWeight(traffic.snapshot(Date.now()).source);
    return decision;
  };
  const checkTimer = setInterval(check, options.checkIntervalMs);
  checkTimer.unref();

  let admin: AdminServer | null = null;
  server.listen(options.port, options.host);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('listening', resolve);
      server.once('error', reject);
    });
    if (options.admin !== null) {
      admin = await startAdmin({
        ...options.admin,
        controls: {
          state,
          setWeight(weight) {
            traffic.setWeight(weight);
            noteWeight('admin');
          },
          resetRollback(weight) {
            traffic.resetRollback(weight);
            window.clear();
            folder.event({ event: 'rollback_reset', weight: traffic.weight(Date.now()) }, clock());
            options.log('proxy: rollback reset by operator');
            noteWeight('admin');
          },
        },
      });
    }
  } catch (error) {
    clearInterval(checkTimer);
    server.close();
    await folder.discard(); // nothing was served: no run folder left behind (one per failed attempt before)
    throw error;
  }
  folder.event({ event: 'started', weight: lastWeight, source: traffic.snapshot(Date.now()).source }, clock());

  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;

  const drain = async (pending: Map<Exchange, Promise<unknown>>, deadline: number) => {
    const left = deadline - Date.now();
    if (pending.size > 0 && left > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([Promise.all(pending.values()), new Promise((r) => (timer = setTimeout(r, left)))]);
      clearTimeout(timer);
    }
    for (const ex of pending.keys()) ex.cancel('proxy shut down before the response finished');
    await Promise.all(pending.values());
  };

  const close = (reason = 'closed') => {
    closing ??= (async () => {
      clearInterval(checkTimer);
      const serverClosed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const deadline = Date.now() + options.drainTimeoutMs;
      await drain(primaries, deadline);
      await drain(shadows, deadline);
      server.closeAllConnections();
      await serverClosed;
      await admin?.close();
      await Promise.all([primaryAgent.close(), shadowAgent.close()]);
      folder.event({ event: 'stopped', reason, totals }, clock());
      const warnings: string[] = [];
      if (totals.shadow_dropped > 0) {
        warnings.push(
          `${totals.shadow_dropped} shadow requests were dropped because ${options.shadowMaxInflight} were already in flight (--shadow-max-inflight); those requests have a record for the primary only`,
        );
      }
      await folder.close({ interrupted: reason === 'closed' ? null : reason, warnings });
    })();
    return closing;
  };

  return { url: `http://${host}:${address.port}`, adminUrl: admin?.url ?? null, runDir: options.runDir, state, close };
}
