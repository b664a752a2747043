// How many streamed requests per second the simulator serves, so it is never the bottleneck of the
// harness's own tests. The sim runs in a child process (as `npm run load` starts it) with zero
// simulated delay; this process drives it with undici at increasing concurrency (closed loop),
// 128-token chat streams with include_usage, and counts SSE events.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Pool } from 'undici';
import type { Benchmark, BenchTable } from './run.ts';

const MAIN = fileURLToPath(new URL('../cli/main.ts', import.meta.url));
const SECONDS = 3;
const TOKENS = 128;

async function startChild(args: string[]): Promise<{ url: string; stop: () => Promise<void> }> {
  const child = spawn(process.execPath, [MAIN, 'sim', '--port', '0', ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  const [line] = (await once(createInterface({ input: child.stdout }), 'line')) as [string];
  const { url } = JSON.parse(line) as { url: string };
  return {
    url,
    stop: async () => {
      child.kill('SIGTERM');
      await once(child, 'exit');
    },
  };
}

interface Result {
  requests: number;
  events: number;
  failures: number;
  seconds: number;
}

async function drive(url: string, concurrency: number, seconds: number): Promise<Result> {
  const pool = new Pool(url, { connections: concurrency, pipelining: 1 });
  const bodies = Array.from({ length: 64 }, (_, i) =>
    JSON.stringify({
      model: 'meta-llama/Llama-3.1-8B-Instruct',
      messages: [
        { role: 'system', content: 'You are a helpful assistant.' },
        { role: 'user', content: `Question number ${i}: tell me something.` },
      ],
      max_tokens: TOKENS,
      ignore_eos: true,
      stream: true,
      stream_options: { include_usage: true },
    }),
  );
  const result: Result = { requests: 0, events: 0, failures: 0, seconds: 0 };
  const started = performance.now();
  const end = started + seconds * 1000;
  let n = 0;
  const worker = async () => {
    while (performance.now() < end) {
      const res = await pool.request({
        path: '/v1/chat/completions',
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: bodies[n++ % bodies.length],
      });
      let events = 0;
      let pendingNewline = false; // the previous chunk ended in the first '\n' of an event's blank line
      for await (const chunk of res.body) {
        const text = (chunk as Buffer).toString('latin1');
        let from = 0;
        if (pendingNewline && text.charCodeAt(0) === 10) {
          events++;
          from = 1;
        }
        let counted = from;
        for (let i = text.indexOf('\n\n', from); i !== -1; i = text.indexOf('\n\n', i + 2)) {
          events++;
          counted = i + 2;
        }
        pendingNewline = text.length > counted && text.charCodeAt(text.length - 1) === 10;
      }
      result.events += events;
      if (res.statusCode === 200 && events === TOKENS + 3) result.requests++;
      else result.failures++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  result.seconds = (performance.now() - started) / 1000;
  await pool.close();
  return result;
}

export const benchmark: Benchmark = {
  name: 'sim',
  async run(): Promise<BenchTable[]> {
    const rows: Array<Array<string | number>> = [];
    const modes: Array<{ label: string; args: string[]; levels: number[] }> = [
      { label: 'time scale 0', args: ['--time-scale', '0'], levels: [1, 8, 32, 128] },
      { label: 'ITL 0, TTFT modelled', args: ['--inter-token-ms', '0'], levels: [256] },
    ];
    for (const mode of modes) {
      const sim = await startChild(mode.args);
      try {
        await drive(sim.url, 8, 0.5); // warm-up: JIT, connections
        for (const concurrency of mode.levels) {
          const r = await drive(sim.url, concurrency, SECONDS);
          rows.push([mode.label, concurrency, r.requests / r.seconds, r.events / r.seconds, r.failures]);
        }
      } finally {
        await sim.stop();
      }
    }
    return [
      {
        title: `Simulator throughput: ${TOKENS}-token chat streams (role + ${TOKENS} content + usage + [DONE] events), closed loop, ${SECONDS} s per row`,
        columns: ['sim mode', 'concurrency', 'requests/s', 'SSE events/s', 'failures'],
        rows,
        notes: [
          'The sim runs in a child process (one core); the undici client in the benchmark process takes the other core.',
          'Target: ≥ 1,000 streamed requests/s of 128 tokens with zero inter-token delay.',
        ],
      },
    ];
  },
};
