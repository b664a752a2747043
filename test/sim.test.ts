import test from 'ava';
import { createParser } from 'eventsource-parser';
import { request } from 'undici';
import { startSim, type SimOptions, type SimServer } from '../sim/server.ts';
import { PROFILES, loadFactor, ttftMs } from '../sim/profiles.ts';
import { PrefixCache } from '../sim/prefix-cache.ts';
import { similarityRatio as ratio } from '../analysis/stats/similarity.ts';

const MODEL = 'meta-llama/Llama-3.1-8B-Instruct';

async function withSim(options: Partial<SimOptions>, body: (sim: SimServer) => Promise<void>): Promise<void> {
  const sim = await startSim({ profile: 'vllm-single-node', timeScale: 0, seed: 3, ...options });
  try {
    await body(sim);
  } finally {
    await sim.close();
  }
}

const chat = (content: string, extra: Record<string, unknown> = {}) => ({
  model: MODEL,
  messages: [{ role: 'user', content }],
  max_tokens: 40,
  ...extra,
});

async function post(sim: SimServer, path: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await request(sim.url + path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: res.statusCode, headers: res.headers, text: await res.body.text() };
}

/** SSE `data:` payloads of a response, parsed with eventsource-parser. */
function sseData(text: string): string[] {
  const out: string[] = [];
  const parser = createParser({ onEvent: (e) => out.push(e.data) });
  parser.feed(text);
  return out;
}

type Chunk = {
  id: string;
  object: string;
  model: string;
  choices: Array<{ index: number; delta?: { role?: string; content?: string }; text?: string; finish_reason: string | null }>;
  usage?: Record<string, unknown>;
};

async function metricsOf(sim: SimServer): Promise<Map<string, number>> {
  const res = await request(`${sim.url}/metrics`);
  const text = await res.body.text();
  const values = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$/.exec(line);
    if (m) values.set(m[1] + (m[2] ?? ''), Number(m[3]));
  }
  return values;
}
const label = `{model_name="${MODEL}"}`;

test('chat stream: role chunk first, one token per content chunk, finish reason on the last, usage only when asked, [DONE] last', async (t) => {
  await withSim({}, async (sim) => {
    const withUsage = await post(
      sim,
      '/v1/chat/completions',
      chat('hello there', { stream: true, stream_options: { include_usage: true } }),
    );
    t.is(withUsage.status, 200);
    t.regex(String(withUsage.headers['content-type']), /^text\/event-stream/);
    const data = sseData(withUsage.text);
    t.is(data.at(-1), '[DONE]');
    const chunks = data.slice(0, -1).map((d) => JSON.parse(d) as Chunk);
    const role = chunks[0]!;
    t.is(role.object, 'chat.completion.chunk');
    t.is(role.model, MODEL);
    t.deepEqual(role.choices[0]!.delta, { role: 'assistant', content: '' });
    const usage = chunks.at(-1)!;
    t.deepEqual(usage.choices, []);
    const content = chunks.slice(1, -1);
    t.true(content.length >= 1 && content.length <= 40);
    t.true(content.every((c) => c.choices[0]!.delta!.content!.trim().split(/\s+/).length === 1));
    t.true(content.slice(0, -1).every((c) => c.choices[0]!.finish_reason === null));
    t.regex(String(content.at(-1)!.choices[0]!.finish_reason), /^(stop|length)$/);
    t.true(new Set(chunks.map((c) => c.id)).size === 1 && chunks[0]!.id.startsWith('chatcmpl-'));
    const u = usage.usage as {
      prompt_tokens: number;
      completion_tokens: number;
      total_tokens: number;
      prompt_tokens_details: { cached_tokens: number };
    };
    t.is(u.completion_tokens, content.length);
    t.is(u.prompt_tokens, 4); // <|user|> hello there <|assistant|>
    t.is(u.total_tokens, u.prompt_tokens + u.completion_tokens);
    t.is(typeof u.prompt_tokens_details.cached_tokens, 'number');

    const without = sseData((await post(sim, '/v1/chat/completions', chat('hello there', { stream: true }))).text);
    t.is(without.at(-1), '[DONE]');
    t.false(without.slice(0, -1).some((d) => 'usage' in (JSON.parse(d) as object)));
    t.is(without.length, data.length - 1);

    const whole = await post(sim, '/v1/chat/completions', chat('hello there'));
    const body = JSON.parse(whole.text) as {
      object: string;
      choices: Array<{ message: { role: string; content: string }; finish_reason: string }>;
      usage: { completion_tokens: number };
    };
    t.is(body.object, 'chat.completion');
    t.is(body.choices[0]!.message.role, 'assistant');
    t.is(body.choices[0]!.message.content, content.map((c) => c.choices[0]!.delta!.content).join(''));
    t.is(body.usage.completion_tokens, content.length);
  });
});

