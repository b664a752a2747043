// Reading a workload file under Node; parsing is core/workload.ts's job (shared with k6).
import { readFile } from 'node:fs/promises';
import { parseWorkload, WorkloadError, type ParseWorkloadOptions, type Workload } from '../core/workload/workload.ts';

export type LoadWorkloadOptions = Omit<ParseWorkloadOptions, 'file'>;

/** Reads and parses a workload file; a missing or unreadable file is a WorkloadError naming it. */
export async function loadWorkloadFile(path: string, options: LoadWorkloadOptions): Promise<Workload> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason =
      code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory, not a workload file' : (error as Error).message;
    throw new WorkloadError(path, null, `cannot read the workload file: ${reason}`);
  }
  return parseWorkload(text, { ...options, file: path });
}
