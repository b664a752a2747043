// The proxy's run folder: the same records.jsonl and run.json as a replay (so `npm run analyze`
// reads live traffic), plus two proxy-only side files:
//   routing.jsonl  one line per proxied request: which arm was primary (served the client), the
//                  weight in force, and whether the shadow was sent, dropped (queue full) or off.
//                  Kept out of the record so the record schema stays engine-neutral.
//   events.jsonl   rollbacks, weight changes, operator actions, with the reasons.
import { createWriteStream, type WriteStream } from 'node:fs';
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

/**
 * Appends one JSON object per line. A write error (ENOSPC, EIO) must not take the proxy down: live
 * traffic never waits on these logs. The first error is said once on stderr and later lines are dropped
 * (the routing and event logs are diagnostics; the records have their own pause-and-resume writer).
 */
class JsonLines {
  #stream: WriteStream;
  #failed: Error | null = null;
  constructor(file: string) {
    this.#stream = createWriteStream(file, { flags: 'a' });
    this.#stream.on('error', (error) => {
      if (this.#failed !== null) return;
      this.#failed = error;
      process.stderr.write(`shadowbench proxy: ${file}: ${(error as NodeJS.ErrnoException).code ?? error.message}; no longer written\n`);
    });
  }
  write(value: unknown): void {
    if (this.#failed === null) this.#stream.write(JSON.stringify(value) + '\n');
  }
  async close(): Promise<void> {
    if (this.#failed !== null || this.#stream.destroyed) return;
    this.#stream.end();
    await Promise.race([once(this.#stream, 'close'), once(this.#stream, 'error')]);
  }
}

export class ProxyRunFolder {
  readonly dir: string;
  readonly records: RecordWriter;
  readonly #routing: JsonLines;
  readonly #events: JsonLines;
  #manifest: RunManifest;
  readonly #lock: RunFolderLock;

  private constructor(dir: string, manifest: RunManifest, lock: RunFolderLock) {
    this.dir = dir;
    this.#manifest = manifest;
    this.#lock = lock;
    this.records = new RecordWriter(join(dir, 'records.jsonl'), { flags: 'wx' });
    this.#routing = new JsonLines(join(dir, 'routing.jsonl'));
    this.#events = new JsonLines(join(dir, 'events.jsonl'));
  }

  /**
   * Takes a new folder for this run (io/run-folder.ts: a folder holding anything is refused, records
   * are never appended to another run's) and writes run.json with status running.
   */
  static async create(dir: string, manifest: RunManifest): Promise<ProxyRunFolder> {
    const lock = createRunFolder(dir, { flag: '--run-id', canForce: false });
    try {
      const folder = new ProxyRunFolder(dir, { ...manifest, status: 'running', planned: null }, lock);
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
    this.#manifest = {
      ...this.#manifest,
      // A proxy has no planned end: being stopped (SIGTERM, Ctrl-C) is how it completes; `interrupted` says by what.
      status: 'complete',
      ended_at: new Date().toISOString(),
      interrupted: end.interrupted,
      warnings: [...this.#manifest.warnings, ...end.warnings],
    };
    await this.#writeManifest();
    this.#lock.release();
  }
}
