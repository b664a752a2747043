import test from 'ava';
import { parseWorkload, WorkloadError } from '../core/workload/workload.ts';

const FILE = 'req.jsonl';
const lines = (...values: unknown[]) => values.map((v) => (typeof v === 'string' ? v : JSON.stringify(v))).join('\n') + '\n';
const parse = (text: string, model?: string) =>
  parseWorkload(text, { file: FILE, format: 'openai', seed: 1, ...(model !== undefined && { model }) });
const chat = (i: number) => ({ model: 'm', messages: [{ role: 'user', content: `question ${i}` }], max_tokens: 16 + i });

test('bare chat and completions bodies are replayed verbatim, with id and timestamp_ms taken out as metadata', (t) => {
  const w = parse(
    lines({ id: 'a', timestamp_ms: 0, ...chat(1), temperature: 0, seed: 7, extra_vendor_field: { x: 1 } }, '', {
      id: 2,
      timestamp_ms: 250,
      model: 'm',
      prompt: 'Once upon',
      max_tokens: 8,
    }),
  );
  t.is(w.format, 'openai');
  t.is(w.source, FILE);
  t.deepEqual(w.items, [
    { id: 'a', api: 'chat', timestamp_ms: 0, body: { ...chat(1), temperature: 0, seed: 7, extra_vendor_field: { x: 1 } } },
    { id: '2', api: 'completions', timestamp_ms: 250, body: { model: 'm', prompt: 'Once upon', max_tokens: 8 } },
  ]);
});

test('wrapper lines and OpenAI Batch API lines: the body is the request, the rest is metadata', (t) => {
  const w = parse(
    lines(
      { id: 'w1', body: chat(1) },
      { custom_id: 'b2', method: 'POST', url: '/v1/completions', body: { model: 'm', prompt: [1, 2, 3] } },
    ),
  );
  t.deepEqual(
    w.items.map((i) => [i.id, i.api, i.timestamp_ms]),
    [
      ['w1', 'chat', null],
      ['b2', 'completions', null],
    ],
  );
  t.deepEqual(w.items[0]!.body, chat(1));
  t.deepEqual(w.items[1]!.body, { model: 'm', prompt: [1, 2, 3] });
});

test('lines without an id are named by line number; CRLF endings and blank lines are fine', (t) => {
  const w = parse(`\r\n${JSON.stringify(chat(1))}\r\n\r\n${JSON.stringify(chat(2))}\r\n`);
  t.deepEqual(
    w.items.map((i) => i.id),
    ['line-2', 'line-4'],
  );
});

test('the model option fills only bodies that have none', (t) => {
  const w = parse(lines({ messages: [{ role: 'user', content: 'x' }] }, chat(1)), 'served');
  t.is(w.items[0]!.body.model, 'served');
  t.is(w.items[1]!.body.model, 'm');
});

test('content parts, developer/tool roles and tool-call-only assistant turns are accepted', (t) => {
  const messages = [
    { role: 'developer', content: 'be brief' },
    {
      role: 'user',
      content: [
        { type: 'text', text: 'look' },
        { type: 'image_url', image_url: { url: 'data:,' } },
      ],
    },
    { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: '{}' } }] },
    { role: 'tool', tool_call_id: 'c1', content: '42' },
  ];
  t.deepEqual(parse(lines({ model: 'm', messages })).items[0]!.body.messages, messages);
});

