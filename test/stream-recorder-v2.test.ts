// Record schema 2 from real wire shapes: tool calls (vLLM hermes parser, OpenAI parallel calls),
// reasoning (vLLM `reasoning`, the transition with both keys, Dynamo/DeepSeek `reasoning_content`),
// the returned model, n > 1 chunks of other choices, and the per-response text cap.
// Fixtures copied from /work/notes/issue13.md part A, which cites the sources:
//   vLLM: vllm-project/vllm vllm/entrypoints/openai/chat_completion/serving.py (chat_completion_stream_generator,
//         every chunk model_dump_json(exclude_unset=True)) and vllm/entrypoints/openai/tool_parsers/hermes_tool_parser.py
//         (first delta: id, type, index, name without arguments; then index + arguments; json.dumps spacing);
//         vllm/entrypoints/openai/engine/protocol.py (DeltaMessage with both reasoning and reasoning_content).
//   OpenAI: a gpt-4o capture in zanetworker/llama-stack tests/integration/responses/recordings/f2e35fd6….json
//         (two parallel get_weather calls, first delta with arguments "", finish in an empty-delta chunk).
//   Dynamo: ai-dynamo/dynamo lib/llm/src/protocols/openai/chat_completions/delta.rs (reasoning_content, usage on every chunk).
import test from 'ava';
import { emptyRecord, type RequestRecord } from '../core/record.ts';
import { canonicalJson } from '../core/canonical-json.ts';
import { recordWholeResponse, SseLineGuard, StreamRecorder, utf8Length, utf8Prefix } from '../core/stream-recorder.ts';
import { ResponseRecorder, TEXT_HASH_PREFIX } from '../proxy/response-recorder.ts';
import { SseRecorder } from '../k6/script/record-builder.ts';
import {
  VLLM_TOOL_STREAM,
  OPENAI_PARALLEL_STREAM,
  VLLM_REASONING_STREAM,
  VLLM_TRANSITION_STREAM,
  DYNAMO_REASONING_STREAM,
} from './support/wire-fixtures.ts';

const fresh = (streaming = true): RequestRecord =>
  emptyRecord({ run_id: 'r', arm: 'baseline', index: 0, item_id: 'i', warmup: false, source: 'fixture', streaming, scheduled_ns: 0 });

/** The data of each `data:` line of an SSE text, in order. */
const events = (sse: string): string[] =>
  sse
    .split('\n')
    .filter((l) => l.startsWith('data: '))
    .map((l) => l.slice('data: '.length));

function record(sse: string, maxOutputBytes?: number): RequestRecord {
  const rec = new StreamRecorder(fresh(), 'chat', { onBadEvent: 'stop', ...(maxOutputBytes !== undefined && { maxOutputBytes }) });
  events(sse).forEach((data, k) => rec.event(data, 10 * (k + 1)));
  rec.finish();
  const end = rec.settled();
  if (end) rec.record.outcome = end.outcome;
  return rec.record;
}

test('canonical JSON: key order and whitespace normalised, values as JSON.stringify writes them', (t) => {
  t.is(canonicalJson('{"city": "Paris", "units": "celsius"}'), '{"city":"Paris","units":"celsius"}');
  t.is(canonicalJson('{"units":"celsius","city":"Paris"}'), '{"city":"Paris","units":"celsius"}');
  t.is(canonicalJson('{"b": [3, {"z": 1.0, "a": "\\u00e9"}], "a": null}'), '{"a":null,"b":[3,{"a":"é","z":1}]}');
  t.is(canonicalJson('{"city": "Par'), null);
  t.is(canonicalJson(''), null);
});

test('vLLM tool-call stream: TTFT at the name chunk, no answer, canonical arguments, finish tool_calls, model', (t) => {
  const r = record(VLLM_TOOL_STREAM('Paris'));
  t.is(r.outcome.kind, 'ok');
  t.is(r.first_chunk_ns, 10, 'the role chunk');
  t.is(r.first_content_ns, 20, 'the first tool-call delta (the name) is the first token');
  t.deepEqual(r.content_ns, [20, 30, 40, 50], 'every tool-call delta carrying a name or arguments is a token chunk');
  t.is(r.first_answer_ns, null, 'no answer token');
  t.is(r.output_text, '');
  t.deepEqual(r.tool_calls, [{ name: 'get_weather', arguments: '{"city":"Paris"}', arguments_json: true }]);
  t.is(r.finish_reason, 'tool_calls');
  t.is(r.model, 'Qwen/Qwen3-8B');
  t.deepEqual(r.usage, { prompt_tokens: 312, completion_tokens: 26, cached_prompt_tokens: null });
  t.not(record(VLLM_TOOL_STREAM('London')).tool_calls[0]?.arguments, r.tool_calls[0]?.arguments);
});

