import test from 'ava';
import { DEFAULT_MODEL, parseWorkload, WorkloadError } from '../core/workload/workload.ts';
import { arrayElementOffset, SHAREGPT_FALLBACK_MAX_TOKENS } from '../core/workload/sharegpt.ts';
import type { TokenCounter } from '../core/tokens.ts';

const FILE = 'conv.json';
const turn = (from: string, value: string) => ({ from, value });
const entry = (i: number, ...conversations: unknown[]) => ({ id: `e${i}`, conversations });
const qa = (i: number) => entry(i, turn('human', `question ${i}`), turn('gpt', 'x'.repeat(4 * i + 1)));
const pretty = (entries: unknown[]) => JSON.stringify(entries, null, 2);
// The older first-human rule (--sharegpt-mode first-human), counting tokens as ceil(characters / 4)
// so the lengths below are easy to read (the counter is injected; the CLI's is o200k).
const CHARS4: TokenCounter = { name: 'chars/4', count: (text) => Math.ceil(text.length / 4) };
const parse = (text: string, extra: { model?: string; sharegptMaxTokens?: 'reply' | number } = {}) =>
  parseWorkload(text, { file: FILE, seed: 1, sharegptMode: 'first-human', counter: CHARS4, ...extra });
/** The line holding `"id": "eN"`; the entry's `{` is the line before it (id is its first key). */
const entryLine = (text: string, i: number) => text.split('\n').findIndex((l) => l.includes(`"id": "e${i}"`));

test('first-human mode: the first human turn is the prompt; the first gpt reply sets max_tokens (its token count)', (t) => {
  const w = parse(
    pretty([qa(1), qa(2), entry(3, turn('human', 'q3'), turn('gpt', 'abcd'), turn('human', 'later'), turn('gpt', 'y'.repeat(400)))]),
  );
  t.is(w.format, 'sharegpt');
  t.deepEqual(
    w.items.map((i) => [i.id, i.api, i.timestamp_ms]),
    [
      ['e1', 'chat', null],
      ['e2', 'chat', null],
      ['e3', 'chat', null],
    ],
  );
  t.deepEqual(w.items[0]!.body, { model: DEFAULT_MODEL, messages: [{ role: 'user', content: 'question 1' }], max_tokens: 2 }); // ceil(5 / 4)
  t.is(w.items[1]!.body.max_tokens, 3); // ceil(9 / 4)
  t.is(w.items[2]!.body.max_tokens, 1); // the first reply, not the later long one
});

test('a system turn before the first human turn is kept; other speaker names map to user/assistant', (t) => {
  const w = parse(pretty([entry(1, turn('system', 'be terse'), turn('gpt', 'hello!'), turn('user', 'hi'), turn('chatgpt', 'abcdefgh'))]));
  t.deepEqual(w.items[0]!.body.messages, [
    { role: 'system', content: 'be terse' },
    { role: 'user', content: 'hi' },
  ]);
  t.is(w.items[0]!.body.max_tokens, 2);
});

test('options: model, a fixed max_tokens, and the fallback when there is no reply', (t) => {
  const fixed = parse(pretty([qa(1), qa(9)]), { model: 'served', sharegptMaxTokens: 64 });
  t.deepEqual(
    fixed.items.map((i) => [i.body.model, i.body.max_tokens]),
    [
      ['served', 64],
      ['served', 64],
    ],
  );
  const noReply = parse(pretty([entry(1, turn('human', 'alone'))]));
  t.is(noReply.items[0]!.body.max_tokens, SHAREGPT_FALLBACK_MAX_TOKENS);
  t.true(noReply.notes!.some((n) => n.includes('1 conversations have no gpt reply')));
});

test('first-human mode: conversations without a non-empty human turn are skipped and counted (vLLM does not skip them)', (t) => {
  const w = parse(pretty([qa(1), entry(2), entry(3, turn('gpt', 'only me')), entry(4, turn('human', '  ')), qa(5)]));
  t.deepEqual(
    w.items.map((i) => i.id),
    ['e1', 'e5'],
  );
  t.deepEqual(w.notes, [`${FILE}: skipped 3 of 5 conversations with no non-empty human turn`]);
});

