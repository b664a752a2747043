// Runs `load` (cli/load.ts run) in a fresh process with the given arguments, then prints one JSON
// line: the exit code and the process's peak RSS. For memory tests: the parent's own heap (servers,
// ava) stays out of the figure. The peak is VmHWM of /proc/self/status (this process image's own
// high-water mark), not getrusage's maxRSS: Linux carries maxRSS across fork + exec, so a child of a
// large ava worker reported the worker's 492 MB.
import { readFileSync } from 'node:fs';
import { run } from '../../cli/load.ts';

function peakRssMb(): number {
  const line = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync('/proc/self/status', 'utf8'));
  return line ? Number(line[1]) / 1024 : process.resourceUsage().maxRSS / 1024;
}

const code = await run(process.argv.slice(2), {});
process.stdout.write(JSON.stringify({ code, maxRssMb: peakRssMb() }) + '\n');