test('completions endpoint: text chunks, no role chunk, and a whole response', async (t) => {
  await withSim({}, async (sim) => {
    const streamed = sseData(
      (await post(sim, '/v1/completions', { model: MODEL, prompt: 'Once upon a time', max_tokens: 12, ignore_eos: true, stream: true }))
        .text,
    );
    t.is(streamed.at(-1), '[DONE]');
    const chunks = streamed.slice(0, -1).map((d) => JSON.parse(d) as Chunk);
    t.is(chunks.length, 12); // ignore_eos: exactly max_tokens
    t.true(chunks.every((c) => c.object === 'text_completion' && typeof c.choices[0]!.text === 'string' && c.choices[0]!.text !== ''));
    t.is(chunks.at(-1)!.choices[0]!.finish_reason, 'length');
    const whole = JSON.parse(
      (await post(sim, '/v1/completions', { model: MODEL, prompt: 'Once upon a time', max_tokens: 12, min_tokens: 12 })).text,
    ) as { object: string; choices: Array<{ text: string }> };
    t.is(whole.object, 'text_completion');
    t.is(whole.choices[0]!.text, chunks.map((c) => c.choices[0]!.text).join(''));
  });
});

test('models and health', async (t) => {
  await withSim({ model: 'my-model' }, async (sim) => {
    const models = JSON.parse(await (await request(`${sim.url}/v1/models`)).body.text()) as {
      object: string;
      data: Array<{ id: string; object: string }>;
    };
    t.is(models.object, 'list');
    t.deepEqual(
      models.data.map((m) => [m.id, m.object]),
      [['my-model', 'model']],
    );
    const health = await request(`${sim.url}/health`);
    t.is(health.statusCode, 200);
    await health.body.dump();
    const missing = await request(`${sim.url}/nope`);
    t.is(missing.statusCode, 404);
    await missing.body.dump();
  });
});

test('bad requests: unknown model 404, bad JSON 400, missing messages 400, n > 1 400', async (t) => {
  await withSim({}, async (sim) => {
    const unknown = await post(sim, '/v1/chat/completions', { ...chat('hi'), model: 'gpt-x' });
    t.is(unknown.status, 404);
    t.deepEqual(JSON.parse(unknown.text), {
      error: { message: 'The model `gpt-x` does not exist.', type: 'NotFoundError', param: null, code: 404 },
    });
    const badJson = await post(sim, '/v1/chat/completions', '{"model": ');
    t.is(badJson.status, 400);
    t.regex((JSON.parse(badJson.text) as { error: { message: string } }).error.message, /JSON/);
    t.is((await post(sim, '/v1/chat/completions', { model: MODEL })).status, 400);
    t.is((await post(sim, '/v1/chat/completions', chat('hi', { n: 2 }))).status, 400);
    t.is((await post(sim, '/v1/chat/completions', chat('hi', { max_tokens: 0 }))).status, 400);
    t.is((await post(sim, '/v1/chat/completions', chat('hi'), { 'x-sim-fault': 'explode' })).status, 400);
  });
});

