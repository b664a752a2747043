// One sending thread's share of the run: the requests whose index ≡ offset (mod stride), each sent
// to every arm back to back at its planned instant (open loop: a slow server never delays the
// schedule; a late wake-up sends every overdue request at once and the lag is recorded).
// Runs in a worker thread (engine/worker.ts) or in the main thread (--workers 0).
//
// The same thread reads the responses, so on a busy loop a due instant can pass while one loop
// iteration works through hundreds of socket reads (the pacer's timer or poll only runs between
// iterations). So every response chunk also checks the clock (#poke) and a due send goes out right
// after that chunk's callback. Measured on 2 cores with the sims co-located, 300 paired QPS of
// 128-token streams: p99 send lag 11-21 ms polling only, 3.5-5 ms with the check, which is the
// machine's own wake-up floor at that load (bench/wake-probe.ts).
import { buildRequestBody } from '../core/openai.ts';
import { asSource, createPlan, type PlanOptions, type PlannedRequest, type RequestPlan } from '../core/plan.ts';
import { emptyRecord, type RequestRecord } from '../core/record.ts';
import type { Workload, WorkloadSource } from '../core/workload/workload.ts';
import { sourceFromSpec, type WorkloadSpec } from '../io/workload-file.ts';
import {
  createArmClient,
  createRequest,
  preconnect,
  PRECONNECT_MAX,
  warmUpStreamPath,
  type ArmClient,
  type InFlightRequest,
} from './client.ts';
import { DEFAULT_MAX_OUTPUT_BYTES } from '../core/stream-recorder.ts';
import { ClockPacer } from './clock.ts';
import type { Dispatcher } from 'undici';
import { LoadMeter, Pacer, systemClock, type EngineClock, type PacerKind, type PacerLike } from './pacer.ts';
import { YoungGc } from './young-gc.ts';

/** What a sender needs; structured-cloneable, so it can be a worker's workerData. */
export interface SenderSetup {
  runId: string;
  /** Names the thread in records ('' when there is only one). */
  instance: string;
  arms: Array<{ arm: string; url: string; model: string | null; headers: Record<string, string> }>;
  /** A parsed workload, or a spec the thread rebuilds its source from (trace/azure: a shared index; prompts built per request). */
  workload: Workload | WorkloadSpec;
  plan: PlanOptions;
  /** This sender sends the indices i with i % stride === offset. */
  stride: number;
  offset: number;
  stream: boolean;
  timeoutMs: number;
  /** Text kept per response (--max-output-bytes; DEFAULT_MAX_OUTPUT_BYTES when absent). */
  maxOutputBytes?: number;
  /** Most pairs in flight from this sender; 0 = no cap. */
  maxInflight: number;
  /** clock: a helper thread wakes the sender (little CPU); spin: timer then setImmediate polling for the last 2 ms. */
  pacer: PacerKind;
  /** Connections to open per arm before the first send ('auto': see autoPreconnect); 0 = none. */
  preconnect: number | 'auto';
  /**
   * Set to 1 (Atomics.store) by the coordinator the moment a stop is requested: nothing more is sent
   * from then on, even before the stop message reaches this thread's event loop (which a thread busy
   * with thousands of responses can take long to read). The message then drains as usual.
   */
  stopFlag?: Int32Array;
  /**
   * Slot 0: pairs launched so far (sent, or queued for a --max-inflight slot), stored before each
   * dispatch. They are this sender's first ones in order (indices offset, offset + stride, ...), so if
   * the thread has to be terminated before it hands over every record, the coordinator knows which
   * sent requests have none and records them as cancelled itself (engine/run-load.ts).
   */
  launched?: Int32Array;
}

/** What a sender did before its first send: connections opened per arm (asked for, answered). */
export interface SenderWarmUp {
  preconnect: number;
  opened: Record<string, number>;
}

/** The auto --preconnect guess of how long a stream holds its connection. */
const EXPECTED_STREAM_S = 2;
/** Synthetic streams (of WARM_EVENTS events) run through the request handler before the first send. */
const WARM_STREAMS = 200;
const WARM_EVENTS = 32;

/**
 * Connections per arm this sender will need at most, estimated as its requests due in the first
 * EXPECTED_STREAM_S seconds (concurrency = rate × stream duration), capped by PRECONNECT_MAX and its
 * --max-inflight share.
 */
