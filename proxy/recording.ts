// The proxy's records on their way to disk, isolated from serving: a write failure (ENOSPC, EIO,
// EDQUOT...) must never take live traffic down. Records completed in one event-loop turn are
// written together on the next turn (setImmediate), never on a client's path; a failure pauses
// recording (the records of that batch and those that complete while paused are counted as lost,
// not kept in memory), says so once on stderr and in the admin status, and a write is tried again
// (with the next completed record) every retryMs: the first that succeeds resumes recording.
import type { RequestRecord } from '../core/record.ts';

/** Where records go (io/records-file.ts RecordWriter; tests inject a failing one). */
export interface RecordSink {
  write(record: RequestRecord): void;
  /** Writes everything pending now; throws what the file system threw. */
  flushSync(): void;
}

export interface RecordingStatus {
  /** 'paused': the last write failed; records are counted as lost until a write succeeds again. */
  state: 'recording' | 'paused';
  /** The failure that paused recording (code and message), or null. */
  error: string | null;
  /** The last failure, kept after recording resumed. */
  last_error: string | null;
  /** Wall-clock ISO time of the pause, or null. */
  since: string | null;
  written: number;
  /** Records never written (their batch failed, or they completed while paused). */
  lost: number;
  /** Times recording was paused. */
  pauses: number;
}

export class SafeRecords {
  readonly #sink: RecordSink;
  readonly #log: (message: string) => void;
  readonly #retryMs: number;
  readonly #nowMs: () => number;
  #pending: RequestRecord[] = [];
  #scheduled: NodeJS.Immediate | null = null;
  #pausedAt: number | null = null;
  #status: RecordingStatus = { state: 'recording', error: null, last_error: null, since: null, written: 0, lost: 0, pauses: 0 };

  constructor(sink: RecordSink, options: { log: (message: string) => void; retryMs?: number; nowMs?: () => number }) {
    this.#sink = sink;
    this.#log = options.log;
    this.#retryMs = options.retryMs ?? 5_000;
    this.#nowMs = options.nowMs ?? Date.now;
  }

  /** Queues a finished record; it is written on the next turn (or counted lost while paused). */
  add(record: RequestRecord): void {
    if (this.#pausedAt !== null && this.#nowMs() - this.#pausedAt < this.#retryMs) {
      this.#status.lost++;
      return;
    }
    this.#pending.push(record);
    this.#scheduled ??= setImmediate(() => this.flush());
  }

  /** Writes what is queued now. Never throws. */
  flush(): void {
    if (this.#scheduled !== null) clearImmediate(this.#scheduled);
    this.#scheduled = null;
    const batch = this.#pending;
    if (batch.length === 0) return;
    this.#pending = [];
    try {
      for (const record of batch) this.#sink.write(record);
      this.#sink.flushSync();
    } catch (error) {
      this.#pause(error as NodeJS.ErrnoException, batch.length);
      return;
    }
    this.#status.written += batch.length;
    if (this.#pausedAt !== null) {
      this.#log(`proxy: recording resumed; ${this.#status.lost} records were lost while it was paused (${this.#status.error})`);
      this.#pausedAt = null;
      this.#status = { ...this.#status, state: 'recording', error: null, since: null };
    }
  }

  #pause(error: NodeJS.ErrnoException, batch: number): void {
    this.#status.lost += batch;
    const first = this.#pausedAt === null;
    this.#pausedAt = this.#nowMs();
    if (!first) return; // still failing: already said
    const what = `${error.code ?? 'error'}: ${error.message}`;
    this.#status = {
      ...this.#status,
      state: 'paused',
      error: what,
      last_error: what,
      since: new Date(this.#pausedAt).toISOString(),
      pauses: this.#status.pauses + 1,
    };
    this.#log(
      `proxy: recording paused, records cannot be written (${what}); clients are still served; retrying every ${this.#retryMs / 1000} s`,
    );
  }

  status(): RecordingStatus {
    return { ...this.#status };
  }
}