const BAD: Array<[name: string, text: string, where: number | string, reason: RegExp]> = [
  [
    'not JSON',
    lines(chat(1), '{"messages": [', chat(3)),
    '2:15',
    /not valid JSON: expected a value \(object, array, string, number, true, false or null\) but found the end of the text/,
  ],
  [
    'not JSON, mid-line',
    lines(chat(1), chat(2), '{"messages": [], max_tokens: 3}'),
    '3:18',
    /not valid JSON: expected a property name in double quotes but found "max_tokens"/,
  ],
  ['a JSON array line', lines(chat(1), [chat(2)]), 2, /expected a JSON object, got array/],
  [
    'missing messages',
    lines(chat(1), chat(2), { model: 'm', max_tokens: 3 }),
    3,
    /missing "messages" \(chat\) or "prompt" \(completions\)/,
  ],
  ['messages not an array', lines({ messages: 'hi' }), 1, /"messages" must be an array of \{role, content\}, got string/],
  ['empty messages', lines({ messages: [] }), 1, /"messages" is empty/],
  ['message not an object', lines({ messages: ['hi'] }), 1, /messages\[0\] must be an object/],
  ['missing role', lines({ messages: [{ content: 'x' }] }), 1, /messages\[0\]\.role is missing/],
  [
    'unknown role',
    lines(chat(1), {
      messages: [
        { role: 'user', content: 'a' },
        { role: 'bot', content: 'b' },
      ],
    }),
    2,
    /messages\[1\]\.role "bot" is not a known role \(expected one of system, developer, user/,
  ],
  [
    'content a number',
    lines({ messages: [{ role: 'user', content: 5 }] }),
    1,
    /messages\[0\]\.content must be a string or an array of content parts, got number/,
  ],
  ['user content null', lines({ messages: [{ role: 'user', content: null }] }), 1, /messages\[0\]\.content is null/],
  [
    'text part without text',
    lines({ messages: [{ role: 'user', content: [{ type: 'text' }] }] }),
    1,
    /content\[0\]\.text must be a string/,
  ],
  ['part without type', lines({ messages: [{ role: 'user', content: [{ text: 'x' }] }] }), 1, /content\[0\] must be a content part/],
  ['max_tokens zero', lines({ ...chat(1), max_tokens: 0 }), 1, /"max_tokens" is 0 \(expected a positive integer\)/],
  ['max_tokens fractional', lines({ ...chat(1), max_tokens: 1.5 }), 1, /"max_tokens" is 1.5/],
  ['max_tokens a string', lines({ ...chat(1), max_tokens: '10' }), 1, /"max_tokens" is "10"/],
  ['temperature a string', lines({ ...chat(1), temperature: 'hot' }), 1, /"temperature" is "hot" \(expected a number ≥ 0\)/],
  ['model a number', lines({ ...chat(1), model: 3 }), 1, /"model" is 3/],
  ['both messages and prompt', lines({ ...chat(1), prompt: 'x' }), 1, /both "messages" and "prompt"/],
  ['prompt a number', lines({ prompt: 5 }), 1, /"prompt" must be a string or an array, got number/],
  ['prompt mixed array', lines({ prompt: ['a', 1] }), 1, /"prompt" array mixes types/],
  ['wrapper with an unknown key', lines({ body: chat(1), when: 3 }), 1, /unknown key "when" next to "body"/],
  ['wrapper body not an object', lines({ id: 'x', body: [chat(1)] }), 1, /"body" must be a request body object, got array/],
  [
    'batch url disagreeing with the body',
    lines({ url: '/v1/completions', body: chat(1) }),
    1,
    /"url" says completions but the body has "messages"/,
  ],
  ['batch url unknown', lines({ url: '/v1/embeddings', body: chat(1) }), 1, /"url" is "\/v1\/embeddings"/],
  ['batch method GET', lines({ method: 'GET', body: chat(1) }), 1, /only "POST" is replayed/],
  ['id an object', lines({ id: { a: 1 }, ...chat(1) }), 1, /"id" is \{"a":1\} \(expected a non-empty string or an integer\)/],
  ['duplicate id', lines({ id: 'x', ...chat(1) }, { id: 'y', ...chat(2) }, { id: 'x', ...chat(3) }), 3, /id "x" is already used on line 1/],
  ['negative timestamp', lines({ timestamp_ms: -5, ...chat(1) }), 1, /"timestamp_ms" is -5 \(expected a number of milliseconds ≥ 0\)/],
  ['string timestamp', lines({ timestamp_ms: '10', ...chat(1) }), 1, /"timestamp_ms" is "10"/],
  [
    'decreasing timestamps',
    lines({ timestamp_ms: 10, ...chat(1) }, { timestamp_ms: 20, ...chat(2) }, { timestamp_ms: 15, ...chat(3) }),
    3,
    /"timestamp_ms" 15 is earlier than line 2's 20/,
  ],
  ['timestamp on some lines only', lines({ timestamp_ms: 10, ...chat(1) }, chat(2)), 2, /has no "timestamp_ms" but line 1 has one/],
  ['timestamp appearing later', lines(chat(1), { timestamp_ms: 10, ...chat(2) }), 2, /has "timestamp_ms" but line 1 has none/],
  ['empty file', '', 1, /file is empty/],
  ['whitespace-only file', '\n  \n\t\n', 1, /file is empty/],
];

for (const [name, text, where, reason] of BAD) {
  test(`bad input fails with file:line — ${name}`, (t) => {
    const error = t.throws(() => parse(text), { instanceOf: WorkloadError });
    t.true(error.message.startsWith(`${FILE}:${where}: `), error.message);
    t.regex(error.message, reason);
    t.is(error.line, Number(String(where).split(':')[0]));
  });
}