test('/metrics: Prometheus text with HELP/TYPE, vLLM names, counters that move, prefix hits from a shared system prompt', async (t) => {
  await withSim({}, async (sim) => {
    const res = await request(`${sim.url}/metrics`);
    t.regex(String(res.headers['content-type']), /^text\/plain; version=0\.0\.4/);
    const text = await res.body.text();
    const typed = new Map<string, string>();
    for (const line of text.trimEnd().split('\n')) {
      const meta = /^# (HELP|TYPE) (\S+) (.+)$/.exec(line);
      if (meta) {
        if (meta[1] === 'TYPE') typed.set(meta[2]!, meta[3]!);
        continue;
      }
      const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)\{([a-z_]+="[^"]*"(,[a-z_]+="[^"]*")*)\} (-?[0-9.e+]+)$/.exec(line);
      t.truthy(m, `not a sample line: ${line}`);
      const family = m![1]!.replace(/_(bucket|sum|count)$/, '');
      t.true(typed.has(m![1]!) || typed.get(family) === 'histogram', `sample before its TYPE: ${line}`);
    }
    for (const name of ['vllm:num_requests_running', 'vllm:num_requests_waiting', 'vllm:kv_cache_usage_perc', 'DCGM_FI_DEV_GPU_UTIL'])
      t.is(typed.get(name), 'gauge');
    for (const name of [
      'vllm:prefix_cache_queries_total',
      'vllm:prefix_cache_hits_total',
      'vllm:request_success_total',
      'vllm:prompt_tokens_total',
      'vllm:generation_tokens_total',
    ])
      t.is(typed.get(name), 'counter');
    for (const name of ['vllm:time_to_first_token_seconds', 'vllm:inter_token_latency_seconds', 'vllm:e2e_request_latency_seconds'])
      t.is(typed.get(name), 'histogram');

    const system = { role: 'system', content: Array.from({ length: 100 }, (_, i) => `rule${i}`).join(' ') };
    const ask = (q: string) =>
      post(sim, '/v1/chat/completions', {
        model: MODEL,
        messages: [system, { role: 'user', content: q }],
        max_tokens: 20,
        stream: true,
        stream_options: { include_usage: true },
      });
    const cachedOf = (text: string) =>
      (JSON.parse(sseData(text).at(-2)!) as { usage: { prompt_tokens_details: { cached_tokens: number } } }).usage.prompt_tokens_details
        .cached_tokens;
    t.is(cachedOf((await ask('first question')).text), 0);
    const before = await metricsOf(sim);
    const second = await ask('another question entirely');
    t.is(cachedOf(second.text), 96); // 6 full blocks of 16 of the shared 102-token prefix
    const after = await metricsOf(sim);
    t.is(after.get(`vllm:prefix_cache_hits_total${label}`)! - before.get(`vllm:prefix_cache_hits_total${label}`)!, 96);
    t.is(after.get(`vllm:prefix_cache_queries_total${label}`)! - before.get(`vllm:prefix_cache_queries_total${label}`)!, 106);
    t.is(after.get(`vllm:prompt_tokens_total${label}`)! - before.get(`vllm:prompt_tokens_total${label}`)!, 106);
    const generated = sseData(second.text).length - 3; // all but the role, usage and [DONE] events
    t.is(after.get(`vllm:generation_tokens_total${label}`)! - before.get(`vllm:generation_tokens_total${label}`)!, generated);
    const successes = (m: Map<string, number>) =>
      [...m].filter(([k]) => k.startsWith('vllm:request_success_total')).reduce((s, [, v]) => s + v, 0);
    t.is(successes(after) - successes(before), 1);
    t.is(after.get(`vllm:time_to_first_token_seconds_count${label}`), 2);
    t.is(after.get(`vllm:e2e_request_latency_seconds_count${label}`), 2);
    t.is(after.get(`vllm:time_to_first_token_seconds_bucket{model_name="${MODEL}",le="+Inf"}`), 2);
    t.is(after.get(`vllm:num_requests_running${label}`), 0);
  });
});

test('text is a deterministic function of the prompt, identical across profiles and seeds', async (t) => {
  const texts = async (options: Partial<SimOptions>) => {
    const out: string[] = [];
    await withSim(options, async (sim) => {
      for (let i = 0; i < 20; i++)
        out.push(
          (
            JSON.parse((await post(sim, '/v1/chat/completions', chat(`question ${i}`, { max_tokens: 64 }))).text) as {
              choices: Array<{ message: { content: string } }>;
            }
          ).choices[0]!.message.content,
        );
    });
    return out;
  };
  const a = await texts({ profile: 'vllm-single-node', seed: 1 });
  const b = await texts({ profile: 'dynamo-disaggregated', seed: 99 });
  t.deepEqual(a, b);
  t.is(new Set(a).size, 20);
});

test('divergence rate: that share of prompts answers a perturbed text, chosen by the seed', async (t) => {
  const texts = async (options: Partial<SimOptions>) => {
    const out: string[] = [];
    await withSim(options, async (sim) => {
      for (let i = 0; i < 100; i++)
        out.push(
          (
            JSON.parse(
              (await post(sim, '/v1/chat/completions', chat(`prompt number ${i}`, { max_tokens: 80, ignore_eos: true }))).text,
            ) as { choices: Array<{ message: { content: string } }> }
          ).choices[0]!.message.content,
        );
    });
    return out;
  };
  const plain = await texts({});
  const diverged = await texts({ divergenceRate: 0.3, seed: 5 });
  const again = await texts({ divergenceRate: 0.3, seed: 5, profile: 'dynamo-disaggregated' });
  t.deepEqual(diverged, again);
  const ratios = plain.map((p, i) => ratio(p, diverged[i]!));
  const differing = ratios.filter((r) => r < 1);
  t.true(differing.length >= 18 && differing.length <= 42, `${differing.length} of 100 diverged`);
  t.true(
    differing.every((r) => r < 0.9),
    'a diverged answer is not similar enough to pass as consistent',
  );
});

