// The live progress line on stderr: rewritten in place on a terminal, plain lines (less often) otherwise.

export interface ArmCounts {
  ok: number;
  /** Failures of the server or the connection (every non-ok outcome but cancelled). */
  errors: number;
  /** Requests shadowbench ended itself (Ctrl-C): not errors, as in the analysis. */
  cancelled: number;
}

export interface ProgressState {
  elapsedS: number;
  /** Pairs sent so far. */
  sent: number;
  /** Requests (all arms) in flight. */
  inflight: number;
  queued: number;
  arms: Array<[arm: string, counts: ArmCounts]>;
}

/** e.g. `12.0 s  sent 1200 (100.0/s)  in flight 35  | baseline ok 1180 err 0 | candidate ok 1179 err 1` */
export function formatProgress(s: ProgressState): string {
  const rate = s.elapsedS > 0 ? s.sent / s.elapsedS : 0;
  const arms = s.arms
    .map(([arm, c]) => `${arm} ok ${c.ok} err ${c.errors}${c.cancelled > 0 ? ` cancelled ${c.cancelled}` : ''}`)
    .join(' | ');
  const queued = s.queued > 0 ? `  queued ${s.queued}` : '';
  return `${s.elapsedS.toFixed(1).padStart(6)} s  sent ${s.sent} (${rate.toFixed(1)}/s)  in flight ${s.inflight}${queued}  | ${arms}`;
}

export class ProgressLine {
  readonly #stream: NodeJS.WriteStream;
  readonly #tty: boolean;
  #timer: NodeJS.Timeout | null = null;
  #ticks = 0;
  #dirty = false;

  constructor(stream: NodeJS.WriteStream = process.stderr) {
    this.#stream = stream;
    this.#tty = stream.isTTY === true;
  }

  /** Every second on a terminal; every 5 s as plain lines when stderr is a file or pipe. */
  start(state: () => ProgressState): void {
    this.#timer = setInterval(() => {
      this.#ticks++;
      if (this.#tty) {
        this.#stream.write(`\r\x1b[K${formatProgress(state())}`);
        this.#dirty = true;
      } else if (this.#ticks % 5 === 0) {
        this.#stream.write(`${formatProgress(state())}\n`);
      }
    }, 1000);
    this.#timer.unref();
  }

  /** Prints a message without garbling the in-place line. */
  note(message: string): void {
    this.#clear();
    this.#stream.write(`${message}\n`);
  }

  stop(final?: ProgressState): void {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
    this.#clear();
    if (final !== undefined) this.#stream.write(`${formatProgress(final)}\n`);
  }

  #clear(): void {
    if (this.#dirty) this.#stream.write('\r\x1b[K');
    this.#dirty = false;
  }
}
