// The per-event fast path (StreamRecorder.eventTemplated, used by the k6 script): a record built
// through it is identical to the full parse's (event()) for every stream shape, and on a vLLM-shaped
// stream it really skips JSON.parse for the plain content chunks.
import test from 'ava';
import { emptyRecord, type RequestRecord } from '../core/record.ts';
import { StreamRecorder } from '../core/stream-recorder.ts';
import type { Api } from '../core/openai.ts';

const head = { id: 'chatcmpl-1', object: 'chat.completion.chunk', created: 1700000000, model: 'm' };
const chat = (delta: Record<string, unknown>, extra: Record<string, unknown> = {}, finish: string | null = null) =>
  JSON.stringify({ ...head, choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }], ...extra });
const vllm = (texts: string[]) => [
  chat({ role: 'assistant', content: '' }),
  ...texts.map((content) => chat({ content })),
  chat({ content: '' }, {}, 'length'),
  JSON.stringify({ ...head, choices: [], usage: { prompt_tokens: 5, completion_tokens: texts.length, total_tokens: 5 + texts.length } }),
  '[DONE]',
];
const words = Array.from({ length: 128 }, (_, i) => ` word${i}`);

const STREAMS: Record<string, { api: Api; events: string[] }> = {
  'vLLM, 128 plain tokens': { api: 'chat', events: vllm(words) },
  'escapes, quotes, newlines, unicode, a slash': {
    api: 'chat',
    events: vllm(['Hi', ' "quoted"', '\n', ' back\\slash', ' é', ' ☃', ' tab\t', ' a/b', ' <x>', ' done']),
  },
  'a raw \\u escape on the wire': {
    api: 'chat',
    events: [
      chat({ content: 'a' }),
      chat({ content: 'b' }),
      chat({ content: 'b' }).replace('"b"', '"\\u0062"'),
      chat({ content: 'c' }),
      '[DONE]',
    ],
  },
  'empty content chunks in the middle, then content': { api: 'chat', events: vllm(['a', '', 'b', '', 'c', 'd']) },
  'reasoning then content': {
    api: 'chat',
    events: [
      chat({ role: 'assistant', content: '' }),
      ...['think', ' more', ' still'].map((r) => chat({ reasoning_content: r, content: null })),
      ...['An', 'swer', '!'].map((content) => chat({ content })),
      '[DONE]',
    ],
  },
  'continuous usage on every chunk': {
    api: 'chat',
    events: [
      ...['a', 'b', 'c', 'd'].map((content, k) =>
        chat({ content }, { usage: { prompt_tokens: 3, completion_tokens: k + 1, total_tokens: k + 4 } }),
      ),
      '[DONE]',
    ],
  },
  'text equal to another field': {
    api: 'chat',
    events: [chat({ content: 'm' }), chat({ content: 'm' }), chat({ content: 'x' }), '[DONE]'],
  },
  // The edges of the fast path's plain-ASCII class: space, '!', '#', '[', ']', '~' are in it; '"', '\\', DEL and controls are not.
  'printable ASCII edges, DEL and a control character': {
    api: 'chat',
    events: vllm(['Hi', ' !#', ' [a]', ' ~', ' \u007f', ' \u0001', ' x ', ' "', ' \\', ' end']),
  },
  'a finish_reason chunk with text': {
    api: 'chat',
    events: [chat({ content: 'a' }), chat({ content: 'b' }), chat({ content: 'c' }, {}, 'stop'), '[DONE]'],
  },
  'an error object mid-stream': {
    api: 'chat',
    events: [
      chat({ content: 'a' }),
      chat({ content: 'b' }),
      JSON.stringify({ error: { message: 'overloaded' } }),
      chat({ content: 'c' }),
      '[DONE]',
    ],
  },
  'a non-JSON event mid-stream': {
    api: 'chat',
    events: [chat({ content: 'a' }), chat({ content: 'b' }), '{"choices":[{"delta":{"content":"c"', chat({ content: 'd' }), '[DONE]'],
  },
  'a chunk with an extra field (not the template)': {
    api: 'chat',
    events: [
      chat({ content: 'a' }),
      chat({ content: 'b' }),
      chat({ content: 'c' }, { system_fingerprint: 'fp' }),
      chat({ content: 'd' }),
      '[DONE]',
    ],
  },
  'ends without [DONE]': { api: 'chat', events: vllm(['a', 'b', 'c']).slice(0, -1) },
  'events after [DONE]': { api: 'chat', events: [...vllm(['a', 'b']), chat({ content: 'late' })] },
  completions: {
    api: 'completions',
    events: [
      ...['a', 'b', ' c', '"d"'].map((text) =>
        JSON.stringify({ id: 'c1', object: 'text_completion', choices: [{ index: 0, text, finish_reason: null }] }),
      ),
      JSON.stringify({ id: 'c1', object: 'text_completion', choices: [{ index: 0, text: '', finish_reason: 'stop' }] }),
      '[DONE]',
    ],
  },
};