test('entries without an id are named by position; JSON Lines with one entry per line works too', (t) => {
  const text = [{ conversations: [turn('human', 'a')] }, qa(2)].map((e) => JSON.stringify(e)).join('\n');
  const w = parseWorkload(text, { file: 'conv.jsonl', seed: 1, sharegptMode: 'first-human' });
  t.is(w.format, 'sharegpt');
  t.deepEqual(
    w.items.map((i) => i.id),
    ['entry-1', 'e2'],
  );
});

test('a JSON syntax error is reported as file:line:column', (t) => {
  const text = '[\n  {"id": "e1", "conversations": []},\n  {"id": "e2" "conversations": []}\n]';
  const error = t.throws(() => parse(text), { instanceOf: WorkloadError });
  // The bad character is the `"` after "e2", on line 3 at column 15.
  t.true(error.message.startsWith(`${FILE}:3:15: not valid JSON: expected ',' or '}' but found "\\""`), error.message);
  t.is(error.line, 3);
  t.is(error.column, 15);
});

test('a JSON error that V8 reports without a position still gets its line and column', (t) => {
  // V8 says only "Unexpected token '}', ... is not valid JSON" here.
  const text = '[\n  {"id": "e1", "conversations": []},\n  {"id": "e2", "conversations": [tru]}\n]';
  const error = t.throws(() => parse(text), { instanceOf: WorkloadError });
  t.true(
    error.message.startsWith(
      `${FILE}:3:34: not valid JSON: expected a value (object, array, string, number, true, false or null) but found "tru"`,
    ),
    error.message,
  );
});

test('a truncated file is reported at its end', (t) => {
  const text = pretty([qa(1), qa(2)]).slice(0, -10);
  const error = t.throws(() => parse(text), { instanceOf: WorkloadError });
  const lastLine = text.split('\n').length;
  t.is(error.line, lastLine);
  t.true(error.message.startsWith(`${FILE}:${lastLine}:${text.length - text.lastIndexOf('\n')}: not valid JSON`), error.message);
});

const BAD: Array<[name: string, entries: unknown[], bad: number, reason: RegExp]> = [
  ['an entry that is not an object', [qa(1), qa(2), 'e3'], 3, /entry 3: expected an object/],
  ['missing conversations', [qa(1), { id: 'e2', turns: [] }], 2, /entry 2: missing "conversations"/],
  [
    'conversations not an array',
    [qa(1), { id: 'e2', conversations: { from: 'human' } }],
    2,
    /"conversations" must be an array of \{from, value\}, got object/,
  ],
  ['a turn that is not an object', [{ id: 'e1', conversations: ['hi'] }], 1, /conversations\[0\] must be an object/],
  [
    'an unknown speaker',
    [qa(1), qa(2), { id: 'e3', conversations: [turn('human', 'a'), turn('robot', 'b')] }],
    3,
    /conversations\[1\]\.from is "robot" \(expected "human", "gpt" or "system"\)/,
  ],
  [
    'a value that is not a string',
    [{ id: 'e1', conversations: [{ from: 'human', value: 7 }] }],
    1,
    /conversations\[0\]\.value must be a string, got number/,
  ],
  ['an id of the wrong type', [{ id: ['e1'], conversations: [turn('human', 'a')] }], 1, /"id" is \["e1"\]/],
];

for (const [name, entries, bad, reason] of BAD) {
  test(`bad ShareGPT input fails with file:line of the entry — ${name}`, (t) => {
    const text = pretty(entries);
    const error = t.throws(() => parse(text), { instanceOf: WorkloadError });
    // Expected line: where the bad entry starts. Pretty-printed with a 2-space indent, entries open on
    // lines with two spaces then a non-closing character.
    const starts = text.split('\n').flatMap((l, i) => (/^ {2}[^\s}\]]/.test(l) ? [i + 1] : []));
    t.is(starts.length, entries.length);
    const expected = starts[bad - 1]!;
    t.is(error.line, expected, error.message);
    t.true(error.message.startsWith(`${FILE}:${expected}: `), error.message);
    t.regex(error.message, reason);
  });
}

