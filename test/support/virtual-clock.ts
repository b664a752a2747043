// A virtual clock for the engine's scheduler and client (engine/pacer.ts EngineClock), a pacer that
// wakes on it (on time or late, as the test says), and a scripted HTTP transport (an undici
// Dispatcher) whose responses arrive at virtual instants. Time moves only when the test advances it,
// so "never early", "exactly once", "the lag of a late wake" and "deadline → timeout" are exact
// assertions, whatever the machine's load.
import type { Dispatcher } from 'undici';
import type { EngineClock, PacerLike } from '../../engine/pacer.ts';

interface VirtualTimer {
  at: bigint;
  seq: number;
  fn: () => void;
  cancelled: boolean;
}

/** Lets queued microtasks and immediates (the sender's chunk-triggered sends) run. */
export const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

export const ms = (x: number): bigint => BigInt(Math.round(x * 1e6));

export class VirtualClock implements EngineClock {
  #now: bigint;
  #seq = 0;
  readonly #timers: VirtualTimer[] = [];

  constructor(start = 1_000_000_000n) {
    this.#now = start;
  }

  now(): bigint {
    return this.#now;
  }

  setTimer(fn: () => void, delayMs: number): unknown {
    return this.setTimerAt(fn, this.#now + ms(Math.max(0, delayMs)));
  }

  /** A timer at an absolute virtual instant. */
  setTimerAt(fn: () => void, at: bigint): VirtualTimer {
    const timer: VirtualTimer = { at: at < this.#now ? this.#now : at, seq: this.#seq++, fn, cancelled: false };
    this.#timers.push(timer);
    return timer;
  }

  /** Cancels and forgets the timer, as clearTimeout does (its callback is not kept: test/sender-memory.test.ts counts what stays alive). */
  clearTimer(handle: unknown): void {
    if (handle === undefined || handle === null) return;
    const timer = handle as VirtualTimer;
    timer.cancelled = true;
    timer.fn = () => undefined;
    const i = this.#timers.indexOf(timer);
    if (i !== -1) this.#timers.splice(i, 1);
  }

  /** The earliest pending timer's instant, or null. */
  get nextAt(): bigint | null {
    const next = this.#next();
    return next?.at ?? null;
  }

  #next(): VirtualTimer | undefined {
    let best: VirtualTimer | undefined;
    for (const t of this.#timers)
      if (!t.cancelled && (best === undefined || t.at < best.at || (t.at === best.at && t.seq < best.seq))) best = t;
    return best;
  }

  /** Runs every timer due up to `to`, each at its own instant (microtasks settle after each), then sets now = `to`. */
  async advanceTo(to: bigint): Promise<void> {
    await settle();
    for (;;) {
      const next = this.#next();
      if (next === undefined || next.at > to) break;
      this.#timers.splice(this.#timers.indexOf(next), 1);
      if (next.at > this.#now) this.#now = next.at;
      next.fn();
      await settle();
    }
    if (to > this.#now) this.#now = to;
    await settle();
  }

  advanceBy(delayMs: number): Promise<void> {
    return this.advanceTo(this.#now + ms(delayMs));
  }

  /** Runs timers until none is left or `done()` holds (at most `limit` virtual ms ahead). */
  async runUntil(done: () => boolean, limitMs = 600_000): Promise<void> {
    const end = this.#now + ms(limitMs);
    await settle();
    while (!done()) {
      const at = this.nextAt;
      if (at === null || at > end) break;
      await this.advanceTo(at);
    }
  }
}

/** Wakes the sender on the virtual clock, `late(n)` ms after the due instant of its n-th wake-up (0 = on time). */
export class VirtualPacer implements PacerLike {
  readonly idlePollNs = 0n;
  /** Wake-ups that fired (each a call to the sender's fire). */
  fired = 0;
  #armed = 0;
  #timer: unknown = null;
  readonly #clock: VirtualClock;
  readonly #late: (n: number) => number | null;

  /** `late(n)` returns null for a wake-up that never comes (only chunks can send then). */
  constructor(clock: VirtualClock, late: (n: number) => number | null = () => 0) {
    this.#clock = clock;
    this.#late = late;
  }

  at(due: bigint, fire: (now: bigint) => void): void {
    this.cancel();
    const late = this.#late(this.#armed++);
    if (late === null) return;
    this.#timer = this.#clock.setTimerAt(
      () => {
        this.#timer = null;
        this.fired++;
        fire(this.#clock.now());
      },
      due + ms(late),
    );
  }

  cancel(): void {
    this.#clock.clearTimer(this.#timer);
    this.#timer = null;
  }

  close(): void {
    this.cancel();
  }
}

/** How the scripted upstream answers one request: times in ms after it was dispatched; null = never. */
export interface Script {
  headersMs: number | null;
  status?: number;
  contentType?: string;
  /** Body chunks (SSE text for a stream) and when each arrives. */
  chunks?: Array<{ atMs: number; text: string }>;
  endMs: number | null;
}

export interface Dispatch {
  id: string;
  at: bigint;
  headers: Record<string, string>;
  aborted: boolean;
}

export const sseChunk = (text: string) =>
  `data: ${JSON.stringify({ choices: [{ index: 0, delta: { content: text }, finish_reason: null }] })}\n\n`;
export const SSE_DONE = 'data: [DONE]\n\n';

/** A stream of `n` content chunks `gapMs` apart from `firstMs`, then [DONE] with the last one. */
export function streamScript(n: number, firstMs: number, gapMs: number): Script {
  const chunks = Array.from({ length: n }, (_, k) => ({
    atMs: firstMs + k * gapMs,
    text: sseChunk(`t${k} `) + (k === n - 1 ? SSE_DONE : ''),
  }));
  return { headersMs: firstMs / 2, chunks, endMs: firstMs + (n - 1) * gapMs };
}

/**
 * An undici Dispatcher answering on the virtual clock: `script(id)` (id = the x-request-id header,
 * run:arm:index) says when the headers, each chunk and the end arrive. Every dispatch is logged.
 */
export class ScriptedTransport {
  readonly dispatches: Dispatch[] = [];
  readonly #clock: VirtualClock;
  readonly #script: (id: string) => Script;

  constructor(clock: VirtualClock, script: (id: string) => Script) {
    this.#clock = clock;
    this.#script = script;
  }

  /** Dispatches per request id. */
  counts(): Map<string, number> {
    const out = new Map<string, number>();
    for (const d of this.dispatches) out.set(d.id, (out.get(d.id) ?? 0) + 1);
    return out;
  }

  dispatcher(): Dispatcher {
    const clock = this.#clock;
    const log = this.dispatches;
    const scriptFor = this.#script;
    const dispatch = (options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean => {
      const headers = options.headers as Record<string, string>;
      const entry: Dispatch = { id: headers['x-request-id'] ?? '', at: clock.now(), headers, aborted: false };
      log.push(entry);
      const script = scriptFor(entry.id);
      const timers: unknown[] = [];
      const controller = {
        aborted: false,
        paused: false,
        reason: null as Error | null,
        abort(reason: Error) {
          if (controller.aborted) return;
          controller.aborted = true;
          controller.reason = reason;
          entry.aborted = true;
          for (const t of timers) clock.clearTimer(t);
          handler.onResponseError?.(controller, reason);
        },
        pause() {},
        resume() {},
      };
      const c = controller as unknown as Dispatcher.DispatchController;
      const at = (delayMs: number, fn: () => void) =>
        timers.push(clock.setTimerAt(() => !controller.aborted && fn(), entry.at + ms(delayMs)));
      handler.onRequestStart?.(c, {});
      if (script.headersMs !== null)
        at(script.headersMs, () =>
          handler.onResponseStart?.(c, script.status ?? 200, { 'content-type': script.contentType ?? 'text/event-stream' }, 'OK'),
        );
      for (const chunk of script.chunks ?? []) at(chunk.atMs, () => handler.onResponseData?.(c, Buffer.from(chunk.text)));
      if (script.endMs !== null) at(script.endMs, () => handler.onResponseEnd?.(c, {}));
      return true;
    };
    return { dispatch, close: () => Promise.resolve(), destroy: () => Promise.resolve() } as unknown as Dispatcher;
  }
}
