// Record schema 2 end to end: the Node engine's `load` against a server replaying real tool-call and
// reasoning streams (test/support/wire-fixtures.ts, sources there and in stream-recorder-v2.test.ts),
// and against the simulator's tool-calling and reasoning modes.
import test from 'ava';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RequestRecord } from '../core/record.ts';
import { e2eMs, ttftMs } from '../core/metrics.ts';
import { startReplayServer } from './support/replay-server.ts';
import { OPENAI_PARALLEL_STREAM, VLLM_REASONING_STREAM, VLLM_TOOL_STREAM } from './support/wire-fixtures.ts';
import { byArm, load } from './support/engine-run.ts';
import { startTestSim, tempDir } from './support/load-helpers.ts';

const WEATHER_TOOL = {
  type: 'function',
  function: {
    name: 'get_weather',
    parameters: { type: 'object', properties: { city: { type: 'string' }, units: { type: 'string', enum: ['celsius', 'fahrenheit'] } } },
  },
};

function workload(lines: Array<Record<string, unknown>>): string {
  const file = join(tempDir('sb-v2-'), 'workload.jsonl');
  writeFileSync(file, lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
  return file;
}

const lastUser = (body: Record<string, unknown>) => JSON.stringify(body.messages ?? '');

test('load against replayed vLLM streams: Paris vs London tool calls canonical, tool-call-only responses timed, reasoning apart', async (t) => {
  // Baseline and candidate answer the same prompts; they differ only in the tool call's city.
  const answer = (city: string) => (body: Record<string, unknown>) => {
    const prompt = lastUser(body);
    if (prompt.includes('parallel')) return OPENAI_PARALLEL_STREAM;
    if (prompt.includes('weather')) return VLLM_TOOL_STREAM(city);
    return VLLM_REASONING_STREAM;
  };
  const baseline = await startReplayServer(answer('Paris'));
  const candidate = await startReplayServer(answer('London'));
  t.teardown(() => Promise.all([baseline.close(), candidate.close()]));
  const file = workload([
    { id: 'w', messages: [{ role: 'user', content: 'weather in the capital?' }], tools: [WEATHER_TOOL] },
    { id: 'p', messages: [{ role: 'user', content: 'parallel weather please' }], tools: [WEATHER_TOOL] },
    { id: 'r', messages: [{ role: 'user', content: 'capital of France?' }] },
  ]);
  const { code, records } = await load([
    '--baseline',
    baseline.url,
    '--candidate',
    candidate.url,
    '--workload',
    file,
    '--requests',
    '3',
    '--qps',
    '50',
    '--workers',
    '0',
    '--no-preflight',
  ]);
  t.is(code, 0);
  t.is(records.length, 6);
  for (const r of records) t.is(r.outcome.kind, 'ok', JSON.stringify(r.outcome));
  const of = (arm: string, item: string) => byArm(records, arm).find((r) => r.item_id === item) as RequestRecord;
  t.deepEqual(of('baseline', 'w').tool_calls, [{ name: 'get_weather', arguments: '{"city":"Paris"}', arguments_json: true }]);
  t.deepEqual(of('candidate', 'w').tool_calls, [{ name: 'get_weather', arguments: '{"city":"London"}', arguments_json: true }]);
  for (const arm of ['baseline', 'candidate']) {
    const tool = of(arm, 'w');
    t.is(tool.output_text, '');
    t.is(tool.finish_reason, 'tool_calls');
    t.is(tool.model, 'Qwen/Qwen3-8B');
    t.is(tool.first_answer_ns, null);
    t.not(ttftMs(tool), null, 'a tool-call-only response has a TTFT');
    t.not(e2eMs(tool), null, 'and an end-to-end latency');
    t.is(tool.content_ns.length, 4, 'name + three argument fragments');
    t.deepEqual(
      of(arm, 'p').tool_calls.map((c) => c.arguments),
      ['{"location":"San Francisco, USA"}', '{"location":"Los Angeles, USA"}'],
    );
    const reasoning = of(arm, 'r');
    t.is(reasoning.reasoning_text, 'The user asks for the capital.');
    t.is(reasoning.output_text, 'Paris.');
    t.true((reasoning.first_answer_ns as number) > (reasoning.first_content_ns as number), 'the answer starts after the reasoning');
  }
  // The workload's tools were sent verbatim.
  t.deepEqual((baseline.bodies[0] as { tools?: unknown }).tools, [WEATHER_TOOL]);
});

test('simulator tool calling: vLLM-shaped streamed calls recorded canonical; --divergence-rate changes the arguments (Paris → another city)', async (t) => {
  const baseline = await startTestSim(t, { seed: 1 });
  const candidate = await startTestSim(t, { seed: 1, divergenceRate: 1 });
  const lines = Array.from({ length: 6 }, (_, i) => ({
    id: `q${i}`,
    messages: [{ role: 'user', content: `weather question number ${i}` }],
    tools: [WEATHER_TOOL],
  }));
  const { code, records } = await load([
    ...['--baseline', baseline.url, '--candidate', candidate.url],
    ...['--workload', workload(lines), '--requests', '6', '--qps', '100', '--workers', '0', '--no-preflight'],
  ]);
  t.is(code, 0);
  const base = byArm(records, 'baseline');
  const cand = byArm(records, 'candidate');
  t.is(base.length, 6);
  for (const [k, b] of base.entries()) {
    const c = cand[k] as RequestRecord;
    t.is(b.outcome.kind, 'ok');
    t.is(b.finish_reason, 'tool_calls');
    t.is(b.output_text, '');
    t.true(b.tool_calls.length >= 1);
    const call = b.tool_calls[0]!;
    t.is(call.name, 'get_weather');
    t.true(call.arguments_json, call.arguments);
    t.regex(call.arguments, /^\{"city":"[A-Za-z ]+","units":"(celsius|fahrenheit)"\}$/, 'canonical: sorted keys, no spaces');
    t.not(ttftMs(b), null);
    t.not(e2eMs(b), null);
    const city = (r: RequestRecord) => (JSON.parse(r.tool_calls[0]!.arguments) as { city: string }).city;
    t.not(city(c), city(b), 'a diverging prompt names another city');
  }
});

test('simulator reasoning mode: reasoning deltas first under the chosen key, recorded apart; both keys counted once', async (t) => {
  for (const field of ['reasoning', 'reasoning_content', 'both'] as const) {
    const baseline = await startTestSim(t, { seed: 1, reasoning: field });
    const candidate = await startTestSim(t, { seed: 1, reasoning: field });
    const lines = [{ id: 'x', messages: [{ role: 'user', content: 'think about it' }] }];
    const { code, records } = await load([
      ...['--baseline', baseline.url, '--candidate', candidate.url],
      ...['--workload', workload(lines), '--requests', '2', '--qps', '100', '--workers', '0', '--no-preflight'],
    ]);
    t.is(code, 0);
    for (const r of records) {
      t.is(r.outcome.kind, 'ok');
      t.true(r.reasoning_text.length > 0, field);
      t.true(r.output_text.length > 0);
      t.false(r.output_text.includes(r.reasoning_text), 'the answer does not carry the reasoning');
      t.true((r.first_answer_ns as number) > (r.first_content_ns as number));
      t.is(r.usage?.completion_tokens, r.content_ns.length, 'one token per chunk: reasoning + answer tokens');
    }
    t.is(records[0]!.reasoning_text, records[1]!.reasoning_text);
  }
});
