// The proxy against the simulated endpoints: byte-identical passthrough, shadows that fail in every
// way the sim can fail without touching the client, bounded shadow concurrency, client disconnects,
// graceful shutdown, per-arm credentials. Serial: some tests bound latencies.
import test from 'ava';
import { createServer } from 'node:http';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { createHash } from 'node:crypto';
import { startSim, DEFAULT_SIM_MODEL, type SimOptions, type SimServer } from '../sim/server.ts';
import { PROFILES } from '../sim/profiles.ts';
import { startProxy, type ProxyServer } from '../proxy/server.ts';
import { TEXT_HASH_PREFIX } from '../proxy/response-recorder.ts';
import { readRecords } from '../io/records-file.ts';
import type { RequestRecord } from '../core/record.ts';
import type { RunManifest } from '../core/run.ts';
import { chat, jsonLines, post, proxyOptions, tmpDir, until } from './support/proxy-harness.ts';

/** The sim stamps `created` with the wall-clock second of each response; that is the only byte allowed to differ. */
const normaliseCreated = (text: string) => text.replace(/"created":\d+/g, '"created":0');

async function sims(baseline: Partial<SimOptions>, candidate: Partial<SimOptions>): Promise<[SimServer, SimServer]> {
  return Promise.all([
    startSim({ profile: 'vllm-single-node', seed: 1, ...baseline }),
    startSim({ profile: 'dynamo-disaggregated', seed: 2, ...candidate }),
  ]);
}

const recordsOf = async (proxy: ProxyServer) => (await readRecords(join(proxy.runDir, 'records.jsonl'))).records;

test.serial(
  'a client sees byte-identical responses through the proxy and directly (streams, non-streaming, completions, errors)',
  async (t) => {
    const [base, cand] = await sims({ timeScale: 0.2 }, { timeScale: 0.2 });
    const proxy = await startProxy(proxyOptions({ baselineUrl: base.url, candidateUrl: cand.url }));
    try {
      const cases: Array<[string, string, unknown, Record<string, string>]> = [
        ['chat stream', '/v1/chat/completions', chat('Describe the harbour at dawn.', { max_tokens: 24 }), {}],
        ['chat stream with usage', '/v1/chat/completions', chat('Two plus two?', { stream_options: { include_usage: true } }), {}],
        ['chat, not streamed', '/v1/chat/completions', chat('Name a colour.', { stream: false }), {}],
        [
          'completions stream',
          '/v1/completions',
          { model: DEFAULT_SIM_MODEL, prompt: 'Once upon a time', max_tokens: 16, stream: true },
          {},
        ],
        ['server error', '/v1/chat/completions', chat('fail please'), { 'x-sim-fault': 'error-503' }],
      ];
      for (const [name, path, body, headers] of cases) {
        const id = createHash('sha256').update(name).digest('hex').slice(0, 12); // same x-request-id → same response id
        const direct = await post(base.url, path, body, { ...headers, 'x-request-id': id });
        const proxied = await post(proxy.url, path, body, { ...headers, 'x-request-id': id });
        t.is(proxied.status, direct.status, name);
        t.is(proxied.headers['content-type'], direct.headers['content-type'], name);
        t.true(direct.body.length > 0, name);
        t.is(normaliseCreated(proxied.body), normaliseCreated(direct.body), name);
      }
      await until('both arms recorded', () => proxy.state().totals.candidate.shadow === cases.length);
    } finally {
      await proxy.close();
      await Promise.all([base.close(), cand.close()]);
    }
    const records = await recordsOf(proxy);
    t.is(records.length, 10, 'one record per arm per request');
    for (let i = 0; i < 5; i++) {
      const pair = records.filter((r) => r.index === i);
      t.deepEqual(pair.map((r) => r.arm).sort(), ['baseline', 'candidate']);
      t.true(pair.every((r) => r.source === 'proxy' && r.scheduled_ns === pair[0]?.scheduled_ns && r.item_id === pair[0]?.item_id));
    }
    const ok = records.filter((r) => r.outcome.kind === 'ok');
    t.is(ok.length, 8);
    t.true(
      ok.every((r) => r.output_text.startsWith(TEXT_HASH_PREFIX)),
      'text is hashed without --record-text',
    );
    const byIndex = (arm: string, i: number) => records.find((r) => r.arm === arm && r.index === i) as RequestRecord;
    t.is(byIndex('baseline', 0).output_text, byIndex('candidate', 0).output_text, 'same prompt, same sim text: equal hashes');
    t.is(byIndex('baseline', 1).usage?.completion_tokens, 12);
    t.is(byIndex('baseline', 4).outcome.kind, 'http_error');
    t.deepEqual(
      jsonLines(join(proxy.runDir, 'routing.jsonl')).map((l) => [l.primary, l.shadow]),
      Array(5).fill(['baseline', 'sent']),
    );
    const manifest = JSON.parse(readFileSync(join(proxy.runDir, 'run.json'), 'utf8')) as RunManifest;
    t.is(manifest.engine, 'proxy');
    t.truthy(manifest.ended_at);
    t.regex(manifest.mono_origin_ns ?? '', /^\d+$/);
    const prompts = readdirSync(proxy.runDir)
      .map((f) => readFileSync(join(proxy.runDir, f), 'utf8'))
      .join('\n');
    t.false(prompts.includes('harbour'), 'no prompt text in the run folder');
  },
);

