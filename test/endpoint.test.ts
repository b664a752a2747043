// One endpoint URL policy (core/endpoint.ts), table-driven: for each way of writing an arm's base
// URL, the k6 script (its bundle under the k6 doubles), the Node engine (createArmClient +
// createRequest), preflight and the proxy (startProxy, its CLI check included) send to the same
// request URL. Each component runs its real URL-building path against one capturing server that
// records the path and query of every request it gets.
import test from 'ava';
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EndpointError, forwardPath, parseEndpoint, requestPath, requestUrl } from '../core/endpoint.ts';
import { emptyRecord, type RequestRecord } from '../core/record.ts';
import { parseWorkload } from '../core/workload/workload.ts';
import { createArmClient, createRequest } from '../engine/client.ts';
import { monoNow } from '../engine/pacer.ts';
import { preflight } from '../engine/preflight.ts';
import type { ArmTarget } from '../engine/config.ts';
import { startProxy } from '../proxy/server.ts';
import { baseUrl as proxyBaseUrl } from '../cli/proxy.ts';
import { resolvedWorkloadJsonl } from '../cli/load-k6.ts';
import { K6_CONFIG_VERSION, type K6ScriptConfig } from '../k6/script/config.ts';
import { buildTestBundle, loadInstance, restoreConsole, runIteration } from './doubles/k6/runtime.ts';
import { closeBridge } from './doubles/k6/bridge.ts';
import { proxyOptions } from './support/proxy-harness.ts';

/** Base URL as written (H = the capturing server's origin) → the chat request's path?query, and preflight's. */
const CASES: Array<{ base: string; chat: string; models: string }> = [
  { base: 'H', chat: '/v1/chat/completions', models: '/v1/models' },
  { base: 'H/', chat: '/v1/chat/completions', models: '/v1/models' },
  { base: 'H/v1', chat: '/v1/chat/completions', models: '/v1/models' },
  { base: 'H/v1/', chat: '/v1/chat/completions', models: '/v1/models' },
  { base: 'H/prefix', chat: '/prefix/v1/chat/completions', models: '/prefix/v1/models' },
  { base: 'H?api-version=1', chat: '/v1/chat/completions?api-version=1', models: '/v1/models?api-version=1' },
];

// The capturing server runs on its own thread: the k6 doubles block the test's thread while a request
// is in flight (as a k6 VU blocks in sse.open), so a server on this thread would never answer.
const SERVER = `
const { createServer } = require('node:http');
const { parentPort } = require('node:worker_threads');
const seen = [];
const sse = ${JSON.stringify(
  [
    { choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }] },
    { choices: [{ index: 0, delta: { content: 'hi' }, finish_reason: null }] },
    { choices: [{ index: 0, delta: {}, finish_reason: 'stop' }], usage: { prompt_tokens: 3, completion_tokens: 1 } },
  ]
    .map((c) => `data: ${JSON.stringify(c)}\n\n`)
    .join('') + 'data: [DONE]\n\n',
)};
const server = createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    seen.push(req.method + ' ' + req.url);
    if (req.method === 'GET') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ object: 'list', data: [{ id: 'm' }] }));
      return;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.end(sse);
  });
});
server.listen(0, '127.0.0.1', () => parentPort.postMessage({ port: server.address().port }));
parentPort.on('message', (m) => {
  if (m === 'take') parentPort.postMessage({ seen: seen.splice(0, seen.length) });
  else { server.closeAllConnections(); server.close(() => parentPort.postMessage({ closed: true })); }
});
`;

let origin = '';
let worker: Worker;
const dir = mkdtempSync(join(tmpdir(), 'sb-endpoint-'));
let bundle = '';

test.before(async () => {
  worker = new Worker(SERVER, { eval: true });
  const [ready] = (await once(worker, 'message')) as [{ port: number }];
  origin = `http://127.0.0.1:${ready.port}`;
  bundle = await buildTestBundle(join(dir, 'bundle'));
});
test.after.always(async () => {
  restoreConsole();
  worker.postMessage('close');
  await once(worker, 'message');
  await worker.terminate();
  await closeBridge();
});

/** The requests the server got since the last call, in arrival order. */
async function taken(): Promise<string[]> {
  worker.postMessage('take');
  const [reply] = (await once(worker, 'message')) as [{ seen: string[] }];
  return reply.seen;
}

const url = (base: string) => base.replace(/^H/, origin);

async function nodeEngine(base: string): Promise<RequestRecord> {
  const client = createArmClient('baseline', url(base), {}, 5000);
  const record = emptyRecord({
    run_id: 'r',
    arm: 'baseline',
    index: 0,
    item_id: 'i',
    warmup: false,
    source: 'node',
    streaming: true,
    scheduled_ns: 0,
  });
  const done = await new Promise<RequestRecord>((resolve) => {
    createRequest({
      client,
      api: 'chat',
      stream: true,
      body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }], stream: true }),
      requestId: 'r:baseline:0',
      record,
      origin: monoNow(),
      timeoutMs: 5000,
      onDone: resolve,
    }).start();
  });
  await client.dispatcher.close();
  return done;
}

