// What the live proxy adds to a client's time to first token, on loopback. The sims and the proxy
// each run in their own child process (as in production, the proxy never shares the client's event
// loop); this process is the client. Requests alternate between the baseline sim directly and the
// proxy (baseline primary, candidate shadow), open loop, so both paths see the same conditions.
//
// Added latency is measured against the sim's ground truth, not the sim's (noisy) TTFT:
//   delivery delay = client's arrival of the first content chunk − the sim's write of it
// (process.hrtime.bigint() in both processes: CLOCK_MONOTONIC is machine-wide). Direct, that is
// loopback + client parsing; through the proxy, the same plus the proxy hop. The proxy's cost is
// the difference, reported two ways: P50 / P90 / P99 of each path's delays subtracted, and the same
// percentiles of the paired differences (each proxied request against the direct one sent just before
// it, so both saw the same moment's machine). The machine's own wake-up floor (bench/wake-probe.ts)
// runs alongside: on a busy machine each process hop costs about one wake-up, which is why an outside
// client on a loaded box sees ~1-2 ms where a quiet one sees ~0.1-0.3 ms. A second run stalls every
// shadow request, to show the client does not notice.
// BENCH_PROXY_REQUESTS (default 300) sets the measured requests per path.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Agent, request } from 'undici';
import { percentile } from '../analysis/stats/stats.ts';
import { startSimProcess, type SimProcess } from '../sim/process.ts';
import { runWakeProbe, type WakeLateness } from './wake-probe.ts';
import type { Benchmark, BenchTable } from './run.ts';

const MAIN = fileURLToPath(new URL('../cli/main.ts', import.meta.url));
const PER_PATH = Number(process.env.BENCH_PROXY_REQUESTS ?? 300);
const RATE = 40; // requests/s, both paths together
const MAX_TOKENS = 32;
/** Requests per path sent first and not measured (JIT, connection pools). */
const WARMUP = 40;