export function autoPreconnect(plan: RequestPlan, stride: number, offset: number, maxInflight: number): number {
  const cap = maxInflight > 0 ? Math.min(PRECONNECT_MAX, maxInflight) : PRECONNECT_MAX;
  const firstNs = plan.total > offset ? plan.scheduledNs(offset) : 0;
  let n = 0;
  for (let i = offset; i < plan.total && n < cap && plan.scheduledNs(i) - firstNs < EXPECTED_STREAM_S * 1e9; i += stride) n++;
  return n;
}

export interface SenderStats {
  instance: string;
  /** Pairs sent (every arm dispatched). */
  sent: number;
  /** Requests (pair × arm) in flight. */
  inflight: number;
  /** Pairs due but waiting for a --max-inflight slot. */
  queued: number;
  /** Load since the previous stats call (see ThreadLoad). */
  elu: number;
  work: number;
  starved: number;
  /** The schedule is exhausted or stopped, and nothing is in flight. */
  finished: boolean;
}

interface Prepared {
  planned: PlannedRequest;
  /**
   * Serialized body per arm (prepared before the due instant so sending costs only the dispatch), as
   * UTF-8 bytes: undici keeps a request's body until its response ends and would copy a string into a
   * Buffer of its own, so a string body was held twice per in-flight request (a synthesised 8k-token
   * body is ~50 KB). Arms with the same model share one Buffer.
   */
  bodies: Buffer[];
}

/** What a request's records need of its plan entry. */
type RecordKey = Pick<PlannedRequest, 'index' | 'warmup' | 'scheduled_ns'> & { item: { id: string } };

interface Pair {
  remaining: number;
}

/**
 * Most pairs sent in one turn of the event loop (pacer wake-ups and chunk-triggered sends together).
 * A sender behind its schedule (a rate above what one thread can send: at --qps 20000 every send made
 * more requests overdue) otherwise looped over the overdue requests, or sent another burst from each of
 * the thousands of chunks one turn reads, without ever returning to the event loop: no stop message or
 * signal was handled (the first Ctrl-C was never honoured). 64 pairs is a few ms of sending; a late
 * wake at a rate one thread keeps up with leaves far fewer overdue.
 */
export const SEND_BURST = 64;

/** Serialised bodies kept for repeated items, bounded in bytes (a synthesised 8k-token body is ~50 KB). */
export const BODY_CACHE_BYTES = 16 * 1024 * 1024;

/** Replacements for what a sender would build itself (the functional tests run it on a virtual clock). */
export interface SenderParts {
  /** Replaces the pacer setup.pacer names; it must keep the same clock as `clock`. */
  pacer?: PacerLike;
  /** Time source for the schedule, the records and every timer (default systemClock). */
  clock?: EngineClock;
  /** Replaces each arm's undici Pool (the HTTP transport). */
  dispatcher?: (arm: string) => Dispatcher;
}

/** One UTF-8 body per arm; arms sending the same model share the Buffer (the JSON text is the same). */
export function serializeBodies(body: Record<string, unknown>, arms: SenderSetup['arms'], stream: boolean): Buffer[] {
  const byModel = new Map<string | null, Buffer>();
  return arms.map((a) => {
    let bytes = byModel.get(a.model);
    if (bytes === undefined) {
      bytes = Buffer.from(JSON.stringify(buildRequestBody(body, { model: a.model, stream })));
      byModel.set(a.model, bytes);
    }
    return bytes;
  });
}

/** Bytes an item's bodies hold (a Buffer shared by arms counted once). */
function bodiesBytes(bodies: readonly Buffer[]): number {
  let bytes = 0;
  for (const [k, b] of bodies.entries()) if (bodies.indexOf(b) === k) bytes += b.byteLength;
  return bytes;
}

