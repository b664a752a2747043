// The run folder's one writer and one reader of run.json, its ownership by one run, and the atomic
// writes of the files put into it. Every engine (Node, k6, k6-operator via k6:manifest, the proxy)
// and every reader (analyze, gate, assess) goes through here:
//   - createRunFolder: the folder is owned by one run. A fresh (or empty) folder is taken with an
//     exclusive lock file (run.lock, O_EXCL, holding the owner's pid) kept for the run; a folder that
//     holds anything else is refused unless --force, which removes the previous run's files (records
//     are never appended to another run's) — and even --force is refused while a live process holds it.
//   - writeRunManifest: write-then-rename, so a reader never sees half a run.json.
//   - readRunManifest: JSON.parse + core/run.ts validateRunManifest; an error names the file and field.
//   - writeFileAtomic: exports are written to a temporary file and renamed, so a full disk leaves the
//     previous file or none, never a 0-byte or half one.
// Disk faults (ENOSPC, EIO...) become a RunFolderError: one line naming the file and the error (exit 2).
import {
  closeSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { UsageError } from '../core/options.ts';
import { RunManifestError, validateRunManifest, type RunManifest, type StoredRunManifest } from '../core/run.ts';
import { makeDirs } from './make-dirs.ts';

export const RUN_FILE = 'run.json';
export const LOCK_FILE = 'run.lock';
export const RECORDS_FILE = 'records.jsonl';

/**
 * Files and folders a run (and its analysis) puts into its folder: what --force removes before a new
 * run takes the folder. Anything else in it is left alone.
 */
export const RUN_OWNED = [
  RECORDS_FILE,
  RUN_FILE,
  `${RUN_FILE}.tmp`,
  'summary.csv',
  'pairs.csv',
  'ttft_distribution.csv',
  'summary.json',
  'report.html',
  'server-metrics.csv',
  'cost.csv',
  'junit.xml',
  'summary.md',
  'metrics',
  'routing.jsonl',
  'events.jsonl',
  'k6-config.json',
  'k6-workload.jsonl',
  'k6-summary.json',
  'k6-console.log',
  'testrun.yaml',
];

/**
 * A run folder that cannot be created, read or written: one line naming the file and the error, exit
 * 2 like any bad input (cli/main.ts prints UsageError messages without a stack).
 */
export class RunFolderError extends UsageError {
  readonly code: string | null;
  constructor(message: string, code: string | null = null) {
    super(message);
    this.name = 'RunFolderError';
    this.code = code;
  }
}

const REASONS: Record<string, string> = {
  ENOSPC: 'no space left on the device',
  EDQUOT: 'disk quota exceeded',
  EIO: 'input/output error',
  EROFS: 'read-only file system',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EISDIR: 'is a folder, not a file',
  ENOTDIR: 'a part of the path is a file, not a folder',
  ENOENT: 'no such file or folder',
  EFBIG: 'file too large',
};

/** `cannot write FILE: no space left on the device (ENOSPC)` for an errno error; other errors are returned as they are. */
export function diskError(action: string, file: string, error: unknown): Error {
  if (error instanceof RunFolderError) return error;
  const code = (error as NodeJS.ErrnoException | null)?.code;
  if (typeof code !== 'string') return error instanceof Error ? error : new Error(String(error));
  return new RunFolderError(`cannot ${action} ${file}: ${REASONS[code] ?? (error as Error).message} (${code})`, code);
}

/** Writes `content` to `file` through `file.tmp` + rename: the old file or the new one, never a partial one. */
export function writeFileAtomic(file: string, content: string | Uint8Array): void {
  const tmp = `${file}.tmp`;
  try {
    const fd = openSync(tmp, 'w');
    try {
      const bytes = typeof content === 'string' ? Buffer.from(content) : content;
      for (let off = 0; off < bytes.length;) off += writeSync(fd, bytes, off);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, file);
  } catch (error) {
    rmSync(tmp, { force: true });
    throw diskError('write', file, error);
  }
}

/** Writes run.json (atomically). `status` defaults to running; `planned` to null (unknown). */
export function writeRunManifest(runDir: string, manifest: RunManifest | StoredRunManifest): void {
  // status_given is the reader's note on an older file, not a field of run.json.
  const { status_given: _derived, ...fields } = manifest as Partial<StoredRunManifest>;
  const file = join(runDir, RUN_FILE);
  const text = JSON.stringify({ ...fields, status: manifest.status ?? 'running', planned: manifest.planned ?? null }, null, 2) + '\n';
  try {
    writeFileAtomic(file, text);
  } catch (error) {
    // A full device has no room for a second copy, but often for the new text in the blocks the old
    // one holds: rewritten in place, so a run that filled the disk can still say it failed.
    if (!(error instanceof RunFolderError) || (error.code !== 'ENOSPC' && error.code !== 'EDQUOT') || !overwriteInPlace(file, text))
      throw error;
  }
}

/** Rewrites an existing file in place (open r+, write, truncate); false when that fails too. */
function overwriteInPlace(file: string, text: string): boolean {
  let fd: number | null = null;
  try {
    fd = openSync(file, 'r+');
    const bytes = Buffer.from(text);
    for (let off = 0; off < bytes.length;) off += writeSync(fd, bytes, off, bytes.length - off, off);
    ftruncateSync(fd, bytes.length);
    return true;
  } catch {
    return false;
  } finally {
    if (fd !== null) closeSync(fd);
  }
}

/**
 * run.json, read and validated; null when the folder has none. A file that is not JSON, or whose
 * fields are not what the writers write, is a RunFolderError naming the file (and the field).
 */
export function readRunManifest(runDir: string): StoredRunManifest | null {
  const file = join(runDir, RUN_FILE);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw diskError('read', file, error);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new RunFolderError(`${file}: cannot read the run manifest (not valid JSON: ${(error as Error).message})`);
  }
  try {
    return validateRunManifest(value);
  } catch (error) {
    if (error instanceof RunManifestError) throw new RunFolderError(`${file}: ${error.message}`);
    throw error;
  }
}

