// Simulated OpenAI-compatible endpoint (vLLM's wire format) for development, tests and the demo.
//
// Latency model (sim/profiles.ts): TTFT = FIFO queueing for a decode slot + load × (base + prefill of
// the prompt tokens the prefix cache does not hold) × log-normal noise; each content chunk waits a
// log-normal ITL that also grows with load. The load is the number of requests whose simulated
// schedule (TTFT + all gaps, drawn when the request starts) has not ended: unlike the count of open
// responses it does not grow when the simulator's own event loop falls behind, which would feed back
// into ever longer latencies on a busy machine.
//
// Determinism: the answer text depends only on the prompt; divergence on seed + prompt; every other
// random choice (TTFT noise, ITL, faults) on seed + the request's arrival index at this server, so
// the same plan against the same seed replays the same latencies. TTFT noise is stratified: each block
// of 100 consecutive arrivals draws each percentile band of the noise once, in a seeded order, so a
// few hundred requests already show the calibrated P50/P99 instead of a sampling accident.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Api } from '../core/openai.ts';
import { derivedRandom, hash32 } from '../core/random.ts';
import { NoiseStrata, SimEngine, type EngineJob } from './engine.ts';
import { FrontendMetrics, PROMETHEUS_CONTENT_TYPE, renderDcgm, type FinishedReason } from './metrics.ts';
import { isProfileName, PROFILE_NAMES, PROFILES, type ProfileName, type SimProfile } from './profiles.ts';
import { createRouter } from './router.ts';
import { chatPromptTokens, completionPromptTokens, planOutput, promptKey, type Piece, type ReasoningField } from './text.ts';
import { ChunkWriter, errorBody, wholeResponse, type ErrorType, type ResponseIdentity } from './wire.ts';

export const DEFAULT_SIM_MODEL = 'meta-llama/Llama-3.1-8B-Instruct';
/** Output length cap when a request gives no max_tokens. */
export const DEFAULT_MAX_TOKENS = 128;
const MAX_BODY_BYTES = 32 * 1024 * 1024;

export const FAULT_KINDS = ['error', 'stall', 'disconnect', 'malformed'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];
export type ErrorStatus = 500 | 503 | 429;

export interface SimFaults {
  /** Share of requests answered with `errorStatus` (0-1). */
  errorRate?: number;
  /** 500, 503 or 429 (429 carries `retry-after`). Default 503. */
  errorStatus?: ErrorStatus;
  /** Share of requests that send headers (and maybe some content) and then never finish. */
  stallRate?: number;
  /** Share of streams whose socket is destroyed mid-stream. */
  disconnectRate?: number;
  /** Share of streams with one event that is not valid JSON. */
  malformedRate?: number;
}

export interface SimOptions {
  profile: ProfileName | SimProfile;
  host?: string;
  /** 0 (default) picks a free port. */
  port?: number;
  seed?: number;
  /** Served model name. */
  model?: string;
  faults?: SimFaults;
  /** Share of prompts answered with a perturbed text, reasoning and tool arguments (0-1, seeded). */
  divergenceRate?: number;
  /** Chat answers start with reasoning deltas under this key (sim/text.ts planOutput); absent = no reasoning. */
  reasoning?: ReasoningField;
  /** Multiplies every simulated delay; 0 writes each response at once (still one SSE event per chunk). */
  timeScale?: number;
  /** Ground-truth entries kept (oldest dropped first). */
  groundTruthCapacity?: number;
}

/** Server-side instants of one request, process.hrtime.bigint() values (CLOCK_MONOTONIC). */
export interface GroundTruth {
  received_mono_ns: bigint;
  first_content_mono_ns: bigint | null;
  last_content_mono_ns: bigint | null;
}

export interface SimServer {
  url: string;
  port: number;
  /**
   * The Prometheus targets of the deployment, as the metrics flags take them: `${url}/metrics` for a
   * single engine; for a multi-worker profile the frontend's /metrics, each worker's own metrics
   * port (identical `engine="0"` label sets, kvstats) and the node's DCGM exporter with the selector
   * that keeps the deployment's GPUs (it also reports a foreign pod's GPU).
   */
  metrics: string[];
  profile: SimProfile;
  model: string;
  close(): Promise<void>;
  groundTruth(requestId: string): GroundTruth | undefined;
}

