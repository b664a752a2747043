// Runs `load` (cli/load.ts run) in a fresh process with the given arguments, then prints one JSON
// line: the exit code and the process's own peak RSS (io/peak-rss.ts). For memory tests: the parent's
// heap (servers, ava) stays out of the figure.
import { run } from '../../cli/load.ts';
import { peakRssMiB } from '../../io/peak-rss.ts';

const code = await run(process.argv.slice(2), {});
process.stdout.write(JSON.stringify({ code, maxRssMb: peakRssMiB() }) + '\n');
