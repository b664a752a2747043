// Child process of the "workload start-up" bench (bench/workload-plan.ts), so peak RSS is this
// run's own: `node bench/workload-startup-child.ts FILE lazy|eager|load`. Prints one JSON line.
//   lazy:  openWorkload (streamed index), the trace plan, request 0's body, then 2,000 requests'
//          bodies as a sender builds them;
//   eager: the whole file parsed and every prompt synthesised (parseWorkload), then request 0's body;
//   load:  `shadowbench load` with 2 sender threads against the simulated endpoints (separate processes).
import { readFileSync } from 'node:fs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { buildRequestBody } from '../core/openai.ts';
import { createPlan } from '../core/plan.ts';
import { parseWorkload } from '../core/workload/workload.ts';
import { openWorkload } from '../io/workload-file.ts';
import { peakRssMiB } from '../io/peak-rss.ts';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const [file, mode, ...extra] = process.argv.slice(2) as [string, 'lazy' | 'eager' | 'load', ...string[]];
const started = performance.now();
const maxRssMiB = peakRssMiB;
const body = (b: Record<string, unknown>) => JSON.stringify(buildRequestBody(b, { model: null, stream: true }));

if (mode === 'lazy') {
  const source = await openWorkload(file, { seed: 1 });
  const indexMs = performance.now() - started;
  const plan = createPlan(source, { arrival: 'trace', seed: 1, requests: 2000 });
  body(plan.request(0).item.body);
  const firstMs = performance.now() - started;
  const times: number[] = [];
  let chars = 0;
  for (let i = 0; i < plan.total; i++) {
    const t0 = performance.now();
    chars += body(plan.request(i).item.body).length;
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  gc();
  const heapMiB = process.memoryUsage().heapUsed / 2 ** 20;
  const out = {
    indexMs,
    firstMs,
    p50ItemMs: times[Math.floor(times.length / 2)],
    p99ItemMs: times[Math.floor(times.length * 0.99)],
    maxRssMiB: maxRssMiB(),
    heapMiB,
    mibBuilt: chars / 2 ** 20,
  };
  process.stdout.write(JSON.stringify(out) + '\n');
} else if (mode === 'eager') {
  const workload = parseWorkload(readFileSync(file, 'utf8'), { file, seed: 1 });
  const indexMs = performance.now() - started;
  const plan = createPlan(workload, { arrival: 'trace', seed: 1, requests: 2000 });
  body(plan.request(0).item.body);
  const firstMs = performance.now() - started;
  gc();
  const heapMiB = process.memoryUsage().heapUsed / 2 ** 20;
  process.stdout.write(JSON.stringify({ indexMs, firstMs, maxRssMiB: maxRssMiB(), heapMiB, items: workload.items.length }) + '\n');
} else {
  const { run } = await import('../cli/load.ts');
  const out = mkdtempSync(join(tmpdir(), 'shadowbench-bench-load-'));
  try {
    const code = await run(
      [
        '--workload',
        file,
        '--arrival',
        'trace',
        '--time-scale',
        '0.01',
        '--requests',
        '2000',
        '--workers',
        '2',
        '--out',
        join(out, 'run'),
        '--no-analyze',
        '--no-progress',
        '--no-metrics',
        ...extra,
      ],
      { ...process.env },
    );
    const runJson = JSON.parse(readFileSync(join(out, 'run', 'run.json'), 'utf8')) as { started_at: string; ended_at: string };
    const runS = (Date.parse(runJson.ended_at) - Date.parse(runJson.started_at)) / 1000;
    process.stdout.write(JSON.stringify({ code, totalS: (performance.now() - started) / 1000, runS, maxRssMiB: maxRssMiB() }) + '\n');
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}