export class Sender {
  readonly #s: SenderSetup;
  readonly #plan: RequestPlan;
  readonly #clients: ArmClient[];
  readonly #onRecord: (record: RequestRecord) => void;
  readonly #pacer: PacerLike;
  readonly #clock: EngineClock;
  readonly #meter: LoadMeter;
  readonly #youngGc = new YoungGc();
  readonly #inflight = new Set<InFlightRequest>();
  /** Pairs waiting for a --max-inflight slot: only what their records need; the bodies are built when a slot frees (a synthesised body is ~50 KB, and an overloaded server can leave thousands waiting). */
  readonly #queue: Array<{ planned: RecordKey; queuedAt: bigint }> = [];
  readonly #source: WorkloadSource;
  /** Bodies by item index (oldest first), at most BODY_CACHE_BYTES bytes. */
  readonly #bodies = new Map<number, Buffer[]>();
  #bodyBytes = 0;
  #next: number;
  /** The request armed with the pacer and its due instant (monotonic ns); null when none is armed. */
  #armed: Prepared | null = null;
  #dueAt: bigint | null = null;
  /** A due send found by #poke is waiting for its microtask. */
  #pokeQueued = false;
  /** Pairs launched in this turn of the event loop (at most SEND_BURST; reset by an immediate). */
  #turnSent = 0;
  /** The run's monotonic origin (process.hrtime.bigint()); scheduled times are ns after it. Set by start(). */
  #origin = 0n;
  #sent = 0;
  #inflightPairs = 0;
  #stopped = false;
  #scheduleDone = false;
  #resolveDone!: () => void;
  #ready: Promise<SenderWarmUp> | null = null;
  /** Resolves when the schedule is over (exhausted or stopped) and nothing is in flight. */
  readonly done: Promise<void>;

