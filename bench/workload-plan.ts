// Workload parsing and request-plan costs: how fast files parse, that a plan of a million
// requests is cheap to walk and to index at random (what k6 VUs do per iteration), and the start-up
// time and peak RSS of a 24k-line Mooncake-shaped trace, streamed (each in a child process, so RSS
// is its own: bench/workload-startup-child.ts).
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { createPlan, itemForIndex, planRequests, type PlanOptions } from '../core/plan.ts';
import { parseWorkload, type Workload } from '../core/workload/workload.ts';
import { SAMPLE_FILE } from '../workloads/generate-sample.ts';
import { writeMooncakeLikeTrace } from '../workloads/generate-trace.ts';
import { startSimProcess } from '../sim/process.ts';
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

/**
 * Whole `load` runs of the trace against two simulated endpoints (their own processes, started here,
 * so the child's peak RSS is the load process alone: main thread and sender threads). Bounded in
 * requests and time (--max-output-tokens shortens the streams, --timeout bounds the tail).
 */
const LOAD_RUNS: Array<{ label: string; args: string[]; sample?: boolean }> = [
  {
    label: 'trace, constant 200/s, 2,000 requests, 2 sender threads',
    args: ['--qps', '200', '--requests', '2000', '--workers', '2', '--max-output-tokens', '32'],
  },
  {
    label: 'trace, same at --max-inflight 256, 1,000 requests',
    args: ['--qps', '200', '--requests', '1000', '--workers', '2', '--max-inflight', '256', '--max-output-tokens', '32'],
  },
  {
    label: 'trace, --arrival trace --time-scale 0.02, 1,000 requests',
    args: ['--arrival', 'trace', '--time-scale', '0.02', '--requests', '1000', '--workers', '2', '--max-output-tokens', '32'],
  },
  {
    label: 'shipped sample-chat.jsonl, constant 200/s, 400 requests (start-up reference)',
    args: ['--qps', '200', '--requests', '400', '--workers', '2'],
    sample: true,
  },
];
const LOAD_COMMON = ['--timeout', '20'];

/** One run per pair of fresh simulated endpoints (a previous run's tail must not slow the next start-up). */
async function loadRows(file: string): Promise<Array<Array<string | number>>> {
  const rows: Array<Array<string | number>> = [];
  for (const run of LOAD_RUNS) {
    const sims = await Promise.all([
      startSimProcess('vllm-single-node', ['--seed', '1']),
      startSimProcess('dynamo-disaggregated', ['--seed', '1']),
    ]);
    try {
      const args = [...run.args, ...LOAD_COMMON, '--baseline', sims[0].url, '--candidate', sims[1].url];
      const { stdout } = await promisify(execFile)(
        process.execPath,
        ['--v8-pool-size=1', join(import.meta.dirname, 'workload-startup-child.ts'), run.sample ? SAMPLE_FILE : file, 'load', ...args],
        { encoding: 'utf8', maxBuffer: 1 << 20 },
      );
      const f = JSON.parse(stdout.trim().split('\n').at(-1)!) as Record<string, number>;
      rows.push([run.label, f.originS!, f.connections!, f.firstSendS!, f.runS!, f.records!, f.peakInflight!, f.maxRssMiB!]);
    } finally {
      await Promise.all(sims.map((s) => s.close()));
    }
  }
  return rows;
}

/** Start-up of the 24k-line trace: streamed always, and whole load runs; eager (~30 s, ~1.7 GB) only when asked. */
async function startupTables(): Promise<BenchTable[]> {
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
    const tables: BenchTable[] = [
      {
        title: `Workload start-up: ${TRACE_LINES.toLocaleString('en-US')}-line Mooncake-shaped trace`,
        columns: ['reader', 'index ms', 'first body ms', 'p50 item ms', 'p99 item ms', 'peak RSS MiB', 'heap after GC MiB'],
        rows,
        notes: [
          `A generated ${TRACE_LINES.toLocaleString('en-US')}-line trace of Mooncake's tool-agent shape (${mib.toFixed(1)} MiB; workloads/generate-trace.ts). ` +
            '"first body ms": from process start of the work to request 0\'s body serialised (sending could start); "peak RSS": the child\'s own high-water mark (io/peak-rss.ts).',
          'SHADOWBENCH_BENCH_EAGER=1 adds the old eager parse (measured once here: 29.2 s to the first body, 1,744 MiB peak RSS, 1,107 MiB heap).',
        ],
      },
    ];
    if (process.env.SHADOWBENCH_BENCH_LOAD !== '0')
      tables.push({
        title: `Whole load runs of the ${TRACE_LINES.toLocaleString('en-US')}-line trace (load process only)`,
        columns: ['run', 'senders ready s', 'connections opened', 'first send s', 'run s', 'records', 'peak in flight', 'peak RSS MiB'],
        rows: await loadRows(file),
        notes: [
          `Every run: ${LOAD_COMMON.join(' ')}, simulated endpoints (vllm-single-node, dynamo-disaggregated) in their own processes on 127.0.0.1, started by the bench. ` +
            'Trace runs add --max-output-tokens 32 (shorter streams). "senders ready s": from the load process\'s start (module loading, the index pass, preflight, sender threads, their warm-up and --preconnect auto) to the run\'s origin (every sender ready, + 50 ms); ' +
            '"connections opened": by --preconnect auto, over both arms and threads; "first send s": from the process start to the earliest sent_ns; ' +
            '"peak in flight": most requests (pair × arm) between sent_ns and end_ns at once, from the records; "peak RSS": VmHWM of the load process (main thread and sender threads; the whole command, its analysis of the run folder included).',
          'Memory follows the requests in flight: each holds its body (one UTF-8 Buffer per pair, ~50 KB for an 8k-token context) and its connection. SHADOWBENCH_BENCH_LOAD=0 skips these runs.',
        ],
      });
    return tables;
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
      ...(await startupTables()),
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
