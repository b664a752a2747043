// The Node engine's coordinator: owns the run folder, the record file and run.json, starts the
// sending threads (each owns the requests i ≡ k mod N, both arms of i, so a pair leaves one thread
// back to back), collects their records, shows progress, and stops them gracefully on request.
import { renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { makeDirs } from '../io/make-dirs.ts';
import type { RequestRecord } from '../core/record.ts';
import type { RunManifest } from '../core/run.ts';
import { DEFAULT_MAX_OUTPUT_BYTES } from '../core/stream-recorder.ts';
import { RecordWriter } from '../io/records-file.ts';
import { loadRunManifest, type LoadConfig } from './config.ts';
import { monoNow } from './pacer.ts';
import { ProgressLine, type ArmCounts, type ProgressState } from './progress.ts';
import { isWorkloadSource } from '../core/workload/source.ts';
import { workloadSpec } from '../io/workload-file.ts';
import { Sender, type SenderSetup, type SenderStats, type SenderWarmUp } from './sender.ts';
import type { FromWorker, ToWorker } from './worker.ts';

/** Work share (event-loop utilisation without idle polling) above which response timestamps degrade. */
export const ELU_WARN = 0.5;
/** Share of time a sender was runnable but not running above which the machine is oversubscribed. */
export const STARVED_WARN = 0.2;
/** Sending starts this long after every thread is ready, so the first request is not late by construction. */
const START_DELAY_NS = 50_000_000n;
/** After a second SIGINT: how long the senders may take to hand over their cancelled records. */
const EXIT_NOW_WAIT_MS = 500;

export interface LoadResult {
  runDir: string;
  manifest: RunManifest;
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

/** Write-then-rename, so a reader never sees half a run.json. */
function writeManifestSync(runDir: string, manifest: object): void {
  const file = join(runDir, 'run.json');
  writeFileSync(`${file}.tmp`, JSON.stringify(manifest, null, 2) + '\n');
  renameSync(`${file}.tmp`, file);
}

export class NodeLoadRun {
  readonly config: LoadConfig;
  readonly #hooks: LoadRunHooks;
  readonly #progress: ProgressLine | null;
  readonly #counts = new Map<string, ArmCounts>();
  readonly #warnings: string[] = [];
  readonly #warnedInstances = new Set<string>();
  #writer: RecordWriter | null = null;
  #manifest: RunManifest | null = null;
  #handles: SenderHandle[] = [];
  #origin = 0n;
  #interrupted: string | null = null;
  #exiting = false;
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
    makeDirs(c.runDir);
    this.#writer = new RecordWriter(join(c.runDir, 'records.jsonl'));
    this.#handles = this.#createHandles();
    this.#warmUps = await Promise.all(this.#handles.map((h) => h.ready));
    if (this.#interrupted !== null) {
      // Stopped while the threads were starting: nothing was sent.
      for (const h of this.#handles) h.terminate();
      return this.#finish();
    }
    this.#origin = monoNow() + START_DELAY_NS;
    this.#manifest = this.#buildManifest();
    writeManifestSync(c.runDir, this.#manifest);
    this.#started = true;
    this.#hooks.onStart?.(this.#origin);
    for (const h of this.#handles) h.start(this.#origin);
    this.#progress?.start(() => this.#progressState());
    await Promise.all(this.#handles.map((h) => h.finished));
    return this.#finish();
  }

  /** Graceful stop (first SIGINT): no new sends; in-flight requests get the grace period, then are cancelled. */
  stop(reason: string): void {
    if (this.#interrupted !== null) return;
    this.#interrupted = reason;
    this.#notice(
      `shadowbench: ${reason}: stopping new sends; waiting up to ${this.config.graceMs / 1000} s for the requests in flight (about ${this.#sum('inflight')}) (again to exit at once)`,
    );
    for (const h of this.#handles) h.stop(reason, this.config.graceMs);
  }

  /**
   * Prompt exit (second SIGINT): in-flight requests are cancelled at once, so each still becomes a
   * `cancelled` record (records = arms × sent, as after a graceful stop); the senders get at most
   * EXIT_NOW_WAIT_MS to hand them over, then the records received and run.json are saved and the
   * process exits. Called again (a third SIGINT), it exits without waiting.
   */
  exitNow(reason: string, code: number): void {
    const save = (complete: boolean) => {
      this.#writer?.flushSync();
      if (this.#manifest !== null) {
        if (!complete) this.#warnings.push(`${reason}: exited before every in-flight request was recorded; their records are missing`);
        writeManifestSync(this.config.runDir, this.#finalManifest(reason));
      }
      process.exit(code);
    };
    if (this.#exiting) save(false);
    this.#exiting = true;
    this.#progress?.stop();
    this.#interrupted ??= reason;
    // The in-flight count is the senders' last sample (every 0.5 s): "about".
    this.#notice(
      `shadowbench: ${reason}: cancelling the requests in flight (about ${this.#sum('inflight')}) and exiting (again to exit without their records)`,
    );
    for (const h of this.#handles) {
      h.cancel(`run stopped at once (${reason})`); // first: a drain with no grace would cancel them as "after the grace period"
      h.stop(reason, 0);
    }
    const timer = setTimeout(() => save(false), EXIT_NOW_WAIT_MS);
    void Promise.all(this.#handles.map((h) => h.finished)).then(() => {
      clearTimeout(timer);
      save(true);
    });
  }

  #createHandles(): SenderHandle[] {
    const c = this.config;
    const n = Math.max(1, c.workers);
    // Trace and Azure files go to the workers as their shared index, not as built prompts.
    const workload = isWorkloadSource(c.workload) ? workloadSpec(c.workload) : c.workload;
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
    const worker = new Worker(new URL('./worker.ts', import.meta.url), { workerData: setup });
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
      stop: (reason, graceMs) => send({ type: 'stop', reason, graceMs }),
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
    this.#writer?.write(record);
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
      started_at: new Date().toISOString(),
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
      mono_origin_ns: this.#origin.toString(),
    });
  }

  #finalManifest(interrupted: string | null): RunManifest & { counts: Record<string, unknown> } {
    const manifest = this.#manifest as RunManifest;
    return {
      ...manifest,
      ended_at: new Date().toISOString(),
      interrupted,
      warnings: [...manifest.warnings, ...this.#warnings],
      counts: {
        pairs_sent: this.#sum('sent'),
        max_sender_busy: Number(this.#maxWork.toFixed(3)),
        max_sender_starved: Number(this.#maxStarved.toFixed(3)),
        records: this.#writer?.written ?? 0,
        by_arm: Object.fromEntries(this.#counts),
      },
    };
  }

  async #finish(): Promise<LoadResult> {
    const final = this.#started ? this.#progressState() : undefined;
    this.#progress?.stop(final);
    await this.#writer?.close();
    if (this.#manifest === null) {
      this.#origin = monoNow();
      this.#manifest = this.#buildManifest();
    }
    const records = this.#writer?.written ?? 0;
    const interruptedBeforeSending = this.#interrupted !== null && this.#sum('sent') === 0 && records === 0;
    if (interruptedBeforeSending) {
      this.#warnings.push(`${this.#interrupted}: interrupted before the first request was sent; no records`);
      rmSync(join(this.config.runDir, 'records.jsonl'), { force: true });
    }
    const manifest = this.#finalManifest(this.#interrupted);
    writeManifestSync(this.config.runDir, manifest);
    return {
      runDir: this.config.runDir,
      manifest,
      records,
      sent: this.#sum('sent'),
      interrupted: this.#interrupted,
      interruptedBeforeSending,
    };
  }
}

/** Runs the Node engine to completion (or until stop()); the caller wires SIGINT to stop/exitNow. */
export async function runNodeLoad(config: LoadConfig): Promise<LoadResult> {
  return new NodeLoadRun(config).run();
}
