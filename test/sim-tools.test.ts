// The simulator's tool-calling and reasoning wire shapes, read raw (the recorder's view is in
// record-v2-e2e.test.ts). Shapes follow vLLM: vllm-project/vllm vllm/entrypoints/openai/chat_completion/serving.py
// (finish_reason "tool_calls" when tools were streamed and the engine said stop; stop_reason beside it)
// and tool_parsers/hermes_tool_parser.py (first delta: id, type, index, name; then index + arguments).
import test from 'ava';
import { startTestSim } from './support/load-helpers.ts';

const TOOLS = [
  { type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } },
  {
    type: 'function',
    function: { name: 'get_time', parameters: { type: 'object', properties: { location: { type: 'string' }, utc: { type: 'boolean' } } } },
  },
];

async function chat(sim: { url: string; model: string }, body: Record<string, unknown>): Promise<string> {
  const response = await fetch(`${sim.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: sim.model, messages: [{ role: 'user', content: 'hello there' }], ...body }),
  });
  return response.text();
}

const deltas = (sse: string) =>
  sse
    .split('\n\n')
    .filter((e) => e.startsWith('data: {'))
    .map((e) => JSON.parse(e.slice(6)) as { choices: Array<{ delta: Record<string, unknown>; finish_reason: string | null }> });

test('streamed tool calls: role, a name-only first delta, argument fragments, finish tool_calls; tool_choice none answers text', async (t) => {
  const sim = await startTestSim(t, { seed: 1 });
  const events = deltas(
    await chat(sim, { stream: true, tools: TOOLS, tool_choice: { type: 'function', function: { name: 'get_weather' } } }),
  );
  const choices = events.map((e) => e.choices[0]).filter((c) => c !== undefined);
  t.deepEqual(choices[0]?.delta, { role: 'assistant', content: '' });
  const first = (choices[1]?.delta.tool_calls as unknown[])[0] as Record<string, unknown>;
  t.deepEqual(Object.keys(first), ['id', 'type', 'index', 'function']);
  t.deepEqual(first.function, { name: 'get_weather' }, 'no arguments key on the first delta (hermes parser)');
  const args = choices
    .slice(2)
    .map(
      (c) =>
        ((c.delta.tool_calls as Array<{ function: { arguments: string } }>)[0] as { function: { arguments: string } }).function.arguments,
    )
    .join('');
  t.regex(args, /^\{"city": "[A-Za-z ]+"\}$/, 'json.dumps spacing');
  t.is(choices.at(-1)?.finish_reason, 'tool_calls');
  t.true(choices.slice(0, -1).every((c) => c.finish_reason === null));
  const none = deltas(await chat(sim, { stream: true, tools: TOOLS, tool_choice: 'none' }));
  t.false(JSON.stringify(none).includes('tool_calls'));
});

test('whole response with tool calls: content null, message.tool_calls, finish tool_calls; reasoning under the chosen key', async (t) => {
  const sim = await startTestSim(t, { seed: 1, reasoning: 'reasoning_content' });
  const body = JSON.parse(await chat(sim, { stream: false, tools: TOOLS })) as {
    choices: Array<{ message: Record<string, unknown>; finish_reason: string }>;
  };
  const message = body.choices[0]!.message;
  t.is(message.content, null);
  t.true(typeof message.reasoning_content === 'string' && message.reasoning_content.length > 0);
  const calls = message.tool_calls as Array<{ type: string; function: { name: string; arguments: string } }>;
  t.true(calls.length >= 1);
  t.is(calls[0]!.type, 'function');
  t.notThrows(() => JSON.parse(calls[0]!.function.arguments));
  t.is(body.choices[0]!.finish_reason, 'tool_calls');
  const streamed = deltas(await chat(sim, { stream: true })).map((e) => e.choices[0]?.delta ?? {});
  const firstAnswer = streamed.findIndex((d) => typeof d.content === 'string' && d.content !== '');
  const lastReasoning = streamed.findLastIndex((d) => typeof d.reasoning_content === 'string');
  t.true(lastReasoning > 0 && firstAnswer > lastReasoning, 'reasoning deltas come before the answer');
});
