// Runs `load` (cli/load.ts run) in a fresh process with the given arguments, then prints one JSON
// line: the exit code and the process's peak RSS (process.resourceUsage().maxRSS, KiB → MB).
// For memory tests: the parent's own heap (servers, ava) stays out of the figure.
import { run } from '../../cli/load.ts';

const code = await run(process.argv.slice(2), {});
process.stdout.write(JSON.stringify({ code, maxRssMb: process.resourceUsage().maxRSS / 1024 }) + '\n');
