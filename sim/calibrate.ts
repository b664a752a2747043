// Calibration of the simulator's profiles: an open-loop client that sends chat requests at a fixed
// rate (without waiting for answers) and measures TTFT and ITL as a client sees them. Used by the
// calibration test and runnable by hand to re-tune sim/profiles.ts:
//
//   node sim/calibrate.ts [profile] [qps] [seconds]      (starts the sim in this process)
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { createParser } from 'eventsource-parser';
import { Agent, request } from 'undici';
import { percentile } from '../analysis/stats/stats.ts';
import { buildRequestBody } from '../core/openai.ts';
import { derivedRandom } from '../core/random.ts';
import { parseWorkload } from '../core/workload/workload.ts';
import type { ChatRequest } from './workload.ts';

/** The shipped sample workload the profiles are calibrated against. */
export const SAMPLE_WORKLOAD = fileURLToPath(new URL('../workloads/sample-chat.jsonl', import.meta.url));

/** `count` streaming chat bodies (usage included) cycling through the sample workload in file order, as `npm run load` sends them. */
export function sampleWorkloadRequests(count: number): Array<Record<string, unknown>> {
  const workload = parseWorkload(readFileSync(SAMPLE_WORKLOAD, 'utf8'), { file: SAMPLE_WORKLOAD, seed: 1 });
  const items = workload.items.filter((item) => item.api === 'chat');
  return Array.from({ length: count }, (_, i) =>
    buildRequestBody((items[i % items.length] as (typeof items)[number]).body, { model: null, stream: true }),
  );
}

/** The same requests as sim/virtual.ts takes them (messages and max_tokens). */
export function sampleWorkloadChat(count: number): ChatRequest[] {
  return sampleWorkloadRequests(count).map((body) => ({
    messages: body.messages as ChatRequest['messages'],
    max_tokens: typeof body.max_tokens === 'number' ? body.max_tokens : 128,
  }));
}

/**
 * Chat requests shaped like the shipped sample workload: a few long shared system prompts (so the
 * prefix cache hits), user turns of 10-200 words, max_tokens 64-256. Built from the seed alone.
 */
export function syntheticChatRequests(count: number, seed: number, model: string): Array<Record<string, unknown>> {
  const random = derivedRandom(seed, 'synthetic-chat');
  const word = () => `w${Math.floor(random() * 5000)}`;
  const sentence = (n: number) => Array.from({ length: n }, word).join(' ');
  const systems = Array.from({ length: 4 }, (_, i) => `You are assistant ${i}. ${sentence(150 + Math.floor(random() * 250))}`);
  return Array.from({ length: count }, () => ({
    model,
    messages: [
      { role: 'system', content: systems[Math.floor(random() * systems.length)] },
      { role: 'user', content: sentence(10 + Math.floor(random() * 190)) },
    ],
    max_tokens: 64 + Math.floor(random() * 193),
    stream: true,
    stream_options: { include_usage: true },
  }));
}

export interface ClientTiming {
  status: number;
  /** Send → first chunk with non-empty content, ms (null when none arrived). */
  ttftMs: number | null;
  /** Gaps between consecutive content chunks, ms. */
  itlMs: number[];
}

/**
 * Sends `bodies[i]` to `${url}/v1/chat/completions` at i / qps seconds (open loop) and measures
 * each response. `skipFirst` requests are sent (they load the server) but left out of the result.
 * Without `measureItl` the client closes each stream at its first content chunk. The simulator's load
 * is its simulated schedule, which is the same whether or not the rest is read, so TTFT is unchanged,
 * while neither side spends CPU on the other ~14,000 chunks/s (on a shared 2-core machine that CPU
 * time would show up as scheduling delay in the very TTFT being measured).
 */