  /** `parts` replaces the pacer, clock or transport the sender would build (tests). */
  constructor(setup: SenderSetup, onRecord: (record: RequestRecord) => void, parts: SenderParts = {}) {
    this.#s = setup;
    const w = setup.workload;
    this.#source = 'kind' in w ? sourceFromSpec(w) : asSource(w);
    this.#plan = createPlan(this.#source, setup.plan);
    this.#clients = setup.arms.map((a) => createArmClient(a.arm, a.url, a.headers, setup.timeoutMs, parts.dispatcher?.(a.arm)));
    this.#onRecord = onRecord;
    this.#clock = parts.clock ?? systemClock;
    this.#pacer = parts.pacer ?? (setup.pacer === 'clock' ? new ClockPacer() : new Pacer());
    this.#meter = new LoadMeter(this.#pacer);
    this.#next = setup.offset;
    this.done = new Promise((resolve) => (this.#resolveDone = resolve));
  }

  get total(): number {
    return this.#plan.total;
  }

  /**
   * Resolves once the sender can keep time (its clock thread is running), has compiled its per-event
   * path (synthetic streams, no network) and has opened its connections (--preconnect); the run's
   * origin is set after every sender is ready, so none of this lands on the schedule.
   */
  get ready(): Promise<SenderWarmUp> {
    this.#ready ??= this.#warmUp();
    return this.#ready;
  }

  async #warmUp(): Promise<SenderWarmUp> {
    if (this.#pacer instanceof ClockPacer) await this.#pacer.ready;
    if (this.#s.stream) for (const api of this.#source.apis) warmUpStreamPath(api, WARM_STREAMS, WARM_EVENTS, this.#poke);
    const count =
      this.#s.preconnect === 'auto' ? autoPreconnect(this.#plan, this.#s.stride, this.#s.offset, this.#s.maxInflight) : this.#s.preconnect;
    const opened = await Promise.all(
      this.#clients.map((c) => (count > 0 ? preconnect(c, count, Math.min(this.#s.timeoutMs, 10_000)) : Promise.resolve(0))),
    );
    return { preconnect: count, opened: Object.fromEntries(this.#clients.map((c, i) => [c.arm, opened[i] ?? 0])) };
  }

  start(origin: bigint): void {
    this.#origin = origin;
    this.#armNext();
  }

  #prepare(index: number): Prepared {
    const planned = this.#plan.request(index);
    let bodies = this.#bodies.get(planned.itemIndex);
    if (bodies === undefined) {
      bodies = serializeBodies(planned.item.body, this.#s.arms, this.#s.stream);
      const bytes = bodiesBytes(bodies);
      // Items come round once per pass (sequential or shuffled), so a body is worth keeping only when
      // the whole workload's bodies of its size fit: otherwise it is evicted before its item returns
      // (a streamed trace: 24k distinct ~50 KB bodies) and the cache would only hold memory. So a run
      // holds the bodies of its requests in flight and, for a small workload, one body per item.
      if (bytes * this.#source.length <= BODY_CACHE_BYTES) {
        for (const [index, old] of this.#bodies) {
          if (this.#bodyBytes + bytes <= BODY_CACHE_BYTES) break;
          this.#bodies.delete(index);
          this.#bodyBytes -= bodiesBytes(old);
        }
        this.#bodies.set(planned.itemIndex, bodies);
        this.#bodyBytes += bytes;
      }
    }
    return { planned, bodies };
  }

  #armNext(): void {
    if (this.#stopped || this.#next >= this.#plan.total) {
      this.#scheduleDone = true;
      this.#checkDone();
      return;
    }
    this.#armed = this.#prepare(this.#next);
    this.#dueAt = this.#origin + BigInt(this.#armed.planned.scheduled_ns);
    this.#pacer.at(this.#dueAt, this.#onDue);
  }

  /** The armed request is due (from the pacer or from #poke). */
  readonly #onDue = (): void => {
    const prepared = this.#armed;
    if (prepared === null || this.#halted()) return;
    this.#armed = null;
    this.#dueAt = null;
    this.#launch(prepared);
    this.#next += this.#s.stride;
    // Open loop: what is already due goes out now, late, with its lag on record; at most SEND_BURST
    // pairs per turn of the event loop (chunk-triggered sends included), then the pacer (which never
    // fires from inside at()) lets the loop run: responses are read and a stop is seen between bursts.
    while (
      !this.#halted() &&
      this.#turnSent < SEND_BURST &&
      this.#next < this.#plan.total &&
      this.#origin + BigInt(this.#plan.scheduledNs(this.#next)) <= this.#clock.now()
    ) {
      this.#launch(this.#prepare(this.#next));
      this.#next += this.#s.stride;
    }
    if (this.#halted()) return; // stop() (from the message that follows the flag) ends the schedule
    if (this.#next < this.#plan.total)
      this.#youngGc.maybeCollect(this.#origin + BigInt(this.#plan.scheduledNs(this.#next)) - this.#clock.now());
    this.#armNext();
  };

  /**
   * Called with the arrival time of every response chunk: sends the armed request if it is due. The
   * send runs in a microtask, after the chunk's callback: undici's HTTP parsers share one buffer, so
   * a dispatch must not run inside another response's parser callback.
   */
  readonly #poke = (now: bigint): void => {
    // A turn's budget spent: the armed pacer sends on the next turn. (Without this, behind schedule,
    // every one of the thousands of chunks a turn reads sent another burst: the turn never ended.)
    if (this.#dueAt === null || now < this.#dueAt || this.#pokeQueued || this.#turnSent >= SEND_BURST) return;
    this.#pokeQueued = true;
    queueMicrotask(() => {
      this.#pokeQueued = false;
      if (this.#armed === null || this.#halted()) return;
      this.#pacer.cancel();
      this.#onDue();
    });
  };

  #launch(prepared: Prepared): void {
    if (this.#s.launched !== undefined) Atomics.add(this.#s.launched, 0, 1);
    if (this.#turnSent++ === 0) setImmediate(() => (this.#turnSent = 0)); // a new turn, a new budget
    if (this.#s.maxInflight > 0 && this.#inflightPairs >= this.#s.maxInflight) {
      const { index, warmup, scheduled_ns } = prepared.planned;
      this.#queue.push({ planned: { index, warmup, scheduled_ns, item: { id: prepared.planned.item.id } }, queuedAt: this.#clock.now() });
      return;
    }
    this.#sendPair(prepared, 0);
  }

  #record(planned: RecordKey, arm: string): RequestRecord {
    return emptyRecord({
      run_id: this.#s.runId,
      arm,
      index: planned.index,
      item_id: planned.item.id,
      warmup: planned.warmup,
      source: 'node',
      instance: this.#s.instance,
      streaming: this.#s.stream,
      scheduled_ns: planned.scheduled_ns,
    });
  }

  #sendPair(prepared: Prepared, queueWaitNs: number): void {
    const { planned, bodies } = prepared;
    const pair: Pair = { remaining: this.#clients.length };
    this.#inflightPairs++;
    this.#sent++;
    // Alternate which of the first two arms goes first, so neither gets a systematic head start.
    const order = this.#clients.map((_, i) => i);
    if (planned.index % 2 === 1 && order.length >= 2) [order[0], order[1]] = [order[1] as number, order[0] as number];
    for (const i of order) {
      const client = this.#clients[i] as ArmClient;
      const record = this.#record(planned, client.arm);
      record.queue_wait_ns = queueWaitNs;
      const request: InFlightRequest = createRequest({
        client,
        api: planned.item.api,
        stream: this.#s.stream,
        body: bodies[i] as Buffer,
        requestId: `${this.#s.runId}:${client.arm}:${planned.index}`,
        record,
        origin: this.#origin,
        timeoutMs: this.#s.timeoutMs,
        onData: this.#poke,
        onDone: (r) => {
          this.#inflight.delete(request);
          this.#onRecord(r);
          if (--pair.remaining === 0) this.#pairDone();
        },
        clock: this.#clock,
        maxOutputBytes: this.#s.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES,
      });
      this.#inflight.add(request);
      request.start();
    }
  }

  #pairDone(): void {
    if (this.#stopped || this.#queue.length === 0) {
      this.#inflightPairs--;
      this.#checkDone();
      return;
    }
    // The slot passes to the oldest waiting pair, which is sent from a microtask (a pair ends inside
    // undici's parser callback; see #poke). The slot stays taken until then.
    queueMicrotask(() => {
      this.#inflightPairs--;
      const waiting = this.#halted() ? undefined : this.#queue.shift();
      if (waiting !== undefined) this.#sendPair(this.#prepare(waiting.planned.index), Number(this.#clock.now() - waiting.queuedAt));
      this.#checkDone();
    });
  }

  /** Stopped, or the coordinator's stop flag is up (its message may not have been read yet): send nothing. */
  #halted(): boolean {
    return this.#stopped || (this.#s.stopFlag !== undefined && Atomics.load(this.#s.stopFlag, 0) !== 0);
  }

  #checkDone(): void {
    if (this.#scheduleDone && this.#inflight.size === 0 && this.#inflightPairs === 0 && this.#queue.length === 0) this.#resolveDone();
  }

  /** Stops sending: no new request leaves; pairs waiting for a --max-inflight slot are recorded as cancelled, never sent. */
  stop(reason: string): void {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#pacer.cancel();
    this.#armed = null;
    this.#dueAt = null; // later chunks have nothing to check
    const now = Number(this.#clock.now() - this.#origin);
    for (const { planned, queuedAt } of this.#queue.splice(0)) {
      for (const client of this.#clients) {
        const record = this.#record(planned, client.arm);
        record.queue_wait_ns = Number(this.#clock.now() - queuedAt);
        record.end_ns = now;
        record.outcome = { kind: 'cancelled', message: `never sent: waiting for a --max-inflight slot when the run stopped (${reason})` };
        this.#onRecord(record);
      }
    }
    this.#scheduleDone = true;
    this.#checkDone();
  }

  /**
   * Stops sending, lets in-flight requests finish for up to graceMs, then cancels the rest. `waitMs`
   * (default graceMs) is what is left of the grace period when the stop was requested earlier (a
   * worker reads the message late when its thread is busy).
   */
  async drain(reason: string, graceMs: number, waitMs = graceMs): Promise<void> {
    this.stop(reason);
    let timer: unknown;
    const expired = new Promise<void>((resolve) => (timer = this.#clock.setTimer(resolve, Math.max(0, waitMs))));
    await Promise.race([this.done, expired]);
    this.#clock.clearTimer(timer);
    this.cancelAll(`run stopped (${reason}); still in flight after the ${graceMs / 1000} s grace period`);
    await this.done;
  }

  /**
   * Ends every in-flight request now with outcome cancelled: every record now (so `done` can resolve
   * and a worker report finished), the upstream aborts on the next turn (thousands of sockets to
   * close take long, and the records must not wait for them).
   */
  cancelAll(message: string): void {
    const aborts = [...this.#inflight].map((request) => request.cancelSteps(message));
    if (aborts.length > 0) setImmediate(() => aborts.forEach((step) => step.abort()));
  }

  stats(): SenderStats {
    const load = this.#meter.sample();
    return {
      instance: this.#s.instance,
      sent: this.#sent,
      inflight: this.#inflight.size,
      queued: this.#queue.length,
      elu: load.elu,
      work: load.work,
      starved: load.starved,
      finished: this.#scheduleDone && this.#inflight.size === 0 && this.#inflightPairs === 0,
    };
  }

  async close(): Promise<void> {
    this.#pacer.close();
    await Promise.all(this.#clients.map((c) => c.dispatcher.close().catch(() => undefined)));
  }
}