async function startProxyProcess(args: string[]): Promise<{ url: string; stop: () => Promise<void> }> {
  const child = spawn(process.execPath, [MAIN, 'proxy', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (t: string) => (stderr = (stderr + t).slice(-2000)));
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`proxy exited ${code}: ${stderr}`)));
  });
  const { url } = JSON.parse(line) as { url: string };
  return {
    url,
    stop: async () => {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

interface Sample {
  path: 'direct' | 'proxy';
  /** Pair number: request 2k goes direct, 2k + 1 through the proxy. */
  pair: number;
  id: string;
  firstContentNs: bigint | null;
}

const CONTENT = /"content":"[^"]/;

async function send(dispatcher: Agent, base: string, id: string, prompt: string): Promise<bigint | null> {
  const res = await request(base + '/v1/chat/completions', {
    dispatcher,
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-request-id': id },
    body: JSON.stringify({
      model: 'meta-llama/Llama-3.1-8B-Instruct',
      messages: [{ role: 'user', content: prompt }],
      max_tokens: MAX_TOKENS,
      stream: true,
    }),
  });
  let first: bigint | null = null;
  for await (const chunk of res.body) {
    if (first === null && CONTENT.test(String(chunk))) first = process.hrtime.bigint();
  }
  return first;
}

async function groundTruthFirst(sim: SimProcess, id: string): Promise<bigint | null> {
  const res = await request(`${sim.url}/sim/ground-truth?id=${encodeURIComponent(id)}`);
  if (res.statusCode !== 200) {
    await res.body.dump();
    return null;
  }
  const truth = (await res.body.json()) as { first_content_mono_ns: string | null };
  return truth.first_content_mono_ns === null ? null : BigInt(truth.first_content_mono_ns);
}

async function scenario(candidateArgs: string[], label: string): Promise<{ rows: Array<Array<string | number>>; floor: WakeLateness }> {
  const sims = await Promise.all([
    startSimProcess('vllm-single-node', ['--time-scale', '0.2']),
    startSimProcess('dynamo-disaggregated', ['--time-scale', '0.2', ...candidateArgs]),
  ]);
  const [base, cand] = sims;
  const out = mkdtempSync(join(tmpdir(), 'sb-bench-proxy-'));
  const proxy = await startProxyProcess([
    '--baseline',
    base.url,
    '--candidate',
    cand.url,
    '--listen',
    '127.0.0.1:0',
    '--out',
    out,
    '--run-id',
    'bench',
    '--shadow-timeout',
    '5',
  ]);
  const dispatcher = new Agent({ connections: null, keepAliveTimeout: 30_000 });
  const samples: Sample[] = [];
  const measuredS = (2 * PER_PATH) / RATE;
  // The wake-up floor over the measured part (after the warm-up), in its own process.
  const floor = new Promise((r) => setTimeout(r, ((2 * WARMUP) / RATE) * 1000)).then(() => runWakeProbe(200, measuredS));
  try {
    const gapMs = 1000 / RATE;
    const started = performance.now();
    const pending: Array<Promise<void>> = [];
    for (let i = 0; i < 2 * (WARMUP + PER_PATH); i++) {
      const due = started + i * gapMs;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const path = i % 2 === 0 ? 'direct' : 'proxy';
      const id = `${label}-${path}-${i}`;
      pending.push(
        send(dispatcher, path === 'direct' ? base.url : proxy.url, id, `bench question ${i >> 1}`).then((first) => {
          if (i >= 2 * WARMUP) samples.push({ path, pair: i >> 1, id, firstContentNs: first });
        }),
      );
    }
    await Promise.all(pending);
  } finally {
    await proxy.stop();
    await dispatcher.close();
  }
  const delays: Record<'direct' | 'proxy', number[]> = { direct: [], proxy: [] };
  const byPair = new Map<number, Partial<Record<'direct' | 'proxy', number>>>();
  for (const s of samples) {
    const truth = await groundTruthFirst(base, s.id);
    if (truth === null || s.firstContentNs === null) continue;
    const ms = Number(s.firstContentNs - truth) / 1e6;
    delays[s.path].push(ms);
    byPair.set(s.pair, { ...byPair.get(s.pair), [s.path]: ms });
  }
  const paired = [...byPair.values()].flatMap((p) => (p.direct !== undefined && p.proxy !== undefined ? [p.proxy - p.direct] : []));
  await Promise.all(sims.map((s) => s.close()));
  rmSync(out, { recursive: true, force: true });
  const row = (name: string, v: number[]) => [
    label,
    name,
    v.length,
    percentile(v, 50),
    percentile(v, 90),
    percentile(v, 99),
    Math.max(...v),
  ];
  const added = [
    label,
    'proxy − direct',
    '',
    percentile(delays.proxy, 50) - percentile(delays.direct, 50),
    percentile(delays.proxy, 90) - percentile(delays.direct, 90),
    percentile(delays.proxy, 99) - percentile(delays.direct, 99),
    '',
  ];
  return {
    rows: [row('direct', delays.direct), row('through proxy', delays.proxy), added, row('paired (proxy − direct)', paired)],
    floor: await floor,
  };
}

export const benchmark: Benchmark = {
  name: 'proxy',
  async run(): Promise<BenchTable[]> {
    const healthy = await scenario([], 'healthy shadow');
    const stalled = await scenario(['--stall-rate', '1'], 'stalled shadow');
    const rows = [...healthy.rows, ...stalled.rows];
    const floorRow = (label: string, f: WakeLateness) => [label, f.wakeUps, f.p50Ms, f.p99Ms, f.maxMs];
    return [
      {
        title: `Proxy: first-content delivery delay, ms (client arrival − sim write; ${PER_PATH} requests per path after ${WARMUP} warm-up, ${RATE} req/s alternating, ${MAX_TOKENS}-token streams, loopback)`,
        columns: ['shadow', 'path', 'n', 'P50', 'P90', 'P99', 'max'],
        rows,
        notes: [
          'The proxy row minus the direct row is what the proxy adds to TTFT. Sims, proxy and client are separate processes on the same 2 cores,',
          'so the P99 rows carry OS-scheduling noise: compare the direct P99 across the two scenarios to see how much (it is the same path both times).',
          'Stalled shadow: every candidate request stalls (sim --stall-rate 1) until the 5 s shadow timeout; beyond 64 in flight, shadows are dropped.',
          "Paired: each proxied request minus the direct request sent 1/RATE before it (same client, same moment); the spread is the machine's.",
        ],
      },
      {
        title: 'Wake-up floor during each scenario: a separate process waking 200 times a second (bench/wake-probe.ts), lateness in ms',
        columns: ['shadow', 'wake-ups', 'P50', 'P99', 'max'],
        rows: [floorRow('healthy shadow', healthy.floor), floorRow('stalled shadow', stalled.floor)],
        notes: [
          'A proxied first token crosses one more process (the proxy) than a direct one: expect the added time to track about one wake-up.',
        ],
      },
    ];
  },
};