test('ground truth: received < first content < last content, also over HTTP with bigints as strings', async (t) => {
  await withSim({ timeScale: 0.05 }, async (sim) => {
    const before = process.hrtime.bigint();
    const res = await post(sim, '/v1/chat/completions', chat('timing please', { stream: true, max_tokens: 8, ignore_eos: true }), {
      'x-request-id': 'run1:baseline:7',
    });
    const after = process.hrtime.bigint();
    t.is(res.status, 200);
    const truth = sim.groundTruth('run1:baseline:7');
    t.truthy(truth);
    t.true(before < truth!.received_mono_ns);
    t.true(truth!.received_mono_ns < truth!.first_content_mono_ns!);
    t.true(truth!.first_content_mono_ns! < truth!.last_content_mono_ns!);
    t.true(truth!.last_content_mono_ns! < after);
    const http = await request(`${sim.url}/sim/ground-truth?id=${encodeURIComponent('run1:baseline:7')}`);
    t.deepEqual(await http.body.json(), {
      id: 'run1:baseline:7',
      received_mono_ns: truth!.received_mono_ns.toString(),
      first_content_mono_ns: truth!.first_content_mono_ns!.toString(),
      last_content_mono_ns: truth!.last_content_mono_ns!.toString(),
    });
    t.is(sim.groundTruth('nope'), undefined);
    const missing = await request(`${sim.url}/sim/ground-truth?id=nope`);
    t.is(missing.statusCode, 404);
    await missing.body.dump();
  });
});

test('faults by header: 503, 500, 429 with retry-after', async (t) => {
  await withSim({}, async (sim) => {
    for (const status of [503, 500, 429]) {
      const res = await post(sim, '/v1/chat/completions', chat('hi', { stream: true }), { 'x-sim-fault': `error-${status}` });
      t.is(res.status, status);
      t.is((JSON.parse(res.text) as { error: { code: number } }).error.code, status);
      t.is(res.headers['retry-after'], status === 429 ? '1' : undefined);
    }
    t.is((await post(sim, '/v1/chat/completions', chat('hi'), { 'x-sim-fault': 'none' })).status, 200);
    const m = await metricsOf(sim);
    t.is(m.get(`sim_faults_injected_total{model_name="${MODEL}",kind="error-429"}`), 1);
  });
});

test('fault: malformed chunk is not JSON, the rest of the stream is intact', async (t) => {
  await withSim({}, async (sim) => {
    const res = await post(sim, '/v1/chat/completions', chat('hi', { stream: true, max_tokens: 30, ignore_eos: true }), {
      'x-sim-fault': 'malformed',
    });
    const data = sseData(res.text);
    t.is(data.at(-1), '[DONE]');
    const bad = data.slice(0, -1).filter((d) => {
      try {
        JSON.parse(d);
        return false;
      } catch {
        return true;
      }
    });
    t.is(bad.length, 1);
    t.is(data.length, 1 + 30 + 1 + 1); // role + content + malformed + [DONE]
  });
});

test('fault: disconnect drops the connection mid-stream after some content', async (t) => {
  await withSim({}, async (sim) => {
    const res = await request(`${sim.url}/v1/chat/completions`, {
      method: 'POST',
      body: JSON.stringify(chat('hi', { stream: true, max_tokens: 30, ignore_eos: true })),
      headers: { 'x-sim-fault': 'disconnect' },
    });
    t.is(res.statusCode, 200);
    let received = '';
    const error = await t.throwsAsync(async () => {
      for await (const chunk of res.body) received += String(chunk);
    });
    t.regex(String(error?.message), /terminated|other side closed|socket/i);
    const data = sseData(received);
    t.true(data.length >= 2, 'role and at least one content chunk');
    t.false(data.includes('[DONE]'));
    t.is((await metricsOf(sim)).get(`vllm:num_requests_running${label}`), 0);
  });
});