export async function openLoop(
  url: string,
  bodies: ReadonlyArray<Record<string, unknown>>,
  qps: number,
  skipFirst = 0,
  measureItl = true,
): Promise<ClientTiming[]> {
  const agent = new Agent({ connections: null, pipelining: 1, keepAliveTimeout: 30_000 });
  const start = performance.now() + 20;
  const pending: Array<Promise<ClientTiming>> = [];
  try {
    for (let i = 0; i < bodies.length; i++) {
      const due = start + (i * 1000) / qps;
      const wait = due - performance.now();
      if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait - 1));
      while (performance.now() < due) await new Promise((resolve) => setImmediate(resolve));
      pending.push(one(agent, url, bodies[i] as Record<string, unknown>, measureItl));
    }
    return (await Promise.all(pending)).slice(skipFirst);
  } finally {
    await agent.close();
  }
}

async function one(agent: Agent, url: string, body: Record<string, unknown>, measureItl: boolean): Promise<ClientTiming> {
  const sent = performance.now();
  const res = await request(`${url}/v1/chat/completions`, {
    method: 'POST',
    dispatcher: agent,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  let first: number | null = null;
  let last = 0;
  const itl: number[] = [];
  const parser = createParser({
    onEvent(event) {
      if (event.data === '[DONE]') return;
      const delta = (JSON.parse(event.data) as { choices: Array<{ delta?: { content?: string } }> }).choices[0]?.delta;
      if (!delta?.content) return;
      const now = performance.now();
      if (first === null) first = now;
      else itl.push(now - last);
      last = now;
    },
  });
  const decoder = new TextDecoder();
  await new Promise<void>((resolve, reject) => {
    res.body.on('data', (chunk: Buffer) => {
      parser.feed(decoder.decode(chunk, { stream: true }));
      if (!measureItl && first !== null) {
        res.body.destroy();
        resolve();
      }
    });
    res.body.once('end', resolve);
    res.body.once('error', (error) => (first !== null && !measureItl ? resolve() : reject(error)));
  });
  return { status: res.statusCode, ttftMs: first === null ? null : (first as number) - sent, itlMs: itl };
}

if (import.meta.main) {
  // The sim runs in a child process, as `npm run load` runs it, so client and server do not share a core.
  const profile = process.argv[2] ?? 'vllm-single-node';
  const qps = Number(process.argv[3] ?? 100);
  const seconds = Number(process.argv[4] ?? 10);
  const main = fileURLToPath(new URL('./main.ts', import.meta.url));
  const child = spawn(process.execPath, [main, '--profile', profile, '--port', '0', '--seed', '1'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const [line] = (await once(createInterface({ input: child.stdout }), 'line')) as [string];
  const { url, model } = JSON.parse(line) as { url: string; model: string };
  const bodies =
    process.argv[5] === 'synthetic'
      ? syntheticChatRequests(Math.round(qps * seconds), 7, model)
      : sampleWorkloadRequests(Math.round(qps * seconds));
  const printProbe = async () => {
    const text = await (await fetch(`${url}/metrics`)).text();
    process.stdout.write(
      text
        .split('\n')
        .filter((l) => /^vllm:num_requests|^vllm:kv|^DCGM/.test(l))
        .join('\n') + '\n',
    );
  };
  const probe = setTimeout(() => void printProbe().catch(() => undefined), (seconds * 1000) / 2);
  const timings = await openLoop(url, bodies, qps, Math.round(qps));
  clearTimeout(probe);
  child.kill('SIGTERM');
  const ttft = timings.map((t) => t.ttftMs).filter((v): v is number => v !== null);
  const itl = timings.flatMap((t) => t.itlMs);
  const f = (values: number[], p: number) => (values.length === 0 ? 'NaN' : percentile(values, p).toFixed(1)); // no answers → NaN, as before
  process.stdout.write(
    `${profile} @ ${qps} QPS, ${ttft.length} requests: TTFT P50 ${f(ttft, 50)} P90 ${f(ttft, 90)} P99 ${f(ttft, 99)} ms; ` +
      `ITL P50 ${f(itl, 50)} P99 ${f(itl, 99)} ms\n`,
  );
}
