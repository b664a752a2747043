// Child process of the "workload start-up" bench (bench/workload-plan.ts), so peak RSS is this
// run's own: `node bench/workload-startup-child.ts FILE lazy|eager|load [load flags]`. Prints one JSON line.
//   lazy:  openWorkload (streamed index), the trace plan, request 0's body, then 2,000 requests'
//          bodies as a sender builds them;
//   eager: the whole file parsed and every prompt synthesised (parseWorkload), then request 0's body;
//   load:  `shadowbench load --workload FILE [load flags]`, analysis included (the bench passes --baseline/--candidate of
//          simulated endpoints it started, so they are other processes): time from this process's
//          start to the first send, peak in flight and peak RSS (main thread and sender threads).
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
/** This process's start on the monotonic clock (performance.now() counts from it). */
const processStartNs = process.hrtime.bigint() - BigInt(Math.round(started * 1e6));
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
  // The run's own flags come after the mode (arrival, rate, counts); the bench passes them.
  const { run } = await import('../cli/load.ts');
  const out = mkdtempSync(join(tmpdir(), 'shadowbench-bench-load-'));
  try {
    const code = await run(['--workload', file, '--out', join(out, 'run'), '--no-progress', '--no-metrics', ...extra], {
      ...process.env,
    });
    const runJson = JSON.parse(readFileSync(join(out, 'run', 'run.json'), 'utf8')) as {
      started_at: string;
      ended_at: string;
      mono_origin_ns?: string | null;
      config?: { preconnected?: Array<{ opened?: Record<string, number> }> };
    };
    const runS = (Date.parse(runJson.ended_at) - Date.parse(runJson.started_at)) / 1000;
    // First send: the earliest sent_ns of any record, on the monotonic clock, from this process's start.
    // Peak in flight: the most requests (pair × arm) between their sent_ns and end_ns at once.
    let firstSentNs = Infinity;
    let records = 0;
    const edges: Array<[number, number]> = [];
    for (const line of readFileSync(join(out, 'run', 'records.jsonl'), 'utf8').split('\n')) {
      if (line === '') continue;
      records++;
      const { sent_ns: sent, end_ns: end } = JSON.parse(line) as { sent_ns: number | null; end_ns: number | null };
      if (sent === null) continue;
      firstSentNs = Math.min(firstSentNs, sent);
      edges.push([sent, 1], [end ?? sent, -1]);
    }
    edges.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    let inflight = 0;
    let peakInflight = 0;
    for (const [, d] of edges) peakInflight = Math.max(peakInflight, (inflight += d));
    // The origin is set once every sender is ready (threads started, warm-up, connections opened) + 50 ms.
    const originS = runJson.mono_origin_ns != null ? Number(BigInt(runJson.mono_origin_ns) - processStartNs) / 1e9 : NaN;
    let connections = 0;
    for (const p of runJson.config?.preconnected ?? []) for (const n of Object.values(p.opened ?? {})) connections += n;
    const firstSendS =
      runJson.mono_origin_ns != null && Number.isFinite(firstSentNs)
        ? Number(BigInt(runJson.mono_origin_ns) + BigInt(firstSentNs) - processStartNs) / 1e9
        : NaN;
    process.stdout.write(
      JSON.stringify({
        code,
        records,
        peakInflight,
        originS,
        connections,
        firstSendS,
        totalS: (performance.now() - started) / 1000,
        runS,
        maxRssMiB: maxRssMiB(),
      }) + '\n',
    );
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}