test.serial("a shadow that errors, stalls, disconnects or sends garbage never changes the client's response or its latency", async (t) => {
  const faults: Array<[string, SimOptions['faults'], string]> = [
    ['error', { errorRate: 1 }, 'http_error'],
    ['stall', { stallRate: 1 }, 'timeout'],
    ['disconnect', { disconnectRate: 1 }, 'connection_error'],
    ['malformed', { malformedRate: 1 }, 'protocol_error'],
  ];
  const base = await startSim({ profile: 'vllm-single-node', seed: 1, timeScale: 0.2 });
  try {
    for (const [name, fault, expected] of faults) {
      const cand = await startSim({ profile: 'dynamo-disaggregated', seed: 2, timeScale: 0.2, faults: fault });
      const proxy = await startProxy(proxyOptions({ baselineUrl: base.url, candidateUrl: cand.url, shadowTimeoutMs: 500 }));
      const overheadMs: number[] = [];
      const clientEnds: bigint[] = [];
      try {
        for (let i = 0; i < 6; i++) {
          const body = chat(`question ${i} for the ${name} case`, { max_tokens: 16 });
          const direct = await post(base.url, '/v1/chat/completions', body, { 'x-request-id': `${name}-${i}` });
          const proxied = await post(proxy.url, '/v1/chat/completions', body, { 'x-request-id': `${name}-${i}` });
          t.is(proxied.status, 200, `${name} ${i}`);
          t.is(normaliseCreated(proxied.body), normaliseCreated(direct.body), `${name} ${i}`);
          // Proxy-added latency, free of the sim's own noise: client's last byte − the sim's last content write (same monotonic clock).
          const truth = base.groundTruth(`${name}-${i}`);
          overheadMs.push(Number(proxied.endNs - (truth?.last_content_mono_ns as bigint)) / 1e6);
          clientEnds.push(proxied.endNs);
        }
        await until(`${name} shadows recorded`, () => proxy.state().totals.candidate.shadow === 6);
      } finally {
        await proxy.close();
        await cand.close();
      }
      t.log(`${name}: proxy-added latency (client last byte − sim last content) ${overheadMs.map((x) => x.toFixed(2)).join(', ')} ms`);
      // How much the proxy adds is measured by `npm run bench -- proxy`, not judged here. What a faulty shadow
      // must never do is hold the client's response back: a stalled shadow ends at its own timeout, after
      // the client has its last byte (same monotonic clock: records are ns since run.json's mono_origin_ns).
      const records = await recordsOf(proxy);
      if (name === 'stall') {
        const origin = BigInt((JSON.parse(readFileSync(join(proxy.runDir, 'run.json'), 'utf8')) as RunManifest).mono_origin_ns!);
        for (const [i, end] of clientEnds.entries()) {
          const shadow = records.find((r) => r.arm === 'candidate' && r.index === i)!;
          t.true(end < origin + BigInt(shadow.end_ns!), `${name} ${i}: the client's response ended before the stalled shadow`);
        }
      }
      t.deepEqual(
        records.filter((r) => r.arm === 'baseline').map((r) => r.outcome.kind),
        Array(6).fill('ok'),
        name,
      );
      t.deepEqual(
        records.filter((r) => r.arm === 'candidate').map((r) => r.outcome.kind),
        Array(6).fill(expected),
        name,
      );
      if (name === 'stall') {
        const waited = records.filter((r) => r.arm === 'candidate').map((r) => ((r.end_ns ?? 0) - (r.sent_ns ?? 0)) / 1e6);
        t.true(
          waited.every((ms) => ms >= 495),
          `stalled shadows ended by their 500 ms timeout: ${waited.join(', ')}`,
        );
      }
    }
  } finally {
    await base.close();
  }
});