/** The `x-sim-fault` request header: forces one fault (or none) on that request. */
export const FAULT_HEADER = 'x-sim-fault';
const HEADER_FAULTS = ['none', 'stall', 'disconnect', 'malformed', 'error', 'error-500', 'error-503', 'error-429'] as const;

interface Fault {
  kind: FaultKind;
  status: ErrorStatus;
  /** stall / disconnect / malformed: index of the content chunk it strikes before. */
  at: number;
}

interface Generation extends EngineJob {
  engine: SimEngine;
  api: Api;
  stream: boolean;
  includeUsage: boolean;
  writer: ChunkWriter;
  identity: ResponseIdentity;
  /** What each chunk carries: answer text, reasoning or a tool-call delta (sim/text.ts Piece). */
  chunks: Piece[];
  completionTokens: number;
  finishReason: 'stop' | 'length';
  fault: Fault | null;
  res: http.ServerResponse;
  truth: GroundTruth | undefined;
  /** Simulated delay before each content chunk after the first, ms (drawn at start). */
  gaps: Float64Array;
  receivedMs: number;
  /** The frontend counted it as queued (until its first token). */
  queued: boolean;
  timer: NodeJS.Timeout | null;
  /** Index of the next content chunk to write. */
  next: number;
  /** performance.now() at which the next chunk is due. */
  due: number;
  lastWriteMs: number;
}

class BadRequest extends Error {
  readonly status: number;
  readonly type: ErrorType;
  constructor(message: string, status = 400, type: ErrorType = 'BadRequestError') {
    super(message);
    this.status = status;
    this.type = type;
  }
}

function rate(name: string, value: number | undefined): number {
  const v = value ?? 0;
  if (!(v >= 0 && v <= 1)) throw new RangeError(`${name} must be between 0 and 1, got ${value}`);
  return v;
}

export function resolveProfile(profile: ProfileName | SimProfile): SimProfile {
  if (typeof profile !== 'string') return profile;
  if (!isProfileName(profile)) throw new RangeError(`unknown sim profile "${String(profile)}"; accepted: ${PROFILE_NAMES.join(', ')}`);
  return PROFILES[profile];
}

