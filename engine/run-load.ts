// The Node engine's coordinator: owns the run folder, the record file and run.json, starts the
// sending threads (each owns the requests i ≡ k mod N, both arms of i, so a pair leaves one thread
// back to back), collects their records, shows progress, and stops them gracefully on request.
// The folder's life is in run.json (io/run-folder.ts): `running` from the start (with the planned
// requests per arm), then `complete`, `interrupted` (a signal: stop / exitNow) or `failed` (the
// records file could not be written). The run resolves with the exit code; it never exits the process.
import { rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { emptyRecord, type RequestRecord } from '../core/record.ts';
import { createPlan } from '../core/plan.ts';
import type { RunManifest, RunStatus } from '../core/run.ts';
import { DEFAULT_MAX_OUTPUT_BYTES } from '../core/stream-recorder.ts';
import { RecordWriter } from '../io/records-file.ts';
import { createRunFolder, writeRunManifest, type RunFolderLock } from '../io/run-folder.ts';
import { loadRunManifest, type LoadConfig } from './config.ts';
import { monoNow } from './pacer.ts';
import { ProgressLine, type ArmCounts, type ProgressState } from './progress.ts';
import { isWorkloadSource } from '../core/workload/source.ts';
import { workloadSpec } from '../io/workload-file.ts';
import { Sender, type SenderSetup, type SenderStats, type SenderWarmUp } from './sender.ts';
import type { FromWorker, ToWorker } from './worker.ts';
import { SENDER_YOUNG_GENERATION_MB } from './young-gc.ts';

/** Work share (event-loop utilisation without idle polling) above which response timestamps degrade. */
export const ELU_WARN = 0.5;
/** Share of time a sender was runnable but not running above which the machine is oversubscribed. */
export const STARVED_WARN = 0.2;
/** Sending starts this long after every thread is ready, so the first request is not late by construction. */
const START_DELAY_NS = 50_000_000n;
/** After a second SIGINT: how long the senders may take to hand over their cancelled records. */
const EXIT_NOW_WAIT_MS = 500;

/**
 * After a graceful stop: how long past --grace the coordinator waits for the senders to report
 * finished (each drains on its own --grace timer) before it cancels what is in flight itself, as the
 * second signal would. A backstop for a sender whose thread does not get to its timer in time.
 */
const GRACE_BACKSTOP_MS = 2_000;

/** Exit codes of a run: complete 0 (the analysis decides), stopped by a signal 130, failed (disk) 2. */
export const EXIT_INTERRUPTED = 130;
export const EXIT_FAILED = 2;

export interface LoadResult {
  runDir: string;
  /** run.json's final status. */
  status: RunStatus;
  /** 0 complete, 130 interrupted, 2 failed (`error` says why). */
  exitCode: number;
  /** What made the run fail (status failed): e.g. the records file could not be written. */
  error: Error | null;
  manifest: RunManifest & { counts: Record<string, unknown> };
  /** Records written (all arms). */
  records: number;
  /** Pairs sent. */
  sent: number;
  interrupted: string | null;
  /**
   * Stopped before the first request was sent: records.jsonl (empty) was removed, so the same --out can
   * be used again; run.json stays and says so (interrupted, no pairs sent).
   */
  interruptedBeforeSending: boolean;
}

/** Callbacks for the command driving the run (e.g. cli/load.ts starting its metrics scrapers). */
export interface LoadRunHooks {
  /**
   * Called once, synchronously, when the run's monotonic origin is fixed (run.json mono_origin_ns),
   * just before the senders are started; not called when the run is stopped before sending.
   */
  onStart?(originNs: bigint): void;
}

/** A sending thread seen from the coordinator: a worker, or a Sender in this thread (--workers 0). */
interface SenderHandle {
  readonly instance: string;
  stats: SenderStats;
  readonly finished: Promise<void>;
  /** Resolves when the sender can start (clock running, connections open); null if it failed first. */
  readonly ready: Promise<SenderWarmUp | null>;
  start(origin: bigint): void;
  stop(reason: string, graceMs: number): void;
  cancel(message: string): void;
  terminate(): void;
}

/**
 * Which of one sender's requests on one arm the coordinator has a record of, by their rank j in the
 * sender's share (index = offset + j × stride): a complete prefix plus the ones above it (out of
 * order), so memory follows the requests in flight, not the run's length.
 */
export class RecordLedger {
  #prefix = 0;
  readonly #above = new Set<number>();
  add(j: number): void {
    if (j < this.#prefix) return;
    this.#above.add(j);
    while (this.#above.delete(this.#prefix)) this.#prefix++;
  }
  /** Ranks below `launched` without a record. */
  missing(launched: number): number[] {
    const out: number[] = [];
    for (let j = this.#prefix; j < launched; j++) if (!this.#above.has(j)) out.push(j);
    return out;
  }
}

function emptyStats(instance: string): SenderStats {
  return { instance, sent: 0, inflight: 0, queued: 0, elu: 0, work: 0, starved: 0, finished: false };
}

function versions(): Record<string, string> {
  const require = createRequire(import.meta.url);
  const out: Record<string, string> = { node: process.version };
  for (const [name, path] of [
    ['shadowbench', '../package.json'],
    ['undici', 'undici/package.json'],
    ['eventsource-parser', 'eventsource-parser/package.json'],
  ] as const) {
    try {
      out[name] = (require(path) as { version: string }).version;
    } catch {
      // a package that hides its package.json: its version is simply not listed
    }
  }
  return out;
}

export class NodeLoadRun {
  readonly config: LoadConfig;
  readonly #hooks: LoadRunHooks;
  readonly #progress: ProgressLine | null;
  readonly #counts = new Map<string, ArmCounts>();
  readonly #warnings: string[] = [];
  readonly #warnedInstances = new Set<string>();
  #writer: RecordWriter | null = null;
  #folder: RunFolderLock | null = null;
  #manifest: RunManifest | null = null;
  #error: Error | null = null;
  #saved = false;
  /** The records file is being closed: a record arriving now (from a terminated worker) is dropped. */
  #closing = false;
  /** Resolves when the run must stop waiting for its senders: stop() before sending, or exitNow(). */
  #wake!: () => void;
  readonly #woken = new Promise<void>((resolve) => (this.#wake = resolve));
  #handles: SenderHandle[] = [];
  /** Per sender k, its SenderSetup.launched counter (pairs launched, in order). */
  #launched: Int32Array[] = [];
  /** Per arm, per sender k: the records received (see RecordLedger). */
  readonly #ledgers = new Map<string, RecordLedger[]>();
  /** Shared with every sender (SenderSetup.stopFlag): raised by stop(), exitNow() and a disk failure, read before each send. */
  readonly #stopFlag = new Int32Array(new SharedArrayBuffer(4));
  #origin = 0n;
  #interrupted: string | null = null;
  #exiting = false;
  /** The senders were told to cancel what is in flight (exitNow, or the grace backstop): wait at most EXIT_NOW_WAIT_MS for them. */
  #cutShort = false;
  /** The backstop armed by stop() (GRACE_BACKSTOP_MS past --grace). */
  #backstop: NodeJS.Timeout | null = null;
  #started = false;
  #maxWork = 0;
  #maxStarved = 0;
  /** Per sender, what it did before the first send (null: it failed first). */
  #warmUps: Array<SenderWarmUp | null> = [];

  constructor(config: LoadConfig, hooks: LoadRunHooks = {}) {
    this.config = config;
    this.#hooks = hooks;
    this.#progress = config.progress ? new ProgressLine() : null;
    for (const a of config.arms) this.#counts.set(a.arm, { ok: 0, errors: 0, cancelled: 0 });
  }

  get runDir(): string {
    return this.config.runDir;
  }

  async run(): Promise<LoadResult> {
    const c = this.config;
    // One run per folder: a fresh or empty folder, held with an exclusive lock for the whole run.
    this.#folder = createRunFolder(c.runDir, { flag: '--out', force: c.force ?? false });
    try {
      this.#writer = new RecordWriter(join(c.runDir, 'records.jsonl'), { flags: 'wx', onError: (error) => this.#fail(error) });
      // run.json from the first moment: status running, the planned requests per arm (kill -9 leaves this).
      this.#manifest = this.#buildManifest();
      writeRunManifest(c.runDir, this.#manifest);
    } catch (error) {
      this.#folder.release();
      throw error;
    }
    this.#handles = this.#createHandles();
    // A stop while the threads warm up (connections opening at a high rate can take long) is not kept waiting.
    const warmUps = await Promise.race([Promise.all(this.#handles.map((h) => h.ready)), this.#woken.then(() => null)]);
    if (warmUps === null || this.#interrupted !== null || this.#error !== null) {
      // Stopped while the threads were starting: nothing was sent.
      for (const h of this.#handles) h.terminate();
      return this.#finish();
    }
    this.#warmUps = warmUps;
    this.#origin = monoNow() + START_DELAY_NS;
    this.#manifest = this.#buildManifest();
    this.#save(this.#manifest);
    this.#started = true;
    this.#hooks.onStart?.(this.#origin);
    for (const h of this.#handles) h.start(this.#origin);
    this.#progress?.start(() => this.#progressState());
    const finished = Promise.all(this.#handles.map((h) => h.finished));
    await Promise.race([finished, this.#woken]);
    if (this.#cutShort) {
      // exitNow: the senders had their in-flight requests cancelled; they get EXIT_NOW_WAIT_MS to hand the records over.
      let timer: NodeJS.Timeout | undefined;
      const inTime = await Promise.race([
        finished.then(() => true),
        new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), EXIT_NOW_WAIT_MS))),
      ]);
      clearTimeout(timer);
      for (const h of this.#handles) h.terminate();
      if (!inTime) this.#recordUnreported();
    }
    return this.#finish();
  }

  /** Graceful stop (first SIGINT): no new sends; in-flight requests get the grace period, then are cancelled. */
  stop(reason: string): void {
    if (this.#interrupted !== null || this.#error !== null) return;
    this.#interrupted = reason;
    Atomics.store(this.#stopFlag, 0, 1);
    if (!this.#started) this.#wake();
    this.#notice(
      `shadowbench: ${reason}: stopping new sends; waiting up to ${this.config.graceMs / 1000} s for the requests in flight (about ${this.#sum('inflight')}) (again to exit at once)`,
    );
    for (const h of this.#handles) h.stop(reason, this.config.graceMs);
    if (this.#started) this.#backstop = setTimeout(() => this.#graceOverrun(reason), this.config.graceMs + GRACE_BACKSTOP_MS);
  }

  /** The senders have not finished GRACE_BACKSTOP_MS after --grace: cancel their requests in flight and end as exitNow does. */
  #graceOverrun(reason: string): void {
    this.#backstop = null;
    if (this.#cutShort || this.#saved) return;
    this.#warn(
      `${reason}: the senders had not finished ${(this.config.graceMs + GRACE_BACKSTOP_MS) / 1000} s after the stop (--grace ${this.config.graceMs / 1000} s); cancelling the requests still in flight`,
    );
    this.#cutShort = true;
    for (const h of this.#handles) {
      h.cancel(`run stopped (${reason}); still in flight after the ${this.config.graceMs / 1000} s grace period`);
      h.stop(reason, 0);
    }
    this.#wake();
  }

  /**
   * Prompt stop (second signal): in-flight requests are cancelled at once, so each still becomes a
   * `cancelled` record (records = arms × sent, as after a graceful stop); the senders get at most
   * EXIT_NOW_WAIT_MS to hand them over, then run() saves the records and run.json and resolves (exit
   * code 130). Called again while that happens, it saves what it has synchronously (abandon).
   */
  exitNow(reason: string): void {
    if (this.#exiting) {
      this.abandon();
      return;
    }
    this.#exiting = true;
    this.#cutShort = true;
    Atomics.store(this.#stopFlag, 0, 1);
    this.#progress?.stop();
    this.#interrupted = reason;
    // The in-flight count is the senders' last sample (every 0.5 s): "about".
    this.#notice(
      `shadowbench: ${reason}: cancelling the requests in flight (about ${this.#sum('inflight')}) and exiting (again to exit without their records)`,
    );
    for (const h of this.#handles) {
      h.cancel(`run stopped at once (${reason})`); // first: a drain with no grace would cancel them as "after the grace period"
      h.stop(reason, 0);
    }
    this.#wake();
  }

  /**
   * Saves, synchronously, the records received so far and run.json (interrupted, with a warning that
   * in-flight requests have no record), and releases the folder: for a caller about to exit at once.
   */
  abandon(): void {
    if (this.#saved) return;
    this.#interrupted ??= 'stopped';
    if (this.#started) this.#recordUnreported();
    this.#writer?.flushSync();
    this.#closing = true; // a record still on its way would duplicate one just made up
    if (this.#manifest !== null) this.#save(this.#finalManifest());
    this.#saved = true;
    this.#folder?.release();
  }

  /**
   * The senders were ended before handing over every record: each request they launched (sent, or
   * queued for a slot) without a record gets one here, outcome cancelled without timings (the thread
   * that timed it is gone), so every sent request still has its record.
   */
  #recordUnreported(): void {
    const c = this.config;
    const n = this.#handles.length;
    const endNs = Number(monoNow() - this.#origin);
    let plan: ReturnType<typeof createPlan> | null = null;
    let count = 0;
    for (let k = 0; k < n; k++) {
      const launched = Atomics.load(this.#launched[k] as Int32Array, 0);
      // The sender's last stats may predate its last sends (with --max-inflight, launched also counts queued pairs).
      const handle = this.#handles[k];
      if (handle !== undefined) handle.stats = { ...handle.stats, sent: Math.max(handle.stats.sent, launched) };
      for (const { arm } of c.arms) {
        for (const j of this.#ledgers.get(arm)?.[k]?.missing(launched) ?? []) {
          plan ??= createPlan(c.workload, c.plan);
          const planned = plan.request(k + j * n);
          const record = emptyRecord({
            run_id: c.runId,
            arm,
            index: planned.index,
            item_id: planned.item.id,
            warmup: planned.warmup,
            source: 'node',
            instance: this.#handles[k]?.instance ?? '',
            streaming: c.stream,
            scheduled_ns: planned.scheduled_ns,
          });
          record.end_ns = endNs;
          record.outcome = {
            kind: 'cancelled',
            message: `run stopped (${this.#interrupted ?? 'stopped'}); in flight when its sender thread was ended before handing over the record (no timings)`,
          };
          this.#onRecord(record);
          count++;
        }
      }
    }
    if (count > 0)
      this.#warnings.push(
        `${this.#interrupted ?? 'stopped'}: the sender threads were ended before handing over ${count} records of requests in flight; they are recorded as cancelled without timings`,
      );
  }

  /** The records file failed (disk full, I/O error): stop sending at once; the run ends `failed`. */
  #fail(error: Error): void {
    if (this.#error !== null) return;
    this.#error = error;
    Atomics.store(this.#stopFlag, 0, 1);
    this.#notice(`shadowbench: ${error.message}: stopping the run (the records already written are kept)`);
    for (const h of this.#handles) {
      h.cancel(`run stopped: ${error.message}`);
      h.stop('failed', 0);
    }
    if (!this.#started) this.#wake();
  }

  /** Writes run.json; once the run has failed, a second disk error is only noted (the first one is reported). */
  #save(manifest: RunManifest): void {
    try {
      writeRunManifest(this.config.runDir, manifest);
    } catch (error) {
      if (this.#error === null) this.#error = error as Error;
      else this.#notice(`shadowbench: run.json not updated either: ${(error as Error).message}`);
    }
  }

  #createHandles(): SenderHandle[] {
    const c = this.config;
    const n = Math.max(1, c.workers);
    // Trace and Azure files go to the workers as their shared index, not as built prompts.
    const workload = isWorkloadSource(c.workload) ? workloadSpec(c.workload) : c.workload;
    this.#launched = Array.from({ length: n }, () => new Int32Array(new SharedArrayBuffer(4)));
    for (const a of c.arms)
      this.#ledgers.set(
        a.arm,
        Array.from({ length: n }, () => new RecordLedger()),
      );
    const base = (k: number): SenderSetup => ({
      runId: c.runId,
      instance: c.workers === 0 ? '' : `w${k}`,
      arms: c.arms.map((a) => ({ arm: a.arm, url: a.url, model: a.model, headers: a.headers })),
      workload,
      plan: c.plan,
      stride: n,
      offset: k,
      stream: c.stream,
      timeoutMs: c.timeoutMs,
      maxOutputBytes: c.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES,
      // The cap is split across threads (requests are dealt round-robin, so each gets an even share).
      pacer: c.pacer,
      preconnect: c.preconnect ?? 'auto',
      stopFlag: this.#stopFlag,
      launched: this.#launched[k],
      maxInflight: c.maxInflight === 0 ? 0 : Math.max(1, Math.floor(c.maxInflight / n) + (k < c.maxInflight % n ? 1 : 0)),
    });
    if (c.workers === 0) return [this.#localHandle(base(0))];
    return Array.from({ length: n }, (_, k) => this.#workerHandle(base(k)));
  }

  #localHandle(setup: SenderSetup): SenderHandle {
    const sender = new Sender(setup, (r) => this.#onRecord(r));
    let resolveFinished!: () => void;
    const finished = new Promise<void>((resolve) => (resolveFinished = resolve));
    let ticker: NodeJS.Timeout | null = null;
    const handle: SenderHandle = {
      instance: setup.instance,
      stats: emptyStats(setup.instance),
      finished,
      ready: sender.ready,
      start: (origin) => {
        ticker = setInterval(() => this.#onStats(handle, sender.stats()), 500);
        sender.start(origin);
        void sender.done.then(async () => {
          if (ticker !== null) clearInterval(ticker);
          handle.stats = sender.stats();
          await sender.close();
          resolveFinished();
        });
      },
      stop: (reason, graceMs) => void sender.drain(reason, graceMs),
      cancel: (message) => sender.cancelAll(message),
      terminate: () => {
        void sender.close();
        resolveFinished();
      },
    };
    return handle;
  }

  #workerHandle(setup: SenderSetup): SenderHandle {
    // Streamed trace/Azure workloads (~50 KB bodies): the young generation is capped (see SENDER_YOUNG_GENERATION_MB).
    const streamed = 'kind' in setup.workload && setup.workload.kind === 'file';
    const worker = new Worker(new URL('./worker.ts', import.meta.url), {
      workerData: setup,
      ...(streamed && { resourceLimits: { maxYoungGenerationSizeMb: SENDER_YOUNG_GENERATION_MB } }),
    });
    let resolveReady!: (warmUp: SenderWarmUp | null) => void;
    let resolveFinished!: () => void;
    const ready = new Promise<SenderWarmUp | null>((resolve) => (resolveReady = resolve));
    const finished = new Promise<void>((resolve) => (resolveFinished = resolve));
    const send = (message: ToWorker) => worker.postMessage(message);
    const handle: SenderHandle = {
      instance: setup.instance,
      stats: emptyStats(setup.instance),
      finished,
      ready,
      start: (origin) => send({ type: 'start', origin }),
      stop: (reason, graceMs) => send({ type: 'stop', reason, graceMs, requestedNs: monoNow() }),
      cancel: (message) => send({ type: 'cancel', message }),
      terminate: () => void worker.terminate(),
    };
    worker.on('message', (message: FromWorker) => {
      switch (message.type) {
        case 'record':
          this.#onRecord(message.record);
          break;
        case 'stats':
          this.#onStats(handle, message.stats);
          break;
        case 'finished':
          handle.stats = message.stats;
          resolveFinished();
          break;
        case 'ready':
          resolveReady(message.warmUp);
          break;
      }
    });
    worker.on('error', (error) => {
      this.#warn(`sender ${setup.instance} failed: ${error.message}; its in-flight requests have no records`);
      this.#interrupted ??= `error in sender ${setup.instance}`;
      resolveReady(null);
      resolveFinished();
    });
    worker.on('exit', () => {
      resolveReady(null);
      resolveFinished();
    });
    return handle;
  }

  #onRecord(record: RequestRecord): void {
    // A record a terminated worker had already posted, after the run saved its files: too late.
    if (this.#closing) return;
    this.#writer?.write(record);
    const n = this.#handles.length;
    if (n > 0) this.#ledgers.get(record.arm)?.[record.index % n]?.add(Math.floor(record.index / n));
    const counts = this.#counts.get(record.arm);
    if (counts !== undefined) {
      if (record.outcome.kind === 'ok') counts.ok++;
      else if (record.outcome.kind === 'cancelled') counts.cancelled++;
      else counts.errors++;
    }
  }

  #onStats(handle: SenderHandle, stats: SenderStats): void {
    // Sustained: two samples in a row (≥ 1 s), the thread's start-up (module compilation) excluded.
    const previous = handle.stats;
    handle.stats = stats;
    if (previous.sent === 0) return;
    this.#maxWork = Math.max(this.#maxWork, stats.work);
    this.#maxStarved = Math.max(this.#maxStarved, stats.starved);
    const name = handle.instance || 'main';
    const elapsed = (Number(monoNow() - this.#origin) / 1e9).toFixed(1);
    if (stats.work > ELU_WARN && previous.work > ELU_WARN) {
      this.#warnOnce(
        `busy:${name}`,
        `sender ${name} spent ${(stats.work * 100).toFixed(0)} % of its time working at ${elapsed} s (above ${ELU_WARN * 100} %): send times and token timestamps lag; use a lower --qps, or more --workers if the machine has idle cores (the default is one per core but one)`,
      );
    }
    if (stats.starved > STARVED_WARN && previous.starved > STARVED_WARN) {
      this.#warnOnce(
        `starved:${name}`,
        `sender ${name} was ready to run but off the CPU ${(stats.starved * 100).toFixed(0)} % of the time at ${elapsed} s: this machine runs more busy threads than it has cores (other processes, or too many --workers); send times and token timestamps lag`,
      );
    }
  }

  #warnOnce(key: string, message: string): void {
    if (this.#warnedInstances.has(key)) return;
    this.#warnedInstances.add(key);
    this.#warn(message);
  }

  #warn(message: string): void {
    this.#warnings.push(message);
    this.#notice(`shadowbench: warning: ${message}`);
  }

  /** A line on stderr, with or without the progress line (--no-progress must not silence notices). */
  #notice(message: string): void {
    if (this.#progress !== null) this.#progress.note(message);
    else process.stderr.write(`${message}\n`);
  }

  #sum(key: 'sent' | 'inflight' | 'queued'): number {
    return this.#handles.reduce((total, h) => total + h.stats[key], 0);
  }

  #progressState(): ProgressState {
    return {
      elapsedS: Math.max(0, Number(monoNow() - this.#origin) / 1e9),
      sent: this.#sum('sent'),
      inflight: this.#sum('inflight'),
      queued: this.#sum('queued'),
      arms: [...this.#counts],
    };
  }

  #buildManifest(): RunManifest {
    const c = this.config;
    return loadRunManifest(c, {
      status: 'running',
      started_at: this.#manifest?.started_at ?? new Date().toISOString(),
      ended_at: null,
      engine: 'node',
      // Connections opened before the first send (never recorded): per sender and arm, asked for / answered.
      config: {
        ...c.options,
        preconnected: this.#warmUps.map((w, k) => ({
          sender: this.#handles[k]?.instance || 'main',
          ...(w ?? { preconnect: 0, opened: {} }),
        })),
      },
      versions: versions(),
      interrupted: null,
      mono_origin_ns: this.#started || this.#origin !== 0n ? this.#origin.toString() : null,
    });
  }

  #status(): RunStatus {
    return this.#error !== null ? 'failed' : this.#interrupted !== null ? 'interrupted' : 'complete';
  }

  #finalManifest(): RunManifest & { counts: Record<string, unknown> } {
    const manifest = this.#manifest as RunManifest;
    return {
      ...manifest,
      status: this.#status(),
      ended_at: new Date().toISOString(),
      interrupted: this.#interrupted,
      error: this.#error?.message ?? null,
      warnings: [...manifest.warnings, ...this.#warnings],
      counts: {
        pairs_sent: this.#sum('sent'),
        max_sender_busy: Number(this.#maxWork.toFixed(3)),
        max_sender_starved: Number(this.#maxStarved.toFixed(3)),
        records: this.#writer?.written ?? 0,
        ...(this.#writer !== null && this.#writer.lost > 0 && { records_lost: this.#writer.lost }),
        by_arm: Object.fromEntries(this.#counts),
      },
    };
  }

  async #finish(): Promise<LoadResult> {
    if (this.#backstop !== null) clearTimeout(this.#backstop);
    this.#backstop = null;
    const final = this.#started ? this.#progressState() : undefined;
    this.#progress?.stop(final);
    this.#closing = true;
    await this.#writer?.close();
    const records = this.#writer?.written ?? 0;
    const interruptedBeforeSending = this.#interrupted !== null && this.#sum('sent') === 0 && records === 0;
    if (interruptedBeforeSending) {
      this.#warnings.push(`${this.#interrupted}: interrupted before the first request was sent; no records`);
      rmSync(join(this.config.runDir, 'records.jsonl'), { force: true });
    }
    const manifest = this.#finalManifest();
    if (!this.#saved) this.#save(manifest);
    this.#saved = true;
    this.#folder?.release();
    const status = this.#status();
    return {
      runDir: this.config.runDir,
      status,
      exitCode: status === 'failed' ? EXIT_FAILED : status === 'interrupted' ? EXIT_INTERRUPTED : 0,
      error: this.#error,
      manifest,
      records,
      sent: this.#sum('sent'),
      interrupted: this.#interrupted,
      interruptedBeforeSending,
    };
  }
}

/** Runs the Node engine to completion (or until stop()); the caller wires signals to stop/exitNow (cli/interrupts.ts). */
export async function runNodeLoad(config: LoadConfig): Promise<LoadResult> {
  return new NodeLoadRun(config).run();
}