test.serial(
  'beyond --shadow-max-inflight, shadows are dropped and counted, never queued; shutdown cancels the stalled ones and flushes',
  async (t) => {
    const [base, cand] = await sims({ timeScale: 0 }, { faults: { stallRate: 1 } });
    const proxy = await startProxy(
      proxyOptions({ baselineUrl: base.url, candidateUrl: cand.url, shadowMaxInflight: 2, shadowTimeoutMs: 60_000, drainTimeoutMs: 200 }),
    );
    try {
      for (let i = 0; i < 6; i++) {
        const reply = await post(proxy.url, '/v1/chat/completions', chat(`q${i}`));
        t.is(reply.status, 200);
        t.true(reply.body.endsWith('data: [DONE]\n\n'));
      }
      const totals = proxy.state().totals;
      t.is(totals.shadow_inflight, 2);
      t.is(totals.shadow_dropped, 4);
      t.is(totals.baseline.ok, 6);
    } finally {
      // The stalled shadows (60 s timeout) end as cancelled at shutdown (below), not waited for.
      await proxy.close();
      await Promise.all([base.close(), cand.close()]);
    }
    t.deepEqual(
      jsonLines(join(proxy.runDir, 'routing.jsonl')).map((l) => l.shadow),
      ['sent', 'sent', 'dropped', 'dropped', 'dropped', 'dropped'],
    );
    const records = await recordsOf(proxy);
    t.is(records.filter((r) => r.arm === 'baseline').length, 6);
    t.deepEqual(
      records.filter((r) => r.arm === 'candidate').map((r) => [r.index, r.outcome.kind]),
      [
        [0, 'cancelled'],
        [1, 'cancelled'],
      ],
    );
    const manifest = JSON.parse(readFileSync(join(proxy.runDir, 'run.json'), 'utf8')) as RunManifest;
    t.regex(manifest.warnings.join('\n'), /4 shadow requests were dropped/);
  },
);

test.serial('a client that disconnects mid-stream cancels the primary request', async (t) => {
  const slow = { ...PROFILES['vllm-single-node'], interTokenMs: 40 };
  const [base, cand] = await sims({ profile: slow, timeScale: 1 }, { timeScale: 0 });
  const proxy = await startProxy(proxyOptions({ baselineUrl: base.url, candidateUrl: cand.url }));
  try {
    const controller = new AbortController();
    const res = await request(proxy.url + '/v1/chat/completions', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(chat('a long answer please', { max_tokens: 100 })), // ≈ 4 s at 40 ms per token
      signal: controller.signal,
    });
    let seen = '';
    try {
      for await (const chunk of res.body) {
        seen += String(chunk);
        if (seen.includes('"content":"') && (seen.match(/data:/g) ?? []).length >= 3) controller.abort();
      }
    } catch {
      // aborted by us
    }
    // Cancelled, not left to run to its end (that would be an ok record of 100 chunks).
    await until('the primary is recorded', () => proxy.state().totals.baseline.primary === 1);
    t.is(proxy.state().totals.baseline.cancelled, 1, 'the primary was cancelled');
  } finally {
    await proxy.close();
    await Promise.all([base.close(), cand.close()]);
  }
  const primary = (await recordsOf(proxy)).find((r) => r.arm === 'baseline') as RequestRecord;
  t.deepEqual(primary.outcome, { kind: 'cancelled', message: 'client disconnected' });
  t.true(primary.content_ns.length >= 2 && primary.content_ns.length < 100, `${primary.content_ns.length} chunks before the cancel`);
});