test('OpenAI parallel tool calls: index order, compact arguments equal to spaced ones after canonicalisation', (t) => {
  const r = record(OPENAI_PARALLEL_STREAM);
  t.is(r.outcome.kind, 'ok');
  t.deepEqual(r.tool_calls, [
    { name: 'get_weather', arguments: '{"location":"San Francisco, USA"}', arguments_json: true },
    { name: 'get_weather', arguments: '{"location":"Los Angeles, USA"}', arguments_json: true },
  ]);
  t.is(r.first_content_ns, 20, 'the first delta (name, arguments "") is a token');
  t.is(r.finish_reason, 'tool_calls');
  t.is(r.model, 'gpt-4o-2024-08-06');
});

test('interleaved fragments, no index, ids on every delta, a call whose arguments are cut: all recorded per call', (t) => {
  const call = (d: Record<string, unknown>) => JSON.stringify({ choices: [{ index: 0, delta: { tool_calls: [d] }, finish_reason: null }] });
  const rec = new StreamRecorder(fresh(), 'chat', { onBadEvent: 'stop' });
  const feed = [
    call({ index: 1, id: 'b', type: 'function', function: { name: 'second', arguments: '' } }),
    call({ index: 0, id: 'a', type: 'function', function: { name: 'first' } }),
    call({ index: 1, id: 'b', function: { arguments: '{"y": ' } }),
    call({ index: 0, id: 'a', function: { arguments: '{"x": 1}' } }),
    call({ index: 1, function: { arguments: '2}' } }),
    call({ function: { name: 'third', arguments: null } }), // no index: a new call
    call({ function: { arguments: '{"cut": "tex' } }), // no index, no name: the last call
    JSON.stringify({ choices: [{ index: 0, delta: {}, finish_reason: 'length' }] }),
    '[DONE]',
  ];
  feed.forEach((d, k) => rec.event(d, k + 1));
  rec.finish();
  t.deepEqual(rec.record.tool_calls, [
    { name: 'first', arguments: '{"x":1}', arguments_json: true },
    { name: 'second', arguments: '{"y":2}', arguments_json: true },
    { name: 'third', arguments: '{"cut": "tex', arguments_json: false },
  ]);
  t.deepEqual(rec.record.content_ns, [1, 2, 3, 4, 5, 6, 7]);
});

test('reasoning then answer (vLLM `reasoning`): kept apart, TTFT at the first reasoning token, first_answer_ns at the answer', (t) => {
  const r = record(VLLM_REASONING_STREAM);
  t.is(r.reasoning_text, 'The user asks for the capital.');
  t.is(r.output_text, 'Paris.');
  t.is(r.first_content_ns, 20);
  t.is(r.first_answer_ns, 40);
  t.deepEqual(r.content_ns, [20, 30, 40, 50]);
});

test('both reasoning keys on one delta (vLLM transition) count the text once; Dynamo reasoning_content with usage on every chunk', (t) => {
  const both = record(VLLM_TRANSITION_STREAM);
  t.is(both.reasoning_text, 'The user asks');
  t.is(both.output_text, 'Paris');
  const dynamo = record(DYNAMO_REASONING_STREAM);
  t.is(dynamo.reasoning_text, 'Okay, so');
  t.is(dynamo.output_text, 'Paris');
  t.deepEqual(dynamo.content_tokens, [2, 7], 'per-chunk tokens from the running completion_tokens');
  t.is(dynamo.model, 'deepseek-ai/DeepSeek-R1-Distill-Llama-8B');
});

test('n > 1: chunks of other choices are not mixed into choice 0', (t) => {
  const choice = (index: number, content: string) =>
    JSON.stringify({ model: 'm', choices: [{ index, delta: { content }, finish_reason: null }] });
  const rec = new StreamRecorder(fresh(), 'chat', { onBadEvent: 'stop' });
  [choice(0, 'A'), choice(1, 'x'), choice(2, 'y'), choice(0, 'B'), choice(1, 'z'), '[DONE]'].forEach((d, k) => rec.event(d, k + 1));
  rec.finish();
  t.is(rec.record.output_text, 'AB');
  t.deepEqual(rec.record.content_ns, [1, 4]);
});

test('the byte cap cuts the texts (UTF-8, never inside a character) and flags truncated; timing runs on to [DONE]', (t) => {
  const chunk = (c: Record<string, unknown>) => JSON.stringify({ choices: [{ index: 0, delta: c, finish_reason: null }] });
  const rec = new StreamRecorder(fresh(), 'chat', { onBadEvent: 'stop', maxOutputBytes: 10 });
  [chunk({ reasoning: 'abcd' }), chunk({ content: 'éé' }), chunk({ content: 'xyz' }), chunk({ content: 'more' }), '[DONE]'].forEach(
    (d, k) => rec.event(d, k + 1),
  );
  rec.finish();
  const r = rec.record;
  t.is(r.reasoning_text, 'abcd');
  t.is(r.output_text, 'ééxy', 'reasoning 4 + é é 4 + xy 2 = 10 bytes');
  t.true(r.truncated);
  t.deepEqual(r.content_ns, [1, 2, 3, 4], 'chunks past the cap still timed');
  t.deepEqual(rec.settled(), { outcome: { kind: 'ok' }, endNs: 5 });
  t.false(record(VLLM_REASONING_STREAM).truncated);
  t.is(utf8Length('aé😀'), 1 + 2 + 4);
  t.is(utf8Prefix('a😀b', 4), 'a', 'a surrogate pair is never split');
});