/** A run id used as a folder name: one path segment (letters, digits, '.', '_', '-'; not '.' or '..'). */
export function checkRunSegment(flag: string, id: string): void {
  if (!/^[A-Za-z0-9._-]+$/.test(id) || id === '.' || id === '..' || id.length > 200)
    throw new UsageError(
      `${flag}: got ${JSON.stringify(id)}; expected one folder name (letters, digits, '.', '_' or '-'; not '.' or '..')`,
    );
}

function alive(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The pid holding `dir`'s lock, when a live process does; null otherwise. */
function lockHolder(dir: string): number | null {
  try {
    const pid = Number(readFileSync(join(dir, LOCK_FILE), 'utf8').trim());
    return alive(pid) ? pid : null;
  } catch {
    return null;
  }
}

/** What a folder holds besides a lock (its names), or null when it does not exist. */
function contents(dir: string): string[] | null {
  try {
    return readdirSync(dir).filter((name) => name !== LOCK_FILE);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}

export interface FolderCheck {
  /** The flag the folder came from, for messages (--out, --collect...). */
  flag: string;
  /** Replace the run the folder holds (never append to it). */
  force?: boolean;
  /** The command has a --force flag to suggest (default true). */
  canForce?: boolean;
}

/**
 * Refuses a folder a new run may not take, without creating anything: '' (the working directory),
 * a folder another live run holds, or one that holds anything (a run, or other files) unless --force.
 */
export function checkRunFolder(dir: string, { flag, force = false, canForce = true }: FolderCheck): void {
  if (dir.trim() === '') throw new UsageError(`${flag}: empty; give a folder for the run (e.g. results/my-run)`);
  const held = lockHolder(dir);
  if (held !== null && held !== process.pid)
    throw new UsageError(`${flag} ${dir}: in use by another run (process ${held} holds ${join(dir, LOCK_FILE)}); choose another folder`);
  const inside = contents(dir);
  if (inside === null || inside.length === 0 || force) return;
  const what = inside.includes(RECORDS_FILE)
    ? 'already holds a run (records.jsonl)'
    : inside.includes(RUN_FILE)
      ? 'already holds a run (run.json)'
      : `is not empty (${inside.slice(0, 3).join(', ')}${inside.length > 3 ? ', ...' : ''})`;
  throw new UsageError(
    `${flag} ${dir}: ${what}; choose a new folder${canForce ? ', or --force to replace what it holds' : ''} (one run per folder)`,
  );
}

/** The run's hold on its folder; release() when the run has written its last file. */
export interface RunFolderLock {
  readonly dir: string;
  release(): void;
}

/**
 * Takes `dir` for one run: creates it (and its parents) if needed, then the lock file exclusively
 * (O_EXCL: of two runs started together on one folder, one gets it and the other is refused), then
 * checks the folder is empty — with --force, removes the previous run's files (RUN_OWNED) instead.
 * A lock left by a dead process (kill -9) is taken over.
 */
export function createRunFolder(dir: string, check: FolderCheck): RunFolderLock {
  checkRunFolder(dir, check);
  makeDirs(dirname(resolve(dir)));
  try {
    mkdirSync(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw diskError('create the folder', dir, error);
    if (!statSync(dir).isDirectory()) throw new UsageError(`${check.flag} ${dir}: is a file, not a folder`);
  }
  const lock = join(dir, LOCK_FILE);
  const take = (): boolean => {
    try {
      const fd = openSync(lock, 'wx');
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw diskError('create', lock, error);
    }
  };
  if (!take()) {
    const holder = lockHolder(dir);
    if (holder !== null)
      throw new UsageError(`${check.flag} ${dir}: in use by another run (process ${holder} holds ${lock}); choose another folder`);
    rmSync(lock, { force: true }); // left by a process that died
    if (!take()) throw new UsageError(`${check.flag} ${dir}: in use by another run (it took ${lock} just now); choose another folder`);
  }
  const release = () => rmSync(lock, { force: true });
  try {
    const inside = contents(dir) ?? [];
    if (inside.length > 0) {
      if (!check.force) checkRunFolder(dir, check); // filled meanwhile: the message says by what
      for (const name of inside) if (RUN_OWNED.includes(name)) rmSync(join(dir, name), { recursive: true, force: true });
    }
  } catch (error) {
    release();
    throw error;
  }
  return {
    dir,
    release: () => {
      try {
        unlinkSync(lock);
      } catch {
        // already gone (a --force run replaced it after we died, or the folder was removed)
      }
    },
  };
}

/** Each arm's planned request count (warm-up included): the same plan runs on every arm. */
export function plannedPerArm(arms: ReadonlyArray<{ arm: string }>, total: number): Record<string, number> {
  return Object.fromEntries(arms.map((a) => [a.arm, total]));
}