test.serial('graceful shutdown lets an in-flight request finish, refuses new connections, and completes run.json', async (t) => {
  const slow = { ...PROFILES['vllm-single-node'], interTokenMs: 20 };
  const [base, cand] = await sims({ profile: slow }, { profile: slow });
  const proxy = await startProxy(proxyOptions({ baselineUrl: base.url, candidateUrl: cand.url }));
  const res = await request(proxy.url + '/v1/chat/completions', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(chat('finish me', { max_tokens: 20 })),
  });
  const closed = proxy.close('SIGTERM');
  let body = '';
  for await (const chunk of res.body) body += String(chunk);
  await closed;
  t.true(body.endsWith('data: [DONE]\n\n'), 'the in-flight response completed');
  await t.throwsAsync(request(proxy.url + '/v1/models'), undefined, 'the listener is closed');
  await Promise.all([base.close(), cand.close()]);
  const records = await recordsOf(proxy);
  t.deepEqual(records.map((r) => [r.arm, r.outcome.kind]).sort(), [
    ['baseline', 'ok'],
    ['candidate', 'ok'],
  ]);
  const manifest = JSON.parse(readFileSync(join(proxy.runDir, 'run.json'), 'utf8')) as RunManifest;
  t.truthy(manifest.ended_at);
  t.is(manifest.interrupted, 'SIGTERM');
  t.deepEqual(
    jsonLines(join(proxy.runDir, 'events.jsonl')).map((e) => e.event),
    ['started', 'stopped'],
  );
});

test.serial("per-arm credentials replace the client's key; no key and no prompt reaches the run folder", async (t) => {
  // The sim does not expose the headers it received, so two minimal servers capture them here.
  const seen: Record<string, string | undefined> = {};
  const capture = (name: string) =>
    new Promise<{ url: string; close: () => void }>((resolve) => {
      const server = createServer((req, res) => {
        seen[name] = req.headers.authorization;
        req.resume();
        req.on('end', () => {
          res.writeHead(200, { 'content-type': 'text/event-stream' });
          res.end('data: {"choices":[{"index":0,"delta":{"content":"ok"},"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n');
        });
      });
      server.listen(0, '127.0.0.1', () =>
        resolve({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => server.close() }),
      );
    });
  const [a, b] = await Promise.all([capture('baseline'), capture('candidate')]);
  const proxy = await startProxy(
    proxyOptions({ baselineUrl: a.url, candidateUrl: b.url, apiKeys: { baseline: 'sk-baseline-key-123', candidate: null } }),
  );
  try {
    const reply = await post(proxy.url, '/v1/chat/completions', chat('my secret prompt'), { authorization: 'Bearer sk-client-key-456' });
    t.is(reply.status, 200);
    await until('shadow recorded', () => proxy.state().totals.candidate.shadow === 1);
  } finally {
    await proxy.close();
    a.close();
    b.close();
  }
  t.is(seen.baseline, 'Bearer sk-baseline-key-123');
  t.is(seen.candidate, 'Bearer sk-client-key-456', "without CANDIDATE_API_KEY the client's key is forwarded");
  const everything = readdirSync(proxy.runDir)
    .map((f) => readFileSync(join(proxy.runDir, f), 'utf8'))
    .join('\n');
  for (const secret of ['sk-baseline-key-123', 'sk-client-key-456', 'my secret prompt']) t.false(everything.includes(secret), secret);
  t.regex(everything, /"header_names": \[\s*"authorization"\s*\]/);
});

test('a proxy that cannot listen fails with the reason and leaves no run folder behind', async (t) => {
  const taken = createServer();
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
  t.teardown(() => taken.close());
  const port = (taken.address() as AddressInfo).port;
  const options = proxyOptions({
    baselineUrl: 'http://127.0.0.1:9',
    candidateUrl: 'http://127.0.0.1:9',
    port,
    runDir: join(tmpDir(), 'run'),
  });
  await t.throwsAsync(startProxy(options), { code: 'EADDRINUSE' });
  t.false(existsSync(options.runDir));
});