function record(): RequestRecord {
  return {
    ...emptyRecord({ run_id: 'r', arm: 'baseline', index: 0, item_id: 'i', warmup: false, source: 'k6', streaming: true, scheduled_ns: 0 }),
    sent_ns: 0,
  };
}

function run(
  api: Api,
  events: string[],
  mode: 'stop' | 'observe',
  fast: boolean,
  maxOutputBytes?: number,
): { record: RequestRecord; steps: string[] } {
  const r = record();
  const s = new StreamRecorder(r, api, { onBadEvent: mode, ...(maxOutputBytes !== undefined && { maxOutputBytes }) });
  const steps = events.map((data, k) => (fast ? s.eventTemplated(data, (k + 1) * 1000) : s.event(data, (k + 1) * 1000)));
  r.outcome = s.endOfStream(events.length * 1000 + 1).outcome;
  s.finish();
  return { record: r, steps };
}

for (const [name, { api, events }] of Object.entries(STREAMS)) {
  for (const mode of ['stop', 'observe'] as const) {
    test(`fast path = full parse: ${name} (${mode})`, (t) => {
      const full = run(api, events, mode, false);
      const fast = run(api, events, mode, true);
      t.deepEqual(fast.steps, full.steps);
      t.deepEqual(fast.record, full.record);
    });
  }
}

test('on a vLLM-shaped stream only the role, first content, finish and usage chunks are parsed', (t) => {
  const parse = JSON.parse;
  let calls = 0;
  JSON.parse = ((text: string, reviver?: Parameters<typeof JSON.parse>[1]) => {
    calls++;
    return parse(text, reviver);
  }) as typeof JSON.parse;
  let slow: number;
  let fast: number;
  try {
    run('chat', STREAMS['vLLM, 128 plain tokens']!.events, 'stop', false);
    slow = calls;
    calls = 0;
    const { record: r } = run('chat', STREAMS['vLLM, 128 plain tokens']!.events, 'stop', true);
    fast = calls;
    t.is(r.content_ns.length, 128);
  } finally {
    JSON.parse = parse;
  }
  t.is(slow, 131); // every event but [DONE]
  // role chunk, first content (+ its re-parse and two probes to learn the template), finish, usage
  t.is(fast, 7);
});

// The fast path counts plain ASCII text by its length (PLAIN_ASCII) and anything else byte by byte:
// a text cap reached on either kind of chunk cuts and flags the record as the full parse does.
for (const [name, texts] of Object.entries({
  'plain ASCII': words,
  'ASCII, then two-byte and four-byte characters': [...words.slice(0, 20), ' é', ' 😀', ' ü', ...words.slice(20, 40)],
})) {
  for (const cap of [0, 7, 50, 121, 1 << 20]) {
    test(`fast path = full parse under a ${cap}-byte text cap: ${name}`, (t) => {
      const full = run('chat', vllm(texts), 'stop', false, cap);
      const fast = run('chat', vllm(texts), 'stop', true, cap);
      t.deepEqual(fast.record, full.record);
      t.is(fast.record.truncated, Buffer.byteLength(texts.join('')) > cap);
    });
  }
}
