// What the proxy tests share: a full ProxyOptions with test defaults (loopback, port 0, shadow on,
// no admin, a fresh run folder), a chat request body for the sim, a client POST that reads the whole
// reply, and a poll-until helper (no fixed sleeps).
import { readFileSync } from 'node:fs';
import type { IncomingHttpHeaders } from 'node:http';
import { request } from 'undici';
import { DEFAULT_SIM_MODEL } from '../../sim/server.ts';
import type { ProxyOptions } from '../../proxy/server.ts';
import { DEFAULT_ROLLBACK_THRESHOLDS } from '../../proxy/rollback.ts';
import { tempDir } from './load-helpers.ts';

/** A fresh temporary folder for a proxy test (tempDir from load-helpers with a proxy prefix). */
export const tmpDir = (prefix = 'sb-proxy-') => tempDir(prefix);

/** The proxy's options as the tests start it; `over` names the endpoints and whatever the test varies. */
export function proxyOptions(over: Partial<ProxyOptions> & { baselineUrl: string; candidateUrl: string }): ProxyOptions {
  return {
    host: '127.0.0.1',
    port: 0,
    admin: null,
    weight: 0,
    schedule: null,
    scheduleDayMs: 86_400_000,
    shadow: true,
    shadowTimeoutMs: 30_000,
    shadowMaxInflight: 64,
    primaryTimeoutMs: 60_000,
    checkIntervalMs: 30_000,
    windowMs: 300_000,
    thresholds: DEFAULT_ROLLBACK_THRESHOLDS,
    recordText: false,
    apiKeys: { baseline: null, candidate: null },
    models: { baseline: null, candidate: null },
    runDir: tmpDir(),
    runId: 'proxy-test',
    seed: 1,
    drainTimeoutMs: 5_000,
    maxBodyBytes: 1 << 20,
    config: {},
    versions: {},
    log: () => {},
    ...over,
  };
}

export const CHAT_PATH = '/v1/chat/completions';

/** A streamed chat request for the sim's model, 12 tokens unless `extra` says otherwise. */
export const chat = (content: string, extra: Record<string, unknown> = {}) => ({
  model: DEFAULT_SIM_MODEL,
  messages: [{ role: 'user', content }],
  max_tokens: 12,
  stream: true,
  ...extra,
});

export interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
  /** When the last byte was read (process.hrtime). */
  endNs: bigint;
}

/** POSTs `body` as JSON to base + path and reads the whole reply. */
export async function post(base: string, path: string, body: unknown, headers: Record<string, string> = {}): Promise<Reply> {
  const res = await request(base + path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  const parts: Buffer[] = [];
  for await (const chunk of res.body) parts.push(chunk as Buffer);
  return { status: res.statusCode, headers: res.headers, body: Buffer.concat(parts).toString('utf8'), endNs: process.hrtime.bigint() };
}

/** Polls a condition every 5 ms (no fixed sleeps): resolves when it holds, fails after `ms`. */
export async function until(what: string, cond: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** The JSON objects of a JSONL file. */
export const jsonLines = (file: string) =>
  readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
