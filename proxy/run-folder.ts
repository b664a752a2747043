// The proxy's run folder: the same records.jsonl and run.json as a replay (so `npm run analyze`
// reads live traffic), plus two proxy-only side files:
//   routing.jsonl  one line per proxied request: which arm was primary (served the client), the
//                  weight in force, and whether the shadow was sent, dropped (queue full) or off.
//                  Kept out of the record so the record schema stays engine-neutral.
//   events.jsonl   rollbacks, weight changes, operator actions, with the reasons.
import { createWriteStream } from 'node:fs';
import type { Writable } from 'node:stream';
import { rm } from 'node:fs/promises';
import { once } from 'node:events';
import { join } from 'node:path';
import type { Arm } from '../core/record.ts';
import type { RunManifest } from '../core/run.ts';
import { RecordWriter } from '../io/records-file.ts';
import { createRunFolder, writeRunManifest, type RunFolderLock } from '../io/run-folder.ts';

export interface RoutingLine {
  index: number;
  primary: Arm;
  /** Candidate weight when the request arrived. */
  weight: number;
  shadow: 'sent' | 'dropped' | 'off';
}

export type ProxyEvent =
  | { event: 'started'; weight: number; source: 'manual' | 'schedule' }
  | { event: 'weight'; weight: number; source: 'manual' | 'schedule' | 'admin' }
  | { event: 'rollback'; reasons: string[]; window: unknown }
  | { event: 'rollback_reset'; weight: number }
  | { event: 'stopped'; reason: string; totals: unknown };

/** Opens a journal file for appending (tests: a stream whose disk fills up). */
export type OpenJournal = (file: string) => Writable;

const openAppend: OpenJournal = (file) => createWriteStream(file, { flags: 'a' });

/**
 * Appends one JSON object per line. A write error (ENOSPC, EIO) must not take the proxy down: live
 * traffic never waits on these logs. The first error is said once on the proxy's log, shown in its
 * state (admin status) and in run.json's warnings; later lines are dropped (the routing and event
 * logs are diagnostics; the records have their own pause-and-resume writer).
 */
class JsonLines {
  readonly name: string;
  #stream: Writable;
  #failed: string | null = null;
  #dropped = 0;
  constructor(file: string, name: string, open: OpenJournal, log: (message: string) => void) {
    this.name = name;
    this.#stream = open(file);
    this.#stream.on('error', (error: NodeJS.ErrnoException) => {
      if (this.#failed !== null) return;
      this.#failed = error.code ?? error.message;
      log(`proxy: ${file}: ${this.#failed}; no longer written (clients are still served; records are written apart)`);
    });
  }
  /** Why the file stopped being written (an error code such as ENOSPC), or null. */
  get failed(): string | null {
    return this.#failed;
  }
  /** Lines not written since the failure. */
  get dropped(): number {
    return this.#dropped;
  }
  write(value: unknown): void {
    if (this.#failed === null) this.#stream.write(JSON.stringify(value) + '\n');
    else this.#dropped++;
  }
  async close(): Promise<void> {
    if (this.#failed !== null || this.#stream.destroyed) return;
    this.#stream.end();
    await Promise.race([once(this.#stream, 'close'), once(this.#stream, 'error')]);
  }
}

/** A journal file that stopped being written (ProxyState.journal). */
export interface JournalFailure {
  file: string;
  error: string;
  /** Lines dropped since. */
  dropped: number;
}

/** Where the journal's failures are said, and how its files are opened (tests inject a failing stream). */
export interface JournalOptions {
  log: (message: string) => void;
  open?: OpenJournal;
}

export class ProxyRunFolder {
  readonly dir: string;
  readonly records: RecordWriter;
  readonly #routing: JsonLines;
  readonly #events: JsonLines;
  #manifest: RunManifest;
  readonly #lock: RunFolderLock;

  private constructor(dir: string, manifest: RunManifest, lock: RunFolderLock, journal: JournalOptions) {
    this.dir = dir;
    this.#manifest = manifest;
    this.#lock = lock;
    this.records = new RecordWriter(join(dir, 'records.jsonl'), { flags: 'wx' });
    const open = journal.open ?? openAppend;
    this.#routing = new JsonLines(join(dir, 'routing.jsonl'), 'routing.jsonl', open, journal.log);
    this.#events = new JsonLines(join(dir, 'events.jsonl'), 'events.jsonl', open, journal.log);
  }

  /** The journal files that stopped being written (empty while both are). */
  journalFailures(): JournalFailure[] {
    return [this.#routing, this.#events].flatMap((f) => (f.failed === null ? [] : [{ file: f.name, error: f.failed, dropped: f.dropped }]));
  }

  /**
   * Takes a new folder for this run (io/run-folder.ts: a folder holding anything is refused, records
   * are never appended to another run's) and writes run.json with status running.
   */
  static async create(dir: string, manifest: RunManifest, journal: JournalOptions): Promise<ProxyRunFolder> {
    const lock = createRunFolder(dir, { flag: '--run-id', canForce: false });
    try {
      const folder = new ProxyRunFolder(dir, { ...manifest, status: 'running', planned: null }, lock, journal);
      await folder.#writeManifest();
      return folder;
    } catch (error) {
      lock.release();
      throw error;
    }
  }

  route(line: RoutingLine): void {
    this.#routing.write(line);
  }

  /** `t_ns` is monotonic ns since run start, like the records' timestamps. */
  event(event: ProxyEvent, t_ns: number): void {
    this.#events.write({ at: new Date().toISOString(), t_ns, ...event });
  }

  async #writeManifest(): Promise<void> {
    writeRunManifest(this.dir, this.#manifest); // write-then-rename: a reader never sees half a run.json
    return Promise.resolve();
  }

  /** Closes the files and removes the folder: the proxy never started, so there is no run to keep. */
  async discard(): Promise<void> {
    await Promise.all([this.records.close(), this.#routing.close(), this.#events.close()]);
    this.#lock.release();
    await rm(this.dir, { recursive: true, force: true });
  }

  /** Flushes every file and completes run.json. */
  async close(end: { interrupted: string | null; warnings: string[] }): Promise<void> {
    await Promise.all([this.records.close(), this.#routing.close(), this.#events.close()]);
    const journal = this.journalFailures().map(
      (f) => `${f.file} could not be written (${f.error}); ${f.dropped} lines after the failure are missing from it`,
    );
    this.#manifest = {
      ...this.#manifest,
      // A proxy has no planned end: being stopped (SIGTERM, Ctrl-C) is how it completes; `interrupted` says by what.
      status: 'complete',
      ended_at: new Date().toISOString(),
      interrupted: end.interrupted,
      warnings: [...this.#manifest.warnings, ...end.warnings, ...journal],
    };
    await this.#writeManifest();
    this.#lock.release();
  }
}