test('fault: stall sends headers then never finishes, holds its slot until the client leaves; close() ends it', async (t) => {
  const sim = await startSim({ profile: 'vllm-single-node', timeScale: 0, seed: 3 });
  const controller = new AbortController();
  const res = await request(`${sim.url}/v1/chat/completions`, {
    method: 'POST',
    body: JSON.stringify(chat('hi', { stream: true })),
    headers: { 'x-sim-fault': 'stall' },
    signal: controller.signal,
  });
  t.is(res.statusCode, 200);
  const first = await new Promise<string>((resolve) => res.body.once('data', (c: Buffer) => resolve(c.toString())));
  t.is((JSON.parse(sseData(first)[0]!) as Chunk).choices[0]!.delta!.role, 'assistant');
  const ended = new Promise((resolve, reject) => {
    res.body.once('end', () => resolve('ended'));
    res.body.once('error', reject);
  });
  t.is(await Promise.race([ended, new Promise((resolve) => setTimeout(resolve, 300, 'still open'))]), 'still open');
  t.is((await metricsOf(sim)).get(`vllm:num_requests_running${label}`), 1);
  controller.abort();
  await t.throwsAsync(ended);
  // The server notices the client left and frees the slot.
  for (let i = 0; i < 100 && (await metricsOf(sim)).get(`vllm:num_requests_running${label}`) !== 0; i++)
    await new Promise((r) => setImmediate(r));
  t.is((await metricsOf(sim)).get(`vllm:num_requests_running${label}`), 0);
  // A stalled stream still open when the server closes does not keep it (or the test) alive.
  const stuck = await request(`${sim.url}/v1/chat/completions`, {
    method: 'POST',
    body: JSON.stringify(chat('hi', { stream: true })),
    headers: { 'x-sim-fault': 'stall' },
  });
  const stuckDone = stuck.body.text().then(
    () => 'ended',
    () => 'errored',
  );
  await sim.close();
  t.regex(await stuckDone, /ended|errored/);
});

test('fault rates are seeded per request: same seed, same faulty requests', async (t) => {
  const statuses = async () => {
    const out: number[] = [];
    await withSim({ faults: { errorRate: 0.3, errorStatus: 500 }, seed: 11 }, async (sim) => {
      for (let i = 0; i < 100; i++) out.push((await post(sim, '/v1/chat/completions', chat(`q${i}`, { max_tokens: 4 }))).status);
    });
    return out;
  };
  const a = await statuses();
  t.deepEqual(a, await statuses());
  const errors = a.filter((s) => s === 500).length;
  t.true(errors >= 18 && errors <= 42, `${errors} errors of 100`);
  t.true(a.every((s) => s === 200 || s === 500));
});

test('queueing: beyond maxRunning requests wait, and the wait shows in TTFT and /metrics', async (t) => {
  const profile = { ...PROFILES['vllm-single-node'], name: 'one-slot', maxRunning: 1, interTokenMs: 5 };
  await withSim({ profile, timeScale: 1 }, async (sim) => {
    const first = request(`${sim.url}/v1/chat/completions`, {
      method: 'POST',
      body: JSON.stringify(chat('slow one', { stream: true, max_tokens: 40, ignore_eos: true })),
    });
    const started = performance.now();
    const second = post(sim, '/v1/chat/completions', chat('queued one', { max_tokens: 1 }));
    let waiting = 0;
    for (let i = 0; i < 50 && waiting === 0; i++) waiting = (await metricsOf(sim)).get(`vllm:num_requests_waiting${label}`) ?? 0;
    t.is(waiting, 1);
    t.is((await second).status, 200);
    t.true(performance.now() - started >= 40 * 5 * 0.8, 'the queued request waited for the first to finish');
    await (await first).body.dump();
    t.is((await metricsOf(sim)).get(`vllm:num_requests_waiting${label}`), 0);
  });
});

test('latency model: grows with load, shrinks with cached prompt tokens', (t) => {
  const p = PROFILES['vllm-single-node'];
  t.is(loadFactor(p.referenceRunning, p.referenceRunning, p.ttftLoadSlope), 1);
  t.true(ttftMs(p, 300, 100, 0) > ttftMs(p, 150, 100, 0));
  t.true(ttftMs(p, 150, 100, 0) > ttftMs(p, 0, 100, 0));
  t.true(ttftMs(p, 150, 20, 0) < ttftMs(p, 150, 500, 0));
});

test('prefix cache: leading blocks only, last token never cached, LRU eviction', (t) => {
  const cache = new PrefixCache(4, 3);
  const words = (n: number, tag = 'w') => Array.from({ length: n }, (_, i) => `${tag}${i}`);
  t.is(cache.lookupAndInsert(words(10)), 0);
  t.is(cache.lookupAndInsert(words(10)), 8);
  t.is(cache.lookupAndInsert(words(8)), 4); // the whole prompt would be cached: the last block is recomputed
  t.is(cache.lookupAndInsert(['x', ...words(9)]), 0); // same words, different prefix
  t.is(cache.size, 3);
  t.is(cache.lookupAndInsert(words(10)), 0); // evicted by the previous prompt's blocks
});
