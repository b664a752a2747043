// `mkdir -p` that fails instead of looping. Node's recursive mkdir retries for ever where mkdir answers
// ENOENT although the parent exists (under /proc or /sys: `--out /proc/x` hung the command), so the
// missing folders are created one by one, from the first existing ancestor down: any failure is the
// errno error of the folder concerned (cli/file-error.ts words it).
import { mkdirSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

export function makeDirs(dir: string): void {
  const missing: string[] = [];
  for (let d = resolve(dir); ; ) {
    try {
      statSync(d);
      break; // exists (a file here makes the mkdir below fail with ENOTDIR)
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    missing.push(d);
    const parent = dirname(d);
    if (parent === d) break;
    d = parent;
  }
  for (const d of missing.reverse()) {
    try {
      mkdirSync(d);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error; // made meanwhile by someone else: fine
    }
  }
}