export async function startSim(options: SimOptions): Promise<SimServer> {
  const profile = resolveProfile(options.profile);
  const model = options.model ?? DEFAULT_SIM_MODEL;
  const seed = options.seed ?? 0;
  const timeScale = options.timeScale ?? 1;
  if (!(timeScale >= 0)) throw new RangeError(`timeScale must be ≥ 0, got ${timeScale}`);
  const faults = options.faults ?? {};
  const errorRate = rate('errorRate', faults.errorRate);
  const stallRate = rate('stallRate', faults.stallRate);
  const disconnectRate = rate('disconnectRate', faults.disconnectRate);
  const malformedRate = rate('malformedRate', faults.malformedRate);
  if (errorRate + stallRate + disconnectRate + malformedRate > 1) throw new RangeError('fault rates add up to more than 1');
  const errorStatus: ErrorStatus = faults.errorStatus ?? 503;
  if (![500, 503, 429].includes(errorStatus)) throw new RangeError(`errorStatus must be 500, 503 or 429, got ${errorStatus}`);
  const divergenceRate = rate('divergenceRate', options.divergenceRate);
  const truthCapacity = options.groundTruthCapacity ?? 200_000;
  /** Zero-delay mode: every chunk of a response goes out in one write. */
  const instantChunks = timeScale === 0 || profile.interTokenMs === 0;

  // The deployment: its engines (one for vLLM, `workers` behind a router for Dynamo), and for a
  // routed deployment the frontend's own metrics.
  const strata = new NoiseStrata(seed, profile.name);
  const engines = Array.from(
    { length: profile.workers },
    () => new SimEngine(profile, { seed, timeScale, now: () => performance.now(), instantChunks, strata }),
  );
  const router = profile.router === null ? null : createRouter(profile.router);
  const frontend = router === null ? null : new FrontendMetrics();
  const truths = new Map<string, GroundTruth>();
  const active = new Set<Generation>();
  let arrivals = 0;
  let closing = false;

  function chooseFault(random: () => number, forced: string | undefined): Fault | null {
    const u = random();
    const position = random();
    let kind: FaultKind | null = null;
    let status = errorStatus;
    if (forced !== undefined) {
      if (forced.startsWith('error')) {
        kind = 'error';
        if (forced !== 'error') status = Number(forced.slice(6)) as ErrorStatus;
      } else if (forced !== 'none') kind = forced as FaultKind;
    } else if (u < errorRate) kind = 'error';
    else if (u < errorRate + stallRate) kind = 'stall';
    else if (u < errorRate + stallRate + disconnectRate) kind = 'disconnect';
    else if (u < errorRate + stallRate + disconnectRate + malformedRate) kind = 'malformed';
    return kind === null ? null : { kind, status, at: position };
  }

  // ---- request handling ----
  function sendJson(res: http.ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...headers });
    res.end(body);
  }

  function sendError(
    res: http.ServerResponse,
    status: number,
    type: ErrorType,
    message: string,
    headers: Record<string, string> = {},
  ): void {
    sendJson(res, status, errorBody(message, type, status), headers);
  }

  function parseCompletion(api: Api, raw: Buffer): { body: Record<string, unknown>; tokens: string[] } {
    let body: unknown;
    try {
      body = JSON.parse(raw.toString('utf8'));
    } catch (error) {
      throw new BadRequest(`JSON decode error: ${(error as Error).message}`);
    }
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new BadRequest('request body must be a JSON object');
    const b = body as Record<string, unknown>;
    if (b.model !== undefined && b.model !== null && b.model !== model) {
      throw new BadRequest(`The model \`${String(b.model)}\` does not exist.`, 404, 'NotFoundError');
    }
    if (b.n !== undefined && b.n !== null && b.n !== 1) throw new BadRequest('n: the simulator answers one choice per request (n = 1)');
    let tokens: string[];
    if (api === 'chat') {
      const messages = b.messages;
      if (!Array.isArray(messages) || messages.length === 0)
        throw new BadRequest('messages: expected a non-empty array of {role, content}');
      for (const [i, m] of messages.entries()) {
        if (typeof m !== 'object' || m === null || typeof (m as { role?: unknown }).role !== 'string') {
          throw new BadRequest(`messages[${i}]: expected an object with a string "role"`);
        }
      }
      tokens = chatPromptTokens(messages as Array<{ role: string; content: unknown }>);
    } else {
      let prompt = b.prompt;
      if (Array.isArray(prompt) && prompt.length === 1) prompt = prompt[0];
      if (typeof prompt === 'string') tokens = completionPromptTokens(prompt);
      else if (Array.isArray(prompt) && prompt.every((t) => Number.isInteger(t))) tokens = prompt.map(String);
      else throw new BadRequest('prompt: expected a string, a one-element array of strings, or an array of token ids');
    }
    return { body: b, tokens };
  }

  function intField(b: Record<string, unknown>, name: string, min: number): number | undefined {
    const v = b[name];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min)
      throw new BadRequest(`${name}: expected an integer ≥ ${min}, got ${JSON.stringify(v)}`);
    return v;
  }

  function handleCompletion(
    api: Api,
    req: http.IncomingMessage,
    res: http.ServerResponse,
    raw: Buffer,
    receivedNs: bigint | null,
    receivedMs: number,
  ): void {
    const forced = req.headers[FAULT_HEADER];
    if (forced !== undefined && !(HEADER_FAULTS as readonly string[]).includes(String(forced))) {
      sendError(res, 400, 'BadRequestError', `${FAULT_HEADER}: got "${String(forced)}"; accepted: ${HEADER_FAULTS.join(', ')}`);
      return;
    }
    const { body, tokens } = parseCompletion(api, raw);
    const maxTokens = intField(body, 'max_completion_tokens', 1) ?? intField(body, 'max_tokens', 1) ?? DEFAULT_MAX_TOKENS;
    const minTokens = Math.min(intField(body, 'min_tokens', 0) ?? 0, maxTokens);
    const ignoreEos = body.ignore_eos === true;
    const stream = body.stream === true;
    const streamOptions = body.stream_options;
    const includeUsage =
      stream &&
      typeof streamOptions === 'object' &&
      streamOptions !== null &&
      (streamOptions as { include_usage?: unknown }).include_usage === true;

    const index = arrivals++;
    const random = derivedRandom(seed, `request:${index}`);
    const engine = engines[router === null ? 0 : router.pick(tokens, engines)] as SimEngine;
    const metrics = engine.metrics;
    const fault = chooseFault(random, forced === undefined ? undefined : String(forced));
    const requestId = req.headers['x-request-id'];
    let truth: GroundTruth | undefined;
    if (typeof requestId === 'string' && receivedNs !== null) {
      truth = { received_mono_ns: receivedNs, first_content_mono_ns: null, last_content_mono_ns: null };
      truths.delete(requestId);
      truths.set(requestId, truth);
      if (truths.size > truthCapacity) truths.delete(truths.keys().next().value as string);
    }
    if (fault?.kind === 'error') {
      metrics.countFault(`error-${fault.status}`);
      const message =
        fault.status === 429
          ? 'Too many requests (simulated)'
          : fault.status === 503
            ? 'Service unavailable (simulated)'
            : 'Internal server error (simulated)';
      const type: ErrorType =
        fault.status === 429 ? 'RateLimitError' : fault.status === 503 ? 'ServiceUnavailableError' : 'InternalServerError';
      frontend?.countRequest(stream, api, 'error');
      sendError(res, fault.status, type, message, fault.status === 429 ? { 'retry-after': '1' } : {});
      return;
    }

    const key = promptKey(tokens);
    const { pieces: chunks, ...length } = planOutput({
      body,
      chat: api === 'chat',
      key,
      seed,
      divergenceRate,
      length: { maxTokens, minTokens, ignoreEos },
      tokensPerChunk: profile.tokensPerChunk,
      reasoning: options.reasoning ?? null,
    });
    const cachedTokens = engine.lookup(tokens);

    const base =
      typeof requestId === 'string' && requestId !== ''
        ? requestId
        : `${(hash32(`${seed}:${profile.name}`) >>> 0).toString(16)}${index.toString(16).padStart(8, '0')}`;
    const identity: ResponseIdentity = {
      api,
      id: `${api === 'chat' ? 'chatcmpl' : 'cmpl'}-${base}`,
      created: Math.floor(Date.now() / 1000),
      model,
    };
    if (fault !== null) {
      // stall: before a chunk in the first half (0 = only headers / role); disconnect: after at least one
      // chunk; malformed: anywhere.
      const n = chunks.length;
      fault.at =
        fault.kind === 'stall'
          ? Math.floor(fault.at * (Math.floor(n / 2) + 1))
          : fault.kind === 'disconnect'
            ? 1 + Math.floor(fault.at * Math.max(1, Math.floor(n / 2)))
            : Math.floor(fault.at * n);
      metrics.countFault(fault.kind);
    }
    const gen: Generation = {
      index,
      engine,
      chunkCount: chunks.length,
      queued: frontend !== null,
      onStart: (ttft, gaps) => start(gen, ttft, gaps),
      api,
      stream,
      includeUsage,
      writer: new ChunkWriter(identity),
      identity,
      chunks,
      completionTokens: length.completionTokens,
      finishReason: length.finishReason,
      promptTokens: tokens.length,
      cachedTokens,
      fault,
      res,
      truth,
      random,
      gaps: new Float64Array(0),
      receivedMs,
      state: 'waiting',
      timer: null,
      next: 0,
      due: 0,
      lastWriteMs: 0,
    };
    active.add(gen);
    if (frontend !== null) {
      frontend.inflight++;
      frontend.queued++;
      frontend.isl.observe(tokens.length);
    }
    res.on('close', () => {
      if (gen.state !== 'done') abandon(gen);
    });
    engine.submit(gen);
  }

  /** The engine gave the request a decode slot: schedule its first chunk. */
  function start(gen: Generation, ttft: number, gaps: Float64Array): void {
    gen.gaps = gaps;
    const now = performance.now();
    gen.due = now + ttft;
    if (ttft <= 0) emit(gen);
    else gen.timer = setTimeout(emit, Math.max(0, gen.due - performance.now()), gen);
  }

  function hrNow(): bigint {
    return process.hrtime.bigint();
  }

  /** Writes what is due now (one chunk, or all of them in zero-delay mode) and schedules the next. */
  function firstToken(gen: Generation, now: number): void {
    gen.engine.metrics.ttft.observe((now - gen.receivedMs) / 1000);
    if (frontend !== null && gen.queued) {
      gen.queued = false;
      frontend.queued--;
      frontend.ttft.observe((now - gen.receivedMs) / 1000);
    }
  }

  function emit(gen: Generation): void {
    gen.timer = null;
    if (gen.state !== 'running') return;
    const metrics = gen.engine.metrics;
    const res = gen.res;
    const now = performance.now();
    if (!gen.stream) return emitWhole(gen, now);
    let out = '';
    if (gen.next === 0) {
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache',
        ...(gen.truth ? { 'x-request-id': res.req.headers['x-request-id'] as string } : {}),
      });
      firstToken(gen, now);
      if (gen.api === 'chat') out = gen.writer.role();
    } else {
      metrics.itl.observe((now - gen.lastWriteMs) / 1000);
      frontend?.itl.observe((now - gen.lastWriteMs) / 1000);
    }
    const fault = gen.fault;
    const n = gen.chunks.length;
    for (;;) {
      const i = gen.next;
      if (fault !== null && fault.at === i) {
        if (fault.kind === 'stall') {
          if (out !== '') res.write(out);
          gen.lastWriteMs = now;
          return; // never finishes: the slot stays taken until the client gives up or the server closes
        }
        if (fault.kind === 'disconnect') {
          const socket = res.socket;
          if (out !== '') res.write(out, () => socket?.destroy());
          else socket?.destroy();
          return; // 'close' then releases the slot
        }
        if (fault.kind === 'malformed') out += gen.writer.malformed();
      }
      const last = i === n - 1;
      if (gen.truth) {
        if (i === 0) gen.truth.first_content_mono_ns = hrNow();
        if (last)
          gen.truth.last_content_mono_ns = gen.truth.first_content_mono_ns !== null && i === 0 ? gen.truth.first_content_mono_ns : hrNow();
      }
      out += gen.writer.piece(gen.chunks[i] as Piece, last ? gen.finishReason : null);
      metrics.generationTokens += countTokens(gen, i);
      gen.next = i + 1;
      if (last) {
        if (gen.includeUsage)
          out += gen.writer.usage({ prompt: gen.promptTokens, completion: gen.completionTokens, cached: gen.cachedTokens });
        out += ChunkWriter.done();
        if (n > 1 && instantChunks) {
          metrics.itl.observe(0, n - 1);
          frontend?.itl.observe(0, n - 1);
        }
        gen.lastWriteMs = now;
        finish(gen, gen.finishReason);
        res.end(out);
        return;
      }
      if (!instantChunks) break;
    }
    res.write(out);
    gen.lastWriteMs = now;
    gen.due += gen.gaps[gen.next - 1] as number;
    gen.timer = setTimeout(emit, Math.max(0, gen.due - performance.now()), gen);
  }

  function countTokens(gen: Generation, chunk: number): number {
    const per = Math.max(1, Math.floor(profile.tokensPerChunk));
    return Math.min(per, gen.completionTokens - chunk * per);
  }

  /** Non-streaming: the whole answer after TTFT plus every chunk's gap. */
  function emitWhole(gen: Generation, now: number): void {
    const metrics = gen.engine.metrics;
    if (gen.next === 0 && !instantChunks && gen.chunks.length > 1) {
      // Wait out the decode time first, as the server would.
      let total = 0;
      for (const g of gen.gaps) total += g;
      gen.next = 1;
      firstToken(gen, now);
      gen.due += total;
      gen.timer = setTimeout(emit, Math.max(0, gen.due - performance.now()), gen);
      return;
    }
    if (gen.next === 0) firstToken(gen, now);
    const fault = gen.fault;
    if (fault?.kind === 'stall') return;
    if (fault?.kind === 'disconnect') {
      gen.res.socket?.destroy();
      return;
    }
    if (gen.truth) gen.truth.first_content_mono_ns = gen.truth.last_content_mono_ns = hrNow();
    const u = { prompt: gen.promptTokens, completion: gen.completionTokens, cached: gen.cachedTokens };
    let body = wholeResponse(gen.identity, gen.chunks, gen.finishReason, u);
    if (fault?.kind === 'malformed') body = body.slice(0, Math.floor(body.length / 2));
    metrics.generationTokens += gen.completionTokens;
    finish(gen, gen.finishReason);
    sendJson(gen.res, 200, body);
  }

  function finish(gen: Generation, reason: FinishedReason): void {
    active.delete(gen);
    if (gen.timer !== null) clearTimeout(gen.timer);
    gen.timer = null;
    const now = performance.now();
    const { wasRunning } = gen.engine.release(gen, reason);
    if (wasRunning && reason !== 'abort') gen.engine.metrics.e2e.observe((now - gen.receivedMs) / 1000);
    if (frontend !== null) {
      frontend.inflight--;
      if (gen.queued) frontend.queued--;
      gen.queued = false;
      if (reason !== 'abort') {
        frontend.duration.observe((now - gen.receivedMs) / 1000);
        frontend.osl.observe(gen.completionTokens);
        frontend.outputTokens += gen.completionTokens;
        frontend.countRequest(gen.stream, gen.api, 'success');
      } else frontend.countRequest(gen.stream, gen.api, 'error');
    }
  }

  function abandon(gen: Generation): void {
    finish(gen, 'abort');
  }

  // ---- other endpoints ----
  /** The single engine's /metrics (vLLM names plus a simulated DCGM gauge), or the Dynamo frontend's. */
  function renderMetrics(): string {
    if (frontend !== null)
      return frontend.render(
        model,
        engines.reduce((a, e) => a + e.kvBlocks().total, 0),
      );
    const engine = engines[0] as SimEngine;
    return engine.metrics.render(model, engine.live());
  }

  function modelsBody(): string {
    const created = Math.floor(Date.now() / 1000);
    return JSON.stringify({
      object: 'list',
      data: [{ id: model, object: 'model', created, owned_by: 'vllm', root: model, parent: null, max_model_len: 131072, permission: [] }],
    });
  }

  function groundTruthJson(id: string): string | null {
    const t = truths.get(id);
    if (t === undefined) return null;
    const s = (v: bigint | null) => (v === null ? null : v.toString());
    return JSON.stringify({
      id,
      received_mono_ns: s(t.received_mono_ns),
      first_content_mono_ns: s(t.first_content_mono_ns),
      last_content_mono_ns: s(t.last_content_mono_ns),
    });
  }

  const server = http.createServer({ keepAliveTimeout: 65_000, requestTimeout: 0, headersTimeout: 60_000 }, (req, res) => {
    const receivedNs = req.headers['x-request-id'] !== undefined ? process.hrtime.bigint() : null;
    const receivedMs = performance.now();
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    const api: Api | null = path === '/v1/chat/completions' ? 'chat' : path === '/v1/completions' ? 'completions' : null;
    if (api !== null) {
      if (req.method !== 'POST') return sendJson(res, 405, JSON.stringify({ detail: 'Method Not Allowed' }), { allow: 'POST' });
      const parts: Buffer[] = [];
      let size = 0;
      req.on('data', (b: Buffer) => {
        size += b.length;
        if (size <= MAX_BODY_BYTES) parts.push(b);
      });
      req.on('end', () => {
        if (closing) return sendError(res, 503, 'ServiceUnavailableError', 'server is shutting down');
        if (size > MAX_BODY_BYTES) return sendError(res, 413, 'BadRequestError', `request body larger than ${MAX_BODY_BYTES} bytes`);
        try {
          handleCompletion(api, req, res, parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts), receivedNs, receivedMs);
        } catch (error) {
          if (error instanceof BadRequest) sendError(res, error.status, error.type, error.message);
          else sendError(res, 500, 'InternalServerError', `simulator bug: ${(error as Error).message}`);
        }
      });
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      const known = ['/health', '/v1/models', '/metrics', '/sim/ground-truth'].includes(path);
      return sendJson(res, known ? 405 : 404, JSON.stringify({ detail: known ? 'Method Not Allowed' : 'Not Found' }));
    }
    req.resume();
    switch (path) {
      case '/health':
        res.writeHead(200, { 'content-length': 0 });
        return void res.end();
      case '/v1/models':
        return sendJson(res, 200, modelsBody());
      case '/metrics': {
        const text = renderMetrics();
        res.writeHead(200, { 'content-type': PROMETHEUS_CONTENT_TYPE, 'content-length': Buffer.byteLength(text) });
        return void res.end(text);
      }
      case '/sim/ground-truth': {
        const id = new URL(url, 'http://sim').searchParams.get('id');
        if (id === null) return sendError(res, 400, 'BadRequestError', 'id: required, the x-request-id of the request');
        const body = groundTruthJson(id);
        return body === null ? sendError(res, 404, 'NotFoundError', `no ground truth for request id "${id}"`) : sendJson(res, 200, body);
      }
      default:
        return sendJson(res, 404, JSON.stringify({ detail: 'Not Found' }));
    }
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const side = frontend === null ? [] : await startSideServers(options.host ?? '127.0.0.1', engines, model);

  return {
    url: `http://${host}:${address.port}`,
    port: address.port,
    metrics: [`http://${host}:${address.port}/metrics`, ...side.map((x) => x.url)],
    profile,
    model,
    groundTruth: (id) => truths.get(id),
    close: async () => {
      closing = true;
      for (const gen of [...active]) {
        if (gen.timer !== null) clearTimeout(gen.timer);
        gen.timer = null;
        gen.res.socket?.destroy();
        if (gen.state !== 'done') finish(gen, 'abort');
      }
      for (const engine of engines) engine.clearQueue();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await Promise.all([closed, ...side.map((x) => x.close())]);
    },
  };
}

