// Workload parsing and request-plan costs: how fast files parse, that a plan of a million
// requests is cheap to walk and to index at random (what k6 VUs do per iteration), and the start-up
// time and peak RSS of a 24k-line Mooncake-shaped trace, streamed (each in a child process, so RSS
// is its own: bench/workload-startup-child.ts).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { createPlan, itemForIndex, planRequests, type PlanOptions } from '../core/plan.ts';
import { parseWorkload, type Workload } from '../core/workload/workload.ts';
import { SAMPLE_FILE } from '../workloads/generate-sample.ts';
import { writeMooncakeLikeTrace } from '../workloads/generate-trace.ts';
import type { BenchTable, Benchmark } from './run.ts';

const TRACE_LINES = 24_000;

interface StartupFigures {
  indexMs: number;
  firstMs: number;
  p50ItemMs?: number;
  p99ItemMs?: number;
  maxRssMiB: number;
  heapMiB: number;
}

function child(file: string, mode: string, extra: string[] = []): Record<string, number> {
  const out = execFileSync(process.execPath, [join(import.meta.dirname, 'workload-startup-child.ts'), file, mode, ...extra], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
    maxBuffer: 1 << 20,
  });
  return JSON.parse(out.trim().split('\n').at(-1)!) as Record<string, number>;
}

