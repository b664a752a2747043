// Precise wake-ups on an event loop. setTimeout alone fires up to ~1-2 ms late (libuv timers have
// millisecond resolution), so the pacer sleeps on a timer until SPIN_WINDOW_MS before the due
// instant, then polls with setImmediate, which lets I/O callbacks run between polls, so responses
// keep being timestamped while it waits. Measured on the 2-core dev VM (idle loop, 100 wake-ups/s):
// a 2 ms window gave p99 lateness ≈ 0.1-0.2 ms at ≈ 25 % of the loop spent polling.
//
// Polling keeps the loop "busy" for performance.eventLoopUtilization(), so the pacer counts the
// polling it did with nothing else to do (consecutive polls closer than IDLE_POLL_GAP_NS) and
// LoadMeter subtracts it from the thread's CPU time: the share of time spent on real work.

/** Monotonic now in ns (CLOCK_MONOTONIC: shared by every thread and process of the machine). */
export const monoNow = (): bigint => process.hrtime.bigint();

/**
 * The time source of the scheduler and the client: monotonic now and one-shot timers. Production
 * uses systemClock; the functional tests inject a virtual clock (test/support/virtual-clock.ts) so
 * "never early", "exactly once" and "deadline → timeout" are exact assertions, not wall-clock bounds.
 */
export interface EngineClock {
  /** Monotonic now in ns. */
  now(): bigint;
  /** Calls `fn` once, `ms` from now; returns a handle for clearTimer. */
  setTimer(fn: () => void, ms: number): unknown;
  clearTimer(handle: unknown): void;
}

export const systemClock: EngineClock = {
  now: monoNow,
  setTimer: (fn, ms) => setTimeout(fn, ms),
  clearTimer: (handle) => clearTimeout(handle as NodeJS.Timeout | undefined),
};

const SPIN_WINDOW_MS = 2;
/** Two polls this close together had no I/O work between them: the gap was idle waiting. */
const IDLE_POLL_GAP_NS = 100_000n;

/** Wakes a sender at a due instant (see Pacer below and ClockPacer in clock.ts). */
export interface PacerLike {
  /**
   * Calls `fire(now)` once monoNow() ≥ due, never from inside at() (an overdue `due` fires on a later
   * turn of the event loop, so I/O and messages run in between). Replaces any pending wake-up.
   */
  at(due: bigint, fire: (now: bigint) => void): void;
  cancel(): void;
  /** Idle polling so far, in ns (subtract from CPU time to get real work). */
  readonly idlePollNs: bigint;
  close(): void;
}

export type PacerKind = 'clock' | 'spin';

export class Pacer implements PacerLike {
  #timer: NodeJS.Timeout | null = null;
  #immediate: NodeJS.Immediate | null = null;
  #idlePollNs = 0n;
  readonly #now: () => bigint;

  /** `now` is the monotonic clock the due instants are on (tests: a virtual one). */
  constructor(now: () => bigint = monoNow) {
    this.#now = now;
  }

  /** Calls `fire(now)` once monoNow() ≥ due (immediately, on the next turn, if already due). Replaces any pending wake-up. */
  at(due: bigint, fire: (now: bigint) => void): void {
    this.cancel();
    let lastPoll = 0n;
    const poll = () => {
      this.#immediate = null;
      const now = this.#now();
      if (lastPoll !== 0n && now - lastPoll < IDLE_POLL_GAP_NS) this.#idlePollNs += now - lastPoll;
      if (now >= due) {
        fire(now);
        return;
      }
      lastPoll = now;
      this.#immediate = setImmediate(poll);
    };
    const remainingMs = Number(due - this.#now()) / 1e6;
    if (remainingMs > SPIN_WINDOW_MS + 1) {
      this.#timer = setTimeout(() => {
        this.#timer = null;
        poll();
      }, remainingMs - SPIN_WINDOW_MS);
    } else {
      this.#immediate = setImmediate(poll);
    }
  }

  cancel(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    if (this.#immediate !== null) clearImmediate(this.#immediate);
    this.#timer = null;
    this.#immediate = null;
  }

  close(): void {
    this.cancel();
  }

  /** Idle polling so far, in ns (subtract from event-loop active time to get real work). */
  get idlePollNs(): bigint {
    return this.#idlePollNs;
  }
}

/** How busy one thread was over an interval (all shares of wall-clock time, 0-1). */
export interface ThreadLoad {
  /** Event-loop utilisation: not waiting for I/O (includes the pacer's polling and time spent descheduled). */
  elu: number;
  /** CPU time of this thread minus the pacer's idle polling: real work. Above ~0.5 timestamps start to lag. */
  work: number;
  /** Active but not on a CPU (event loop busy, thread not running): the machine has more runnable threads than cores. */
  starved: number;
}

/**
 * Measures this thread's load since the previous sample. CPU time comes from
 * process.threadCpuUsage() (this thread only), so time the OS kept the thread off the CPU is not
 * mistaken for work; it shows up as `starved` instead.
 */
export class LoadMeter {
  #last = performance.eventLoopUtilization();
  #lastCpuUs = threadCpuUs();
  #lastIdlePoll = 0n;
  #pacer: PacerLike;
  constructor(pacer: PacerLike) {
    this.#pacer = pacer;
  }
  sample(): ThreadLoad {
    const now = performance.eventLoopUtilization();
    const delta = performance.eventLoopUtilization(now, this.#last);
    this.#last = now;
    const cpuUs = threadCpuUs();
    const cpuMs = (cpuUs - this.#lastCpuUs) / 1000;
    this.#lastCpuUs = cpuUs;
    const idlePoll = this.#pacer.idlePollNs;
    const idleMs = Number(idlePoll - this.#lastIdlePoll) / 1e6;
    this.#lastIdlePoll = idlePoll;
    const wallMs = delta.active + delta.idle;
    if (!(wallMs > 0)) return { elu: 0, work: 0, starved: 0 };
    const clamp = (x: number) => Math.min(1, Math.max(0, x));
    return { elu: delta.utilization, work: clamp((cpuMs - idleMs) / wallMs), starved: clamp((delta.active - cpuMs) / wallMs) };
  }
}

function threadCpuUs(): number {
  const usage = process.threadCpuUsage();
  return usage.user + usage.system;
}