test('an SSE line longer than the cap is refused without holding it; CR alone ends a line too', (t) => {
  const guard = new SseLineGuard(10); // limit 6 × 10 + 65536
  t.true(guard.feed('data: ' + 'x'.repeat(60_000)));
  t.true(guard.feed('x'.repeat(5000) + '\n'), 'the newline resets the count');
  t.true(guard.feed('y'.repeat(65_000) + '\r' + 'z'.repeat(100)));
  t.false(new SseLineGuard(10).feed('data: ' + 'x'.repeat(65_600)));
  const split = new SseLineGuard(10);
  t.true(split.feed('x'.repeat(40_000)));
  t.false(split.feed('x'.repeat(40_000)), 'a line counted across reads');
});

test('non-streamed answer: message.tool_calls, reasoning, model, cap', (t) => {
  // vLLM chat_completion_full_generator shape (notes A.1).
  const body = JSON.stringify({
    id: 'chatcmpl-4f1c2b7e9a',
    object: 'chat.completion',
    model: 'Qwen/Qwen3-8B',
    choices: [
      {
        index: 0,
        message: {
          role: 'assistant',
          content: null,
          reasoning: 'weather question',
          tool_calls: [
            { id: 'chatcmpl-tool-8d0e3c1a2b4f', type: 'function', function: { name: 'get_weather', arguments: '{"city": "Paris"}' } },
          ],
        },
        logprobs: null,
        finish_reason: 'tool_calls',
        stop_reason: null,
      },
    ],
    usage: { prompt_tokens: 312, total_tokens: 338, completion_tokens: 26, prompt_tokens_details: null },
  });
  const r = fresh(false);
  t.deepEqual(recordWholeResponse(r, 'chat', body, false), { kind: 'ok' });
  t.deepEqual(r.tool_calls, [{ name: 'get_weather', arguments: '{"city":"Paris"}', arguments_json: true }]);
  t.is(r.reasoning_text, 'weather question');
  t.is(r.output_text, '');
  t.is(r.model, 'Qwen/Qwen3-8B');
  t.is(r.finish_reason, 'tool_calls');
  t.false(r.truncated);
  const cut = fresh(false);
  recordWholeResponse(cut, 'chat', body, false, {}, undefined, { maxOutputBytes: 5 });
  t.true(cut.truncated);
  t.is(cut.reasoning_text, 'weath');
});

test('the proxy hashes reasoning and tool arguments in hash mode and keeps tool names; k6 records the same fields', (t) => {
  const proxied = (recordText: boolean, sse: string) => {
    const rr = new ResponseRecorder(fresh(), 'chat', recordText);
    rr.headers(200, 'text/event-stream', 1);
    rr.data(Buffer.from(sse), 2);
    return rr.end(3);
  };
  const hashed = proxied(false, VLLM_TOOL_STREAM('Paris'));
  t.is(hashed.tool_calls[0]?.name, 'get_weather');
  t.true(hashed.tool_calls[0]?.arguments.startsWith(TEXT_HASH_PREFIX));
  t.false(hashed.tool_calls[0]?.arguments_json);
  t.not(hashed.tool_calls[0]?.arguments, proxied(false, VLLM_TOOL_STREAM('London')).tool_calls[0]?.arguments);
  t.true(proxied(false, VLLM_REASONING_STREAM).reasoning_text.startsWith(TEXT_HASH_PREFIX));
  const plain = proxied(true, VLLM_REASONING_STREAM);
  t.is(plain.reasoning_text, 'The user asks for the capital.');
  t.is(plain.output_text, 'Paris.');
  t.is(plain.model, 'Qwen/Qwen3-8B');

  const k6 = new SseRecorder(fresh(), 'chat', 60e9);
  events(VLLM_TOOL_STREAM('London')).forEach((d, k) => k6.event(d, k + 1));
  const r = k6.finish(200, '', 99);
  t.deepEqual(r.tool_calls, [{ name: 'get_weather', arguments: '{"city":"London"}', arguments_json: true }]);
  t.is(r.first_content_ns, 2);
});

test('the proxy stops parsing at an over-long SSE line (protocol_error) and keeps the end time', (t) => {
  const rr = new ResponseRecorder(fresh(), 'chat', true, [], 10);
  rr.headers(200, 'text/event-stream', 1);
  rr.data(Buffer.from('data: {"choices":[{"index":0,"delta":{"content":"' + 'x'.repeat(70_000)), 2);
  rr.data(Buffer.from('x'.repeat(1000)), 3);
  const r = rr.end(4);
  t.is(r.outcome.kind, 'protocol_error');
  t.regex((r.outcome as { message: string }).message, /SSE line is longer than 65596 characters/);
  t.is(r.end_ns, 4);
});
