// `mkdir -p` that fails instead of looping. Node's recursive mkdir retries for ever where mkdir answers
// ENOENT although the parent exists (under /proc or /sys: `--out /proc/x` hung the command), so the
// missing folders are created one by one, from the nearest existing ancestor down: any failure is the
// errno error of the folder concerned (cli/file-error.ts words it).
import { mkdirSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

/** `dir` (resolved) if it exists, else its nearest existing ancestor; a stat error other than ENOENT (e.g. ENOTDIR) is thrown. */
export function nearestExisting(dir: string): string {
  for (let d = resolve(dir); ; d = dirname(d)) {
    try {
      statSync(d);
      return d;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT' || dirname(d) === d) throw error;
    }
  }
}

export function makeDirs(dir: string): void {
  const missing: string[] = [];
  const top = nearestExisting(dir);
  for (let d = resolve(dir); d !== top; d = dirname(d)) missing.push(d);
  for (const d of missing.reverse()) {
    try {
      mkdirSync(d); // under a file: ENOTDIR, naming the folder
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error; // made meanwhile by someone else: fine
    }
  }
}