test('entry lines are found past strings holding brackets, commas and escaped quotes', (t) => {
  const text = pretty([entry(1, turn('human', 'a [tricky], {"quoted\\"} value')), qa(2), qa(3)]);
  const error = t.throws(() => parse(text.replace('"from": "gpt"', '"from": 42')), { instanceOf: WorkloadError });
  t.is(error.line, entryLine(text, 2)); // entryLine is 0-based on the id line, i.e. the 1-based line of the `{`
  t.is(arrayElementOffset('[1, "]", [2,[3]] ,{"a":"}"}]', 3), 18);
  t.is(arrayElementOffset('[1, "]", [2,[3]] ,{"a":"}"}]', 2), 9);
  t.is(arrayElementOffset('[1, "]", [2,[3]] ,{"a":"}"}]', 1), 4);
});

test('an empty array and a file whose conversations all lack a prompt fail', (t) => {
  t.regex(t.throws(() => parse('[]'), { instanceOf: WorkloadError }).message, /^conv\.json:1: the array is empty/);
  t.regex(
    t.throws(() => parse(pretty([entry(1), entry(2, turn('gpt', 'x'))])), { instanceOf: WorkloadError }).message,
    /^conv\.json:1: no conversation has a non-empty human turn \(2 entries/,
  );
});

// --- vllm mode (the default): vLLM's ShareGPT sampler, vllm-project/vllm
// vllm/benchmarks/datasets/sharegpt.py (entries with >= 2 turns; prompt, completion =
// conversations[0]["value"], conversations[1]["value"]) and datasets/utils.py is_valid_sequence
// (min_len=4, max_prompt_len=1024, max_total_len=2048; the output check skipped with a fixed output_len).

const vllm = (text: string, extra: Partial<Parameters<typeof parseWorkload>[1]> = {}) =>
  parseWorkload(text, { file: FILE, seed: 1, counter: CHARS4, ...extra });
const long = (n: number) => 'word '.repeat(n).trim(); // CHARS4: about 1.25 tokens a word

test('vllm mode: conversations[0] is the user prompt whatever its role, [1] the reply', (t) => {
  const w = vllm(
    pretty([
      entry(1, turn('gpt', 'I opened this conversation myself.'), turn('human', 'and this is the human reply to it')),
      entry(2, turn('system', 'You are a helpful assistant.'), turn('human', 'What is a KV cache, in short?'), turn('gpt', 'x')),
      entry(3, turn('human', 'What is two plus two, please?'), turn('gpt', 'It is four, of course.')),
    ]),
  );
  t.is(w.format, 'sharegpt');
  t.deepEqual(
    w.items.map((i) => [i.id, i.body.messages]),
    [
      ['e1', [{ role: 'user', content: 'I opened this conversation myself.' }]],
      ['e2', [{ role: 'user', content: 'You are a helpful assistant.' }]],
      ['e3', [{ role: 'user', content: 'What is two plus two, please?' }]],
    ],
  );
  t.deepEqual(
    w.items.map((i) => i.body.max_tokens),
    [Math.ceil(33 / 4), Math.ceil(29 / 4), Math.ceil(22 / 4)], // the length of conversations[1], not of a later gpt turn
  );
  t.deepEqual(w.report!.skipped, {});
});

test('vllm mode: fewer than 2 turns, and prompts or replies under 4 tokens, are skipped and counted by reason', (t) => {
  const w = vllm(
    pretty([
      qaLong(1),
      entry(2, turn('human', 'only one turn here, nobody answered')),
      entry(3),
      entry(4, turn('human', ''), turn('gpt', 'an answer to an empty question')),
      entry(5, turn('human', 'a question long enough to pass'), turn('gpt', 'ok')),
      qaLong(6),
    ]),
  );
  t.deepEqual(
    w.items.map((i) => i.id),
    ['e1', 'e6'],
  );
  t.deepEqual(w.report!.skipped, { 'fewer than 2 turns': 2, 'prompt under 4 tokens': 1, 'output under 4 tokens': 1 });
  t.like(w.report!, { examined: 6, kept: 2, capped: 0, tokenizer: 'chars/4' });
  t.deepEqual(w.notes, [`${FILE}: kept 2 of 6; skipped 4 (fewer than 2 turns: 2; prompt under 4 tokens: 1; output under 4 tokens: 1)`]);
  // A fixed output length (vLLM --sharegpt-output-len) skips the short-reply check only.
  const fixed = vllm(pretty([entry(5, turn('human', 'a question long enough to pass'), turn('gpt', 'ok'))]), { sharegptMaxTokens: 64 });
  t.deepEqual(
    fixed.items.map((i) => [i.id, i.body.max_tokens]),
    [['e5', 64]],
  );
  const error = t.throws(() => vllm(pretty([entry(1, turn('human', 'lonely'))])), { instanceOf: WorkloadError });
  t.regex(error.message, /every one of the 1 conversations was skipped, mostly for fewer than 2 turns \(1\)/);
});
function qaLong(i: number) {
  return entry(i, turn('human', `question ${i}: ${long(10)}`), turn('gpt', long(40)));
}

test('--max-model-len skips a 228K-character pair; --max-output-tokens caps first, so a capped item can stay', (t) => {
  const huge = entry(2, turn('human', 'Summarise this:'), turn('gpt', 'y'.repeat(228_000)));
  const w = vllm(pretty([qaLong(1), huge, entry(3, turn('human', long(400)), turn('gpt', long(1600)))]), {
    filters: { maxModelLen: 2048 },
  });
  t.deepEqual(
    w.items.map((i) => i.id),
    ['e1'],
  );
  t.deepEqual(w.report!.skipped, { 'prompt+output over --max-model-len 2048': 2 });
  // With a cap of 1000 output tokens, entry 3 (≈500 + 2000 tokens) fits as 500 + 1000; the huge reply too.
  const capped = vllm(pretty([qaLong(1), huge, entry(3, turn('human', long(400)), turn('gpt', long(1600)))]), {
    filters: { maxModelLen: 2048, maxOutputTokens: 1000 },
  });
  t.deepEqual(
    capped.items.map((i) => [i.id, i.body.max_tokens]),
    [
      ['e1', Math.ceil(long(40).length / 4)],
      ['e2', 1000],
      ['e3', 1000],
    ],
  );
  t.like(capped.report!, { examined: 3, kept: 3, capped: 2, skipped: {} });
  t.deepEqual(capped.notes, [`${FILE}: kept 3 of 3; max_tokens capped on 2 by --max-output-tokens`]);
  // vLLM's own fixed limits, on request.
  const limits = vllm(pretty([qaLong(1), entry(3, turn('human', long(900)), turn('gpt', long(40)))]), { sharegptVllmLimits: true });
  t.deepEqual(limits.report!.skipped, { 'prompt over 1024 tokens': 1 });
});

test('CJK replies: max_tokens within 30 % of o200k with the tokenizer and with the estimate; chars / 4 is not', async (t) => {
  const { loadTokenCounter } = await import('../io/tokenizer.ts');
  const { counter: o200k } = await loadTokenCounter('o200k');
  const reply =
    '当然可以。前缀缓存的原理是：如果多个请求共享相同的开头，例如同一个系统提示，服务器只需要计算一次这些令牌的键值缓存，之后的请求就可以直接复用，从而明显缩短首个令牌的延迟。不过缓存会占用显存，所以需要根据负载调整容量。';
  t.true(reply.length >= 100 && reply.length <= 140, String(reply.length));
  const text = pretty([entry(1, turn('human', '请解释一下前缀缓存是如何工作的？'), turn('gpt', reply))]);
  const truth = o200k.count(reply);
  for (const counter of [o200k, undefined]) {
    const w = parseWorkload(text, { file: FILE, seed: 1, ...(counter && { counter }) });
    const got = w.items[0]!.body.max_tokens as number;
    t.true(Math.abs(got - truth) / truth <= 0.3, `${counter?.name ?? 'estimate'}: ${got} vs o200k ${truth}`);
  }
  const old = Math.ceil(reply.length / 4);
  t.true(Math.abs(old - truth) / truth > 0.3, `chars/4 ${old} vs o200k ${truth}`);
});

test('the skip summary reaches the source report, whose notes become run.json warnings', async (t) => {
  const { eagerSource } = await import('../core/workload/source.ts');
  const w = vllm(pretty([qaLong(1), entry(2, turn('human', 'alone in here'))]));
  const source = eagerSource(w);
  t.deepEqual(source.report.skipped, { 'fewer than 2 turns': 1 });
  t.deepEqual(source.report.notes, [`${FILE}: kept 1 of 2; skipped 1 (fewer than 2 turns: 1)`]);
});