async function k6Script(base: string): Promise<void> {
  const workloadFile = join(dir, 'workload.jsonl');
  const workload = parseWorkload(JSON.stringify({ id: 'a', messages: [{ role: 'user', content: 'hi' }], max_tokens: 1 }) + '\n', {
    file: 'w.jsonl',
    seed: 1,
    model: 'm',
  });
  writeFileSync(workloadFile, resolvedWorkloadJsonl(workload));
  const config: K6ScriptConfig = {
    v: K6_CONFIG_VERSION,
    run_id: 'endpoint',
    mode: 'sse',
    qps: 10,
    total_requests: 1,
    warmup: 0,
    seed: 1,
    order: 'sequential',
    workload_file: workloadFile,
    workload: { format: 'openai' },
    arms: [{ arm: 'baseline', url: url(base), model: null }],
    timeout_s: 5,
    expected_latency_s: 0.5,
    max_vus: 0,
    start_delay_s: 0,
    thresholds: {},
    summary_file: join(dir, 'summary.json'),
  };
  const configFile = join(dir, 'config.json');
  writeFileSync(configFile, JSON.stringify(config));
  const module = await loadInstance(bundle, { SB_CONFIG_FILE: configFile }, join(dir, 'console.log'));
  const data = module.setup();
  runIteration(module, 'baseline', 0, Date.now(), data);
  restoreConsole();
}

for (const c of CASES) {
  test.serial(`base URL ${c.base}: k6 script, Node engine, preflight and proxy send to ${c.chat}`, async (t) => {
    await taken();
    await k6Script(c.base);
    t.deepEqual(await taken(), [`POST ${c.chat}`], 'k6 script');

    const record = await nodeEngine(c.base);
    t.is(record.outcome.kind, 'ok', JSON.stringify(record.outcome));
    t.deepEqual(await taken(), [`POST ${c.chat}`], 'Node engine');

    const target: ArmTarget = { arm: 'baseline', url: url(c.base), model: null, headers: {}, simulatedProfile: null };
    await preflight(
      [target],
      () => ['m'],
      (a) => a.url,
    );
    t.deepEqual(await taken(), [`GET ${c.models}`], 'preflight');

    // The proxy: its CLI accepts the URL, then a client's chat request is forwarded to both arms.
    t.is(proxyBaseUrl('--baseline', url(c.base)), url(c.base));
    const proxy = await startProxy(proxyOptions({ baselineUrl: url(c.base), candidateUrl: url(c.base), runId: 'endpoint' }));
    try {
      await taken();
      const res = await fetch(`${proxy.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }], stream: true }),
      });
      await res.text();
      const got: string[] = [];
      for (let i = 0; i < 500 && got.length < 2; i++) {
        got.push(...(await taken())); // the shadow may land after the reply
        if (got.length < 2) await new Promise((r) => setTimeout(r, 10));
      }
      t.deepEqual(got, [`POST ${c.chat}`, `POST ${c.chat}`], 'proxy (primary and shadow)');
    } finally {
      await proxy.close();
    }
  });
}

test('the policy itself: origin, prefix, query and credentials kept apart; bad URLs named', (t) => {
  t.deepEqual(parseEndpoint('HTTPS://u:p%40w@Host.example:8443/a/b/v1/?x=1&y=2#frag'), {
    origin: 'https://host.example:8443',
    prefix: '/a/b',
    query: '?x=1&y=2',
    credentials: 'u:p%40w',
  });
  const e = parseEndpoint('http://h:8000/p?api-version=1');
  t.is(requestPath(e, '/v1/completions'), '/p/v1/completions?api-version=1');
  t.is(requestUrl(parseEndpoint('http://u:p@h:8000'), '/v1/models', true), 'http://u:p@h:8000/v1/models');
  t.is(requestUrl(parseEndpoint('http://u:p@h:8000'), '/v1/models'), 'http://h:8000/v1/models');
  // The proxy: base query first, then the client's.
  t.is(forwardPath(e, '/v1/chat/completions?stream=1'), '/p/v1/chat/completions?api-version=1&stream=1');
  t.is(forwardPath(parseEndpoint('http://h:8000/v1'), '/v1/chat/completions?s=1'), '/v1/chat/completions?s=1');
  // Only the last /v1 goes: /v1/v1 is a prefix /v1 (never silently both).
  t.is(parseEndpoint('http://h:8000/v1/v1').prefix, '/v1');
  for (const bad of ['h:8000', 'ftp://h', 'http://', 'http://h:port/x']) t.throws(() => parseEndpoint(bad), { instanceOf: EndpointError });
});
