// Stop signals while a command runs a load: SIGINT (Ctrl-C), SIGTERM (timeout, CI cancellation,
// Kubernetes) and SIGHUP (a closed terminal) all mean the same: the first stops sending, lets the
// requests in flight finish for --grace, flushes and marks the run interrupted; a second one cancels
// what is in flight and saves at once; a third exits without waiting. Before the load starts a signal
// aborts the start-up (the preflight check); after it (the analysis) it exits at once.
// The decisions are here, apart from process.on, so they can be tested with a fake process.

export const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
export type StopSignal = (typeof STOP_SIGNALS)[number];

/** The shell's exit status after a signal: 128 + its number (SIGHUP 129, SIGINT 130, SIGTERM 143). */
export const SIGNAL_EXIT: Record<StopSignal, number> = { SIGHUP: 129, SIGINT: 130, SIGTERM: 143 };

/** What a running load offers the signals (engine/run-load.ts NodeLoadRun; the k6 launcher). */
export interface InterruptTarget {
  /** First signal: stop sending, drain within --grace, flush, mark interrupted. */
  stop(reason: string): void;
  /** Second signal: cancel the requests in flight, save, end. */
  exitNow(reason: string): void;
  /** Third signal, right before the process exits: save synchronously what can be saved. */
  abandon?(): void;
}

/** The part of `process` the signals need (a fake in tests). */
export interface SignalSource {
  on(signal: StopSignal, listener: (signal: StopSignal) => void): unknown;
  off(signal: StopSignal, listener: (signal: StopSignal) => void): unknown;
}

type Phase = 'starting' | 'running' | 'after';

export class Interrupts {
  /** Stop signals received so far. */
  count = 0;
  /** The first one: it names the interruption and the exit code. */
  first: StopSignal | null = null;
  /** Aborted by a signal during start-up (ends the preflight check at once). */
  readonly startup = new AbortController();
  #phase: Phase = 'starting';
  #target: InterruptTarget | null = null;
  readonly #source: SignalSource;
  readonly #exit: (code: number) => void;
  readonly #notice: (line: string) => void;
  readonly #listener = (signal: StopSignal) => this.handle(signal);

  constructor(options: { source?: SignalSource; exit?: (code: number) => void; notice?: (line: string) => void } = {}) {
    this.#source = options.source ?? process;
    this.#exit = options.exit ?? ((code) => process.exit(code));
    this.#notice = options.notice ?? ((line) => process.stderr.write(`${line}\n`));
  }

  attach(): this {
    for (const s of STOP_SIGNALS) this.#source.on(s, this.#listener);
    return this;
  }

  dispose(): void {
    for (const s of STOP_SIGNALS) this.#source.off(s, this.#listener);
  }

  /** Exit status for a run stopped by these signals (130 when none was received: a caller's default). */
  get exitCode(): number {
    return this.first === null ? SIGNAL_EXIT.SIGINT : SIGNAL_EXIT[this.first];
  }

  /** The load runs: signals go to `target`. */
  running(target: InterruptTarget): void {
    this.#phase = 'running';
    this.#target = target;
    // A signal that arrived during start-up already stopped it: the target is not started by the caller.
  }

  /** The load is over (analysis): a signal exits at once. */
  after(): void {
    this.#phase = 'after';
    this.#target = null;
  }

  handle(signal: StopSignal): void {
    this.count++;
    this.first ??= signal;
    if (this.#phase === 'starting') {
      this.startup.abort();
      return;
    }
    const target = this.#target;
    if (this.#phase === 'after' || target === null) {
      this.#exit(SIGNAL_EXIT[signal]);
      return;
    }
    if (this.count === 1) target.stop(signal);
    else if (this.count === 2) target.exitNow(`${signal} (second)`);
    else {
      this.#notice(`shadowbench: ${signal} (third): exiting now`);
      target.abandon?.();
      this.#exit(this.exitCode);
    }
  }
}