/** Namespace and pod names of the simulated Dynamo workers as the DCGM endpoint labels their GPUs. */
export const SIM_NAMESPACE = 'sim';
export const SIM_WORKER_POD = (i: number) => `dynamo-worker-${i}`;
/** The selector the load command puts on the simulated DCGM endpoint (its foreign GPU is another job's). */
export const SIM_DCGM_SELECTOR = `{namespace="${SIM_NAMESPACE}",pod=~"dynamo-worker-.*"}`;

/** A metrics-only HTTP server on port 0 (`/metrics`, `/health`). */
async function metricsServer(host: string, render: () => string): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    req.resume();
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/health') {
      res.writeHead(200, { 'content-length': 0 });
      return void res.end();
    }
    if (path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'application/json' });
      return void res.end(JSON.stringify({ detail: 'Not Found' }));
    }
    const text = render();
    res.writeHead(200, { 'content-type': PROMETHEUS_CONTENT_TYPE, 'content-length': Buffer.byteLength(text) });
    res.end(text);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve());
  });
  const a = server.address() as AddressInfo;
  return {
    url: `http://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}/metrics`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/**
 * The worker pods' system ports (each its own vLLM exposition with `engine="0"` and the same model
 * name, `_created` families and kvstats, as a Dynamo vLLM worker serves them) and the node's DCGM
 * exporter (the workers' GPUs plus one of another job, which the selector keeps out).
 */
async function startSideServers(
  host: string,
  engines: readonly SimEngine[],
  model: string,
): Promise<Array<{ url: string; close(): Promise<void> }>> {
  const created = Date.now() / 1000;
  const out: Array<{ url: string; close(): Promise<void> }> = [];
  try {
    for (const engine of engines)
      out.push(
        await metricsServer(host, () =>
          engine.metrics.render(model, engine.live(), { engine: '0', created, dcgm: false, kvstats: engine.kvBlocks() }),
        ),
      );
    const dcgm = await metricsServer(host, () =>
      renderDcgm([
        ...engines.map((e, i) => ({ gpu: i, pod: SIM_WORKER_POD(i), namespace: SIM_NAMESPACE, util: e.gpuUtilPercent() })),
        { gpu: engines.length, pod: 'other-job', namespace: 'research', util: 100 },
      ]),
    );
    out.push({ url: dcgm.url + SIM_DCGM_SELECTOR, close: dcgm.close });
  } catch (error) {
    await Promise.all(out.map((x) => x.close()));
    throw error;
  }
  return out;
}
