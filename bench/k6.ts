// `npm run bench -- k6`: the k6 engine against a bare xk6-sse script and the Node engine, side by
// side in one run, on this machine, with the two simulated endpoints co-located (128-token streams,
// one SSE event per token every 5 ms). Per paired rate (10 / 25 / 50 / 100 pairs/s by default):
//
//   bare     two constant-arrival-rate scenarios, the same request bodies, an empty event handler:
//            what xk6-sse itself costs (no records, so no send lag / skew / TTFT)
//   k6       `load --engine k6` (k6/script/shadow.ts through cli/load-k6.ts)
//   node     `load` with the Node engine
//
// Columns: achieved pairs/s, p99 send lag and p99 |arm skew| (from the records), k6 CPU per SSE event
// (the k6 process's user+sys from bash's `times`, over completed streams × events per stream) and
// this process's CPU per event for the Node engine, TTFT P50 (core/metrics.ts over ok requests)
// and its difference from the Node engine's at the same rate. Measures; asserts nothing.
//
// Needs real k6 with xk6-sse: K6_BIN, or ../shared/tools/k6 beside the checkout. Environment:
// SB_BENCH_K6_STEPS (e.g. "10,50"), SB_BENCH_K6_REPEATS (interleaved runs per step, medians shown;
// default 1), SB_BENCH_K6_SECONDS (per step, default 12: VU start-up is
// amortised over the step as a real run amortises it; 4 s steps inflate the k6 CPU per event).
import { chmodSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { percentile } from '../analysis/stats/stats.ts';
import { countsForLatency, ttftMs } from '../core/metrics.ts';
import type { RequestRecord } from '../core/record.ts';
import { DEFAULT_MODEL } from '../core/workload/workload.ts';
import { buildRequestBody } from '../core/openai.ts';
import { readRecords } from '../io/records-file.ts';
import { run as load } from '../cli/load.ts';
import { startSimProcess, type SimProcess } from '../sim/process.ts';
import type { Benchmark, BenchTable } from './run.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const SHARED_K6 = resolve(ROOT, '../shared/tools/k6');
const STEPS = (process.env.SB_BENCH_K6_STEPS ?? '10,25,50,100').split(',').map(Number);
const SECONDS = Number(process.env.SB_BENCH_K6_SECONDS ?? 12);
/** Runs of each variant per step, interleaved (bare, k6, node, bare, …); the table shows each column's median. */
const REPEATS = Math.max(1, Number(process.env.SB_BENCH_K6_REPEATS ?? 1));
const SIM_ARGS = ['--inter-token-ms', '5'];
const TOKENS = 128;
/**
 * Expected latency that sizes both k6 scripts' pre-allocated VUs alike (qps × this × 1.5 + 1), as
 * k6's documentation sizes arrival-rate VUs: rate × iteration duration, with room. The streams take
 * ~0.7 s, so 1 s gives twice their latency. Every VU is a whole JavaScript runtime that k6 keeps and
 * cycles through, so oversizing costs heap, GC and CPU: compare with SB_BENCH_K6_LATENCY=3 (the load
 * command's default) in bench/RESULTS.md.
 */
const EXPECTED_LATENCY_S = Number(process.env.SB_BENCH_K6_LATENCY ?? 1);

interface Result {
  variant: 'bare' | 'k6' | 'node';
  qps: number;
  /** Which of the step's REPEATS runs. */
  rep: number;
  /** Completed streams per arm (bare: k6's iterations counter; else ok records). */
  streams: number;
  cpuS: number;
  records: RequestRecord[] | null;
  achieved: number | null;
  dropped: number | null;
  /** bare: k6's own start times (console lines), no records. */
  bareTiming?: { lagP99: number; skewP99: number };
  /** Share of all cores' time while the variant ran: busy in total, and used by the two sims (Linux /proc; null elsewhere). */
  machine: { busyPct: number; simsPct: number } | null;
}

interface CpuSnapshot {
  busy: number;
  total: number;
  sims: number;
}

/** The machine's CPU counters (/proc/stat, all cores) and the sims' (/proc/<pid>/stat), in clock ticks; null off Linux. */
function cpuSnapshot(simPids: readonly number[]): CpuSnapshot | null {
  try {
    const ticks = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    const total = ticks.reduce((a, b) => a + b, 0);
    const idle = (ticks[3] ?? 0) + (ticks[4] ?? 0); // idle + iowait
    let sims = 0;
    for (const pid of simPids) {
      const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      sims += Number(fields[11]) + Number(fields[12]); // utime + stime
    }
    return { busy: total - idle, total, sims };
  } catch {
    return null;
  }
}

function machineShare(before: CpuSnapshot | null, after: CpuSnapshot | null): Result['machine'] {
  if (before === null || after === null || after.total === before.total) return null;
  const total = after.total - before.total;
  return { busyPct: ((after.busy - before.busy) / total) * 100, simsPct: ((after.sims - before.sims) / total) * 100 };
}

/** A shell wrapper that runs k6 and writes its CPU time (bash `times`: children's user and sys) to $SB_K6_TIMES. */
function timedK6(dir: string, k6: string): string {
  const wrapper = join(dir, 'k6-timed.sh');
  writeFileSync(wrapper, `#!/usr/bin/env bash\n"${k6}" "$@"\nrc=$?\ntimes > "$SB_K6_TIMES"\nexit $rc\n`);
  chmodSync(wrapper, 0o755);
  return wrapper;
}

/** Children's user + sys seconds from `times` output (second line: "0m1.234s 0m0.567s"). */
function childCpuSeconds(file: string): number {
  const line = readFileSync(file, 'utf8').trim().split('\n')[1] ?? '';
  const seconds = [...line.matchAll(/(\d+)m([\d.]+)s/g)].map((m) => Number(m[1]) * 60 + Number(m[2]));
  return seconds.reduce((a, b) => a + b, 0);
}

function bareScript(urls: [string, string], bodies: string[], qps: number, total: number): string {
  const vus = { preAllocatedVUs: Math.ceil(qps * EXPECTED_LATENCY_S * 1.5) + 1, maxVUs: Math.ceil(qps * 10) + 1 };
  const scenario = (exec: string) => ({
    executor: 'constant-arrival-rate',
    exec,
    rate: qps,
    timeUnit: '1s',
    duration: `${Math.max(1000, ((total - 0.5) / qps) * 1000).toFixed(0)}ms`,
    ...vus,
    gracefulStop: '11s',
  });
  return `import sse from 'k6/x/sse';
import exec from 'k6/execution';
const urls = ${JSON.stringify(urls.map((u) => `${u}/v1/chat/completions`))};
const bodies = ${JSON.stringify(bodies)};
export const options = { scenarios: { baseline: ${JSON.stringify(scenario('baseline'))}, candidate: ${JSON.stringify(scenario('candidate'))} } };
function send(url) {
  const i = exec.scenario.iterationInTest;
  const started = Date.now();
  sse.open(url, { method: 'POST', body: bodies[i % bodies.length], headers: { 'content-type': 'application/json' } }, (client) => {
    client.on('event', () => {});
  });
  console.log(exec.scenario.name + ' ' + i + ' ' + exec.scenario.startTime + ' ' + started);
}
export function baseline() { send(urls[0]); }
export function candidate() { send(urls[1]); }
`;
}

const ms = (ns: number) => ns / 1e6;

/** One row per (pairs/s, engine): each numeric cell the median over that pair's runs (rows keyed by their first two cells). */
function medianRows(runs: Array<Array<string | number>>): Array<Array<string | number>> {
  const groups = new Map<string, Array<Array<string | number>>>();
  for (const row of runs) {
    const key = `${row[0]} ${row[1]}`;
    (groups.get(key) ?? groups.set(key, []).get(key)!).push(row);
  }
  return [...groups.values()].map((group) =>
    group[0]!.map((cell, c) => {
      const numbers = group.map((row) => row[c]).filter((v): v is number => typeof v === 'number');
      return numbers.length === group.length && c > 1 ? percentile(numbers, 50) : cell;
    }),
  );
}

/**
 * The bare script's own timing from its console lines ("<scenario> <i> <scenario start ms> <started ms>"):
 * lag against its own scenario's schedule (start + i / qps, as k6 ticks it) and |skew| between the
 * arms' start of the same index. What k6's executor holds with nothing but xk6-sse in the VUs.
 */
function bareTiming(consoleFile: string, qps: number): { lagP99: number; skewP99: number } {
  const started = new Map<number, number[]>();
  const lags: number[] = [];
  for (const line of readFileSync(consoleFile, 'utf8').split('\n')) {
    const [, i, start, at] = line.trim().split(' ').map(Number);
    if (i === undefined || start === undefined || at === undefined || Number.isNaN(at)) continue;
    lags.push(at - start - (i * 1000) / qps);
    (started.get(i) ?? started.set(i, []).get(i)!).push(at);
  }
  const skews = [...started.values()].filter((t) => t.length === 2).map(([a, b]) => Math.abs(a! - b!));
  return { lagP99: percentile(lags, 99), skewP99: percentile(skews, 99) };
}

function timing(records: RequestRecord[]): { achieved: number; lagP99: number; skewP99: number; ttftP50: number | null } {
  const sent = records.filter((r) => r.sent_ns !== null);
  const lags = sent.map((r) => ms(r.sent_ns! - r.scheduled_ns));
  const byIndex = new Map<number, Record<string, number>>();
  for (const r of sent) (byIndex.get(r.index) ?? byIndex.set(r.index, {}).get(r.index)!)[r.arm] = r.sent_ns!;
  const skews = [...byIndex.values()]
    .filter((p) => p.baseline !== undefined && p.candidate !== undefined)
    .map((p) => Math.abs(ms(p.candidate! - p.baseline!)));
  const base = sent
    .filter((r) => r.arm === 'baseline')
    .map((r) => r.sent_ns!)
    .sort((a, b) => a - b);
  const achieved = base.length > 1 ? (base.length - 1) / ((base.at(-1)! - base[0]!) / 1e9) : 0;
  const ttfts = records.filter(countsForLatency).flatMap((r) => {
    const v = ttftMs(r);
    return v === null ? [] : [v];
  });
  return {
    achieved,
    lagP99: percentile(lags, 99),
    skewP99: percentile(skews, 99),
    ttftP50: ttfts.length > 0 ? percentile(ttfts, 50) : null,
  };
}

/** SSE events in one stream of the workload (counted on the wire once: role, content, usage, [DONE]). */
async function eventsPerStream(url: string, body: string): Promise<number> {
  const res = await fetch(`${url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  const text = await res.text();
  return text.split('\n').filter((l) => l.startsWith('data:')).length;
}

export const benchmark: Benchmark = {
  name: 'k6',
  async run(): Promise<BenchTable[]> {
    const k6 = process.env.K6_BIN ?? (existsSync(SHARED_K6) ? SHARED_K6 : null);
    if (k6 === null)
      return [
        {
          title: 'k6 engine vs bare xk6-sse vs Node engine',
          columns: ['skipped'],
          rows: [['no real k6: set K6_BIN or put k6 at ../shared/tools/k6']],
        },
      ];
    const dir = mkdtempSync(join(tmpdir(), 'sb-bench-k6-'));
    const wrapper = timedK6(dir, k6);
    const timesFile = join(dir, 'k6-times.txt');
    const workload = join(dir, 'streams-128.jsonl');
    const items = Array.from({ length: 64 }, (_, i) => ({
      id: `s${i}`,
      model: DEFAULT_MODEL,
      messages: [{ role: 'user', content: `Tell me about topic number ${i}.` }],
      max_tokens: TOKENS,
      ignore_eos: true,
    }));
    writeFileSync(workload, items.map((i) => JSON.stringify(i)).join('\n') + '\n');
    const bodies = items.map(({ id: _id, ...body }) => JSON.stringify(buildRequestBody(body, { model: null, stream: true })));
    const sims = await Promise.all<[Promise<SimProcess>, Promise<SimProcess>]>([
      startSimProcess('vllm-single-node', [...SIM_ARGS, '--seed', '1']),
      startSimProcess('vllm-single-node', [...SIM_ARGS, '--seed', '2']),
    ]);
    const urls: [string, string] = [sims[0].url, sims[1].url];
    const simPids = sims.map((sim) => sim.pid);
    const env = { K6_BIN: wrapper, SB_K6_TIMES: timesFile, K6_AUTO_EXTENSION_RESOLUTION: 'false' };
    const savedEnv = { ...process.env };
    Object.assign(process.env, env);
    const results: Result[] = [];
    const loadBefore = loadavg()[0]!;
    try {
      const perStream = await eventsPerStream(urls[0], bodies[0]!);
      const loadArgs = (qps: number, out: string) => [
        '--baseline',
        urls[0],
        '--candidate',
        urls[1],
        '--workload',
        workload,
        '--qps',
        String(qps),
        '--duration',
        String(SECONDS),
        '--timeout',
        '10',
        '--out',
        out,
        '--no-progress',
        '--no-analyze',
        '--no-metrics',
      ];
      const readOut = async (out: string) => (await readRecords(join(out, 'records.jsonl'))).records;
      // Unmeasured warm-up of the sims and this process (JIT), as bench/engine.ts does.
      await load(loadArgs(10, join(dir, 'warmup')));
      for (const qps of STEPS)
        for (let rep = 0; rep < REPEATS; rep++) {
          // bare
          const total = Math.round(qps * SECONDS);
          const script = join(dir, `bare-${qps}-${rep}.js`);
          writeFileSync(script, bareScript(urls, bodies, qps, total));
          const exportFile = join(dir, `bare-${qps}-${rep}.json`);
          const bareConsole = join(dir, `bare-${qps}-${rep}.log`);
          const bareArgs = ['run', '--no-usage-report', '--quiet', '--console-output', bareConsole, '--log-format', 'raw'];
          let before = cpuSnapshot(simPids);
          const child = spawn(wrapper, [...bareArgs, '--summary-export', exportFile, script], {
            stdio: ['ignore', 'ignore', 'inherit'],
            env: process.env,
          });
          await once(child, 'exit');
          const bareMachine = machineShare(before, cpuSnapshot(simPids));
          const summary = JSON.parse(readFileSync(exportFile, 'utf8')) as {
            metrics: Record<string, { count?: number; rate?: number } | undefined>;
          };
          const iterations = summary.metrics.iterations?.count ?? 0;
          results.push({
            variant: 'bare',
            qps,
            rep,
            streams: iterations / 2,
            cpuS: childCpuSeconds(timesFile),
            records: null,
            achieved: iterations / 2 / ((total - 0.5) / qps + 1 / qps),
            dropped: summary.metrics.dropped_iterations?.count ?? 0,
            bareTiming: bareTiming(bareConsole, qps),
            machine: bareMachine,
          });
          // k6 engine
          const k6Out = join(dir, `k6-${qps}-${rep}`);
          before = cpuSnapshot(simPids);
          const code = await load([...loadArgs(qps, k6Out), '--engine', 'k6', '--k6-expected-latency', String(EXPECTED_LATENCY_S * 1000)]);
          const k6Machine = machineShare(before, cpuSnapshot(simPids));
          if (code !== 0) throw new Error(`load --engine k6 at ${qps} pairs/s exited ${code}`);
          const k6Records = await readOut(k6Out);
          const k6Manifest = JSON.parse(readFileSync(join(k6Out, 'run.json'), 'utf8')) as { dropped_iterations: number | null };
          results.push({
            variant: 'k6',
            qps,
            rep,
            streams: k6Records.filter((r) => r.outcome.kind === 'ok').length / 2,
            cpuS: childCpuSeconds(timesFile),
            records: k6Records,
            achieved: null,
            dropped: k6Manifest.dropped_iterations,
            machine: k6Machine,
          });
          // Node engine (in this process: its CPU is this process's, the bench's own small share included)
          const nodeOut = join(dir, `node-${qps}-${rep}`);
          before = cpuSnapshot(simPids);
          const cpu0 = process.cpuUsage();
          const nodeCode = await load(loadArgs(qps, nodeOut));
          const cpu = process.cpuUsage(cpu0);
          const nodeMachine = machineShare(before, cpuSnapshot(simPids));
          if (nodeCode !== 0) throw new Error(`load (node) at ${qps} pairs/s exited ${nodeCode}`);
          const nodeRecords = await readOut(nodeOut);
          results.push({
            variant: 'node',
            qps,
            rep,
            streams: nodeRecords.filter((r) => r.outcome.kind === 'ok').length / 2,
            cpuS: (cpu.user + cpu.system) / 1e6,
            records: nodeRecords,
            achieved: null,
            dropped: null,
            machine: nodeMachine,
          });
        }
      const runs: Array<Array<string | number>> = [];
      for (const qps of STEPS)
        for (let rep = 0; rep < REPEATS; rep++) {
          const mine = results.filter((r) => r.qps === qps && r.rep === rep);
          const nodeTtft = timing(mine.find((r) => r.variant === 'node')!.records!).ttftP50;
          const bareCpu = mine.find((r) => r.variant === 'bare')!;
          const bareUs = (bareCpu.cpuS / (bareCpu.streams * 2 * perStream)) * 1e6;
          for (const r of mine) {
            const us = (r.cpuS / (r.streams * 2 * perStream)) * 1e6;
            const t = r.records === null ? null : timing(r.records);
            runs.push([
              qps,
              r.variant,
              t?.achieved ?? r.achieved ?? '–',
              r.dropped ?? '–',
              t?.lagP99 ?? r.bareTiming?.lagP99 ?? '–',
              t?.skewP99 ?? r.bareTiming?.skewP99 ?? '–',
              us,
              r.variant === 'node' ? '–' : us / bareUs,
              t?.ttftP50 ?? '–',
              t?.ttftP50 != null && nodeTtft !== null && r.variant !== 'node' ? t.ttftP50 - nodeTtft : '–',
              r.machine?.busyPct ?? '–',
              r.machine?.simsPct ?? '–',
            ]);
          }
        }
      const rows = medianRows(runs);
      return [
        {
          title: `k6 engine vs bare xk6-sse vs Node engine (${TOKENS}-token streams, 5 ms per token, ${perStream} SSE events each; ${SECONDS} s per step${REPEATS > 1 ? `; medians of ${REPEATS} interleaved runs` : ''})`,
          columns: [
            'pairs/s',
            'engine',
            'achieved pairs/s',
            'dropped',
            'send lag p99 ms',
            'arm skew p99 ms',
            'CPU µs/event',
            '× bare',
            'TTFT P50 ms',
            'Δ TTFT P50 vs node ms',
            'machine busy %',
            'sims %',
          ],
          rows,
          notes: [
            `k6 CPU: the k6 process (bash \`times\` of its wrapper), including the initialisation of its pre-allocated VUs (qps × ${EXPECTED_LATENCY_S} s × 1.5 + 1 per arm, the k6 engine also qps × its schedule hold), which short steps do not amortise; node CPU: this whole process (engine + the bench). The simulated endpoints share the same 2 cores, so lag and skew are pessimistic.`,
            "bare: no records (empty event handler; one console line per iteration with k6's start time), so no TTFT; its lag is against its own scenario's start + i / qps, as k6 ticks it, and its skew is between the arms' iteration starts: what k6's executor holds with nothing but xk6-sse in the VUs. achieved = completed iterations per arm / scenario length. k6 timestamps are Date.now (1 ms steps).",
            "k6 engine: lag against the arms' shared due instant (origin + hold + i / qps, k6/README.md 'How requests are scheduled').",
            `machine busy % and sims %: shares of all ${availableParallelism()} cores' time (/proc/stat; the sims' utime + stime) over the variant's whole run, its start-up and teardown included: how much of the machine was left. Lag and skew tails grow as it nears 100 %.`,
            `Machine load (1-min load average, ${availableParallelism()} cores): ${loadBefore.toFixed(1)} before, ${loadavg()[0]!.toFixed(1)} after. Above the core count, other work shared the CPU and lag / skew say little about the engines.`,
          ],
        },
      ];
    } finally {
      for (const key of Object.keys(env)) {
        if (savedEnv[key] === undefined) delete process.env[key];
        else process.env[key] = savedEnv[key];
      }
      await Promise.all(sims.map((s) => s.close()));
    }
  },
};
