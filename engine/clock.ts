// A precise alarm clock for an event loop that burns (almost) no CPU while it waits.
//
// libuv sleeps in epoll_wait with millisecond timeouts, so a plain timer wakes up to ~1-2 ms late;
// the spin pacer (pacer.ts) fixes that by polling for the last 2 ms before each send, which cost
// ≈ 20-30 % of a core per sending thread at 100 wake-ups/s on the dev VM — CPU the servers and the
// other senders need on a small machine. Here a helper thread sleeps in Atomics.wait (a futex with a nanosecond
// timeout), wakes LEAD_NS before the due instant and posts a message, which wakes the sender's
// event loop at once (an eventfd in its epoll set). The sender then polls only the last millisecond
// (absorbing the wake-up latency of a sleeping thread on this VM: ~0.2-0.3 ms median, ~1 ms p99).
//
// Protocol through a SharedArrayBuffer: slot DUE holds the next alarm (absolute monotonic ns, 0 =
// none), GEN counts re-arms (the helper waits on it, so re-arming wakes it), STOP ends the helper.
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { monoNow, type PacerLike } from './pacer.ts';

/** Wake this long before the due instant; the sender polls the rest (≈ the VM's p99 thread wake-up latency). */
const LEAD_NS = 1_000_000n;
const IDLE_POLL_GAP_NS = 100_000n;

const GEN = 0;
const STOP = 1;
const DUE = 0;

interface ClockShared {
  control: Int32Array;
  due: BigInt64Array;
}

/** The helper thread's loop: sleep until the alarm's wake-up instant, post the generation, repeat. */
function clockLoop(shared: ClockShared, post: (generation: number) => void): void {
  const { control, due } = shared;
  let posted = -1;
  while (Atomics.load(control, STOP) === 0) {
    const generation = Atomics.load(control, GEN);
    const alarm = Atomics.load(due, DUE);
    if (alarm === 0n || generation === posted) {
      Atomics.wait(control, GEN, generation); // until re-armed or stopped
      continue;
    }
    const remaining = alarm - LEAD_NS - monoNow();
    if (remaining > 0n) {
      Atomics.wait(control, GEN, generation, Number(remaining) / 1e6); // returns early if re-armed
      continue;
    }
    posted = generation;
    post(generation);
  }
}

if (!isMainThread && (workerData as { shadowbenchClock?: boolean } | null)?.shadowbenchClock === true) {
  const { control, due } = workerData as { control: Int32Array; due: BigInt64Array };
  clockLoop({ control, due }, (generation) => parentPort!.postMessage(generation));
}

/** Pacer driven by a helper clock thread (one per sending thread). */
export class ClockPacer implements PacerLike {
  readonly #control = new Int32Array(new SharedArrayBuffer(8));
  readonly #due = new BigInt64Array(new SharedArrayBuffer(8));
  readonly #worker: Worker;
  #fire: ((now: bigint) => void) | null = null;
  #dueAt = 0n;
  #generation = 0;
  #immediate: NodeJS.Immediate | null = null;
  #idlePollNs = 0n;
  /** Resolves once the helper thread runs. */
  readonly ready: Promise<void>;
  readonly #now: () => bigint;

  /** `now` is the clock the sender's last-millisecond polls read (tests: a virtual one; the helper thread always sleeps on the real one). */
  constructor(now: () => bigint = monoNow) {
    this.#now = now;
    this.#worker = new Worker(new URL(import.meta.url), { workerData: { shadowbenchClock: true, control: this.#control, due: this.#due } });
    this.ready = new Promise((resolve, reject) => {
      this.#worker.once('online', () => resolve());
      this.#worker.once('error', reject);
    });
    this.#worker.on('message', (generation: number) => {
      if (generation === this.#generation && this.#fire !== null) this.#poll(0n);
    });
    this.#worker.unref(); // an armed alarm keeps nothing alive by itself; the sender's work does
  }

  at(due: bigint, fire: (now: bigint) => void): void {
    this.cancel();
    this.#fire = fire;
    this.#dueAt = due;
    if (due - this.#now() <= LEAD_NS) {
      // Polled from the next turn, never fired from inside at(): a sender that re-arms with an overdue
      // request must let the event loop run in between (engine/sender.ts SEND_BURST).
      this.#immediate = setImmediate(() => this.#poll(0n));
      return;
    }
    this.#worker.ref();
    this.#generation = (this.#generation + 1) | 0;
    Atomics.store(this.#due, DUE, due);
    Atomics.store(this.#control, GEN, this.#generation);
    Atomics.notify(this.#control, GEN);
  }

  #poll(lastPoll: bigint): void {
    this.#immediate = null;
    const fire = this.#fire;
    if (fire === null) return;
    const now = this.#now();
    if (lastPoll !== 0n && now - lastPoll < IDLE_POLL_GAP_NS) this.#idlePollNs += now - lastPoll;
    if (now >= this.#dueAt) {
      this.#fire = null;
      this.#worker.unref();
      fire(now);
      return;
    }
    this.#immediate = setImmediate(() => this.#poll(now));
  }

  cancel(): void {
    this.#fire = null;
    if (this.#immediate !== null) clearImmediate(this.#immediate);
    this.#immediate = null;
    Atomics.store(this.#due, DUE, 0n);
    this.#generation = (this.#generation + 1) | 0;
    Atomics.store(this.#control, GEN, this.#generation);
    Atomics.notify(this.#control, GEN);
    this.#worker.unref();
  }

  get idlePollNs(): bigint {
    return this.#idlePollNs;
  }

  /** Ends the helper thread. */
  close(): void {
    this.cancel();
    Atomics.store(this.#control, STOP, 1);
    Atomics.notify(this.#control, GEN);
    void this.#worker.terminate();
  }
}
