// Runs the load command in-process for engine tests and reads back what it wrote.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RequestRecord } from '../../core/record.ts';
import type { RunManifest } from '../../core/run.ts';
import { readRecords } from '../../io/records-file.ts';
import { run } from '../../cli/load.ts';
import type { SimServer } from '../../sim/server.ts';
import { tempDir } from './load-helpers.ts';

const tmp = () => tempDir('sb-engine-');

/** Runs `load` in this process against the given URLs; returns the exit code, records and run.json. */
export async function load(
  args: string[],
  env: Record<string, string> = {},
): Promise<{
  code: number;
  dir: string;
  records: RequestRecord[];
  manifest: RunManifest & { counts: { pairs_sent: number; records: number } };
}> {
  const dir = join(tmp(), 'run');
  const code = await run(['--no-progress', '--no-analyze', '--out', dir, ...args], env);
  const { records, summary } = await readRecords(join(dir, 'records.jsonl'));
  if (summary.truncatedLastLine !== null) throw new Error('truncated records file');
  const manifest = JSON.parse(readFileSync(join(dir, 'run.json'), 'utf8'));
  return { code, dir, records, manifest };
}

export const endpoints = (b: SimServer, c: SimServer) => ['--baseline', b.url, '--candidate', c.url];

export const byArm = (records: RequestRecord[], arm: string) => records.filter((r) => r.arm === arm).sort((a, b) => a.index - b.index);
