// What the live proxy adds to a client's time to first token, on loopback. The sims and the proxy
// each run in their own child process (as in production, the proxy never shares the client's event
// loop); this process is the client. Requests alternate between the baseline sim directly and the
// proxy (baseline primary, candidate shadow), open loop, so both paths see the same conditions.
//
// Added latency is measured against the sim's ground truth, not the sim's (noisy) TTFT:
//   delivery delay = client's arrival of the first content chunk − the sim's write of it
// (process.hrtime.bigint() in both processes: CLOCK_MONOTONIC is machine-wide). Direct, that is
// loopback + client parsing; through the proxy, the same plus the proxy hop. The proxy's cost is
// the difference, reported at P50 / P99. A second run stalls every shadow request, to show the
// client does not notice.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Agent, request } from 'undici';
import { percentile } from '../analysis/stats/stats.ts';
import { startSimProcess, type SimProcess } from '../sim/process.ts';
import type { Benchmark, BenchTable } from './run.ts';

const MAIN = fileURLToPath(new URL('../cli/main.ts', import.meta.url));
const PER_PATH = 300;
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

async function scenario(candidateArgs: string[], label: string): Promise<Array<Array<string | number>>> {
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
          if (i >= 2 * WARMUP) samples.push({ path, id, firstContentNs: first });
        }),
      );
    }
    await Promise.all(pending);
  } finally {
    await proxy.stop();
    await dispatcher.close();
  }
  const delays: Record<'direct' | 'proxy', number[]> = { direct: [], proxy: [] };
  for (const s of samples) {
    const truth = await groundTruthFirst(base, s.id);
    if (truth !== null && s.firstContentNs !== null) delays[s.path].push(Number(s.firstContentNs - truth) / 1e6);
  }
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
  return [row('direct', delays.direct), row('through proxy', delays.proxy), added];
}

export const benchmark: Benchmark = {
  name: 'proxy',
  async run(): Promise<BenchTable[]> {
    const rows = [...(await scenario([], 'healthy shadow')), ...(await scenario(['--stall-rate', '1'], 'stalled shadow'))];
    return [
      {
        title: `Proxy: first-content delivery delay, ms (client arrival − sim write; ${PER_PATH} requests per path after ${WARMUP} warm-up, ${RATE} req/s alternating, ${MAX_TOKENS}-token streams, loopback)`,
        columns: ['shadow', 'path', 'n', 'P50', 'P90', 'P99', 'max'],
        rows,
        notes: [
          'The proxy row minus the direct row is what the proxy adds to TTFT. Sims, proxy and client are separate processes on the same 2 cores,',
          'so the P99 rows carry OS-scheduling noise: compare the direct P99 across the two scenarios to see how much (it is the same path both times).',
          'Stalled shadow: every candidate request stalls (sim --stall-rate 1) until the 5 s shadow timeout; beyond 64 in flight, shadows are dropped.',
        ],
      },
    ];
  },
};