/** Start-up of the 24k-line trace: streamed always; eager (~30 s, ~1.7 GB) and a whole load run only when asked. */
function startupTable(): BenchTable {
  const dir = mkdtempSync(join(tmpdir(), 'shadowbench-bench-trace-'));
  try {
    const file = join(dir, 'mooncake-like.jsonl');
    writeMooncakeLikeTrace(file, TRACE_LINES, 1);
    const mib = statSync(file).size / 2 ** 20;
    const rows: Array<Array<string | number>> = [];
    const row = (label: string, f: StartupFigures) =>
      rows.push([label, f.indexMs, f.firstMs, f.p50ItemMs ?? NaN, f.p99ItemMs ?? NaN, f.maxRssMiB, f.heapMiB]);
    row('streamed (openWorkload), then 2,000 bodies', child(file, 'lazy') as unknown as StartupFigures);
    if (process.env.SHADOWBENCH_BENCH_EAGER === '1')
      row('eager (parseWorkload: every prompt)', child(file, 'eager') as unknown as StartupFigures);
    const notes = [
      `A generated ${TRACE_LINES.toLocaleString('en-US')}-line trace of Mooncake's tool-agent shape (${mib.toFixed(1)} MiB; workloads/generate-trace.ts). ` +
        '"first body ms": from process start of the work to request 0\'s body serialised (sending could start); "peak RSS": the child\'s own high-water mark (io/peak-rss.ts).',
      'SHADOWBENCH_BENCH_EAGER=1 adds the old eager parse (measured once here: 29.2 s to the first body, 1,744 MiB peak RSS, 1,107 MiB heap).',
    ];
    if (process.env.SHADOWBENCH_BENCH_LOAD === '1') {
      const load = child(file, 'load', ['--max-inflight', '32']);
      notes.push(
        `Whole load run (2,000 requests, --time-scale 0.01, 2 sender threads, --max-inflight 32, simulated endpoints in their own processes): peak RSS ${load.maxRssMiB!.toFixed(0)} MiB, ${load.runS!.toFixed(1)} s of run.`,
      );
    }
    return {
      title: `Workload start-up: ${TRACE_LINES.toLocaleString('en-US')}-line Mooncake-shaped trace`,
      columns: ['reader', 'index ms', 'first body ms', 'p50 item ms', 'p99 item ms', 'peak RSS MiB', 'heap after GC MiB'],
      rows,
      notes,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

function heapMiB(): number {
  gc();
  return process.memoryUsage().heapUsed / 2 ** 20;
}

function timed<T>(run: () => T): { value: T; ms: number } {
  const started = performance.now();
  const value = run();
  return { value, ms: performance.now() - started };
}

/** A Mooncake-like trace: 512-token blocks, conversations sharing a growing prefix. */
function syntheticTrace(lines: number): string {
  const out: string[] = [];
  let nextHash = 0;
  const sessions: number[][] = [];
  for (let i = 0; i < lines; i++) {
    const reuse = sessions.length > 0 && i % 3 !== 0;
    const base = reuse ? sessions[(i * 7919) % sessions.length]! : [];
    const hashIds = [...base, ...Array.from({ length: 2 + (i % 5) }, () => nextHash++)];
    if (!reuse) sessions.push(hashIds);
    const inputLength = hashIds.length * 512 - (i % 300);
    out.push(JSON.stringify({ timestamp: i * 40, input_length: inputLength, output_length: 50 + (i % 400), hash_ids: hashIds }));
  }
  return out.join('\n');
}

function openAiLines(lines: number): string {
  return Array.from({ length: lines }, (_, i) =>
    JSON.stringify({
      id: `r${i}`,
      model: 'm',
      messages: [
        { role: 'system', content: 'You are helpful.' },
        { role: 'user', content: `Question number ${i}: what is ${i} squared?` },
      ],
      max_tokens: 64 + (i % 192),
    }),
  ).join('\n');
}

export const benchmark: Benchmark = {
  name: 'workload',
  async run(): Promise<BenchTable[]> {
    const parseRows: Array<Array<string | number>> = [];
    const parse = (label: string, text: string, format: 'openai' | 'trace') => {
      parseWorkload(text, { file: label, format, seed: 1 }); // warm up
      const runs = 3;
      let best = Infinity;
      let items = 0;
      for (let r = 0; r < runs; r++) {
        const { value, ms } = timed(() => parseWorkload(text, { file: label, format, seed: 1 }));
        best = Math.min(best, ms);
        items = value.items.length;
      }
      parseRows.push([label, items, text.length / 2 ** 20, best, (items / best) * 1000, text.length / 2 ** 20 / (best / 1000)]);
    };
    parse('sample-chat.jsonl (shipped)', readFileSync(SAMPLE_FILE, 'utf8'), 'openai');
    parse('openai JSONL, short chats', openAiLines(100_000), 'openai');
    parse('trace JSONL, 512-token blocks', syntheticTrace(5_000), 'trace');

    const workload: Workload = parseWorkload(openAiLines(100_000), { file: 'w', seed: 1 });
    const planRows: Array<Array<string | number>> = [];
    const N = 1_000_000;
    for (const [label, options] of [
      ['constant, sequential', { arrival: 'constant', qps: 1000, requests: N, seed: 1 }],
      ['poisson, sequential', { arrival: 'poisson', qps: 1000, requests: N, seed: 1 }],
      ['poisson, shuffle (100k items)', { arrival: 'poisson', qps: 1000, requests: N, seed: 1, order: 'shuffle' }],
    ] as Array<[string, PlanOptions]>) {
      const before = heapMiB();
      const plan = createPlan(workload, options);
      let checksum = 0;
      const walk = timed(() => {
        for (const r of plan) checksum += r.scheduled_ns % 7;
      });
      const lazyHeap = heapMiB() - before;
      const random = createPlan(workload, options);
      // Enough calls for the JIT to settle; shuffle rebuilds a 100k-item permutation whenever an index is in another pass.
      const picks = options.order === 'shuffle' ? 50 : 200_000;
      const access = timed(() => {
        for (let k = 0; k < picks; k++) checksum += random.request((k * 7_919_993) % N).scheduled_ns % 7;
      });
      planRows.push([label, N, walk.ms, (walk.ms * 1e6) / N, (access.ms * 1e6) / picks, lazyHeap, checksum % 2]);
    }
    {
      const before = heapMiB();
      const { value: all, ms } = timed(() => planRequests(workload, { arrival: 'poisson', qps: 1000, requests: N, seed: 1 }));
      const heap = heapMiB() - before;
      planRows.push(['planRequests array (poisson)', all.length, ms, (ms * 1e6) / N, NaN, heap, 0]);
    }
    const itemRows: Array<Array<string | number>> = [];
    for (const order of ['sequential', 'shuffle'] as const) {
      let sink = 0;
      const seq = timed(() => {
        for (let i = 0; i < N; i++) sink += itemForIndex(workload, i, { order, seed: 3 }).id.length;
      });
      itemRows.push([order, 'in order (k6 iterationInTest)', (seq.ms * 1e6) / N, sink % 2]);
      const jumps = order === 'shuffle' ? 50 : 200_000;
      const far = timed(() => {
        for (let k = 0; k < jumps; k++) sink += itemForIndex(workload, (k % 10) * 100_003, { order, seed: 3 }).id.length;
      });
      itemRows.push([order, 'a new pass each call (worst case)', (far.ms * 1e6) / jumps, sink % 2]);
    }

    return [
      startupTable(),
      {
        title: 'Workload parsing (best of 3)',
        columns: ['input', 'items', 'MiB', 'ms', 'items/s', 'MiB/s'],
        rows: parseRows,
        notes: ['trace parsing includes prompt synthesis (blocks cached per hash id).'],
      },
      {
        title: `Request plan: ${N.toLocaleString('en-US')} requests over 100,000 items`,
        columns: ['plan', 'requests', 'walk ms', 'ns/request (in order)', 'ns/request (random index)', 'heap MiB after walk', '-'],
        rows: planRows,
        notes: ['"heap MiB after walk" is retained heap after GC: what the plan object keeps (the array row keeps every request).'],
      },
      {
        title: 'itemForIndex over 100,000 items',
        columns: ['order', 'access', 'ns/call', '-'],
        rows: itemRows,
      },
    ];
  },
};
