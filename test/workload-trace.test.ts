import test from 'ava';
import { DEFAULT_MODEL, parseWorkload, WorkloadError, type Workload } from '../core/workload/workload.ts';
import { WORDS } from '../core/workload/trace.ts';

const FILE = 'trace.jsonl';
const lines = (...values: unknown[]) => values.map((v) => (typeof v === 'string' ? v : JSON.stringify(v))).join('\n') + '\n';
const row = (timestamp: number, input_length: number, output_length: number, hash_ids?: number[]) => ({
  timestamp,
  input_length,
  output_length,
  ...(hash_ids && { hash_ids }),
});
const parse = (text: string, seed = 7, blockSize = 4) => parseWorkload(text, { file: FILE, seed, blockSize });
const words = (w: Workload, i: number) => {
  const body = w.items[i]!.body;
  const text = w.items[i]!.api === 'chat' ? (body.messages as Array<{ content: string }>)[0]!.content : (body.prompt as string);
  return text.split(' ');
};

test('each line becomes a request for exactly output_length tokens with an input_length-word prompt', (t) => {
  const w = parse(lines(row(1000, 10, 3, [1, 2, 3]), row(1500, 6, 20), { ...row(1500, 1, 1), id: 'last' }));
  t.is(w.format, 'trace');
  t.deepEqual(
    w.items.map((i) => [i.id, i.api, i.timestamp_ms]),
    [
      ['line-1', 'chat', 1000],
      ['line-2', 'chat', 1500],
      ['last', 'chat', 1500],
    ],
  );
  const { messages, ...rest } = w.items[0]!.body;
  t.deepEqual(rest, { model: DEFAULT_MODEL, max_tokens: 3, min_tokens: 3, ignore_eos: true });
  t.is((messages as unknown[]).length, 1);
  t.deepEqual(
    [0, 1, 2].map((i) => words(w, i).length),
    [10, 6, 1],
  );
  const vocabulary = new Set(WORDS.map((x) => x.trim()));
  t.true([0, 1, 2].every((i) => words(w, i).every((x) => vocabulary.has(x))));
});

test('equal hash ids give equal prefixes; a different hash id makes the prompts differ from that block on', (t) => {
  const w = parse(lines(row(0, 12, 1, [1, 2, 3]), row(1, 12, 1, [1, 2, 9]), row(2, 12, 1, [5, 2, 3]), row(3, 14, 1, [1, 2, 3])));
  const [a, b, c, d] = [0, 1, 2, 3].map((i) => words(w, i));
  t.deepEqual(b!.slice(0, 8), a!.slice(0, 8));
  t.notDeepEqual(b!.slice(8), a!.slice(8));
  t.notDeepEqual(c!.slice(0, 4), a!.slice(0, 4));
  t.deepEqual(c!.slice(4, 12), a!.slice(4, 12)); // a block depends on its hash id alone, not on the blocks before it
  t.deepEqual(d!.slice(0, 12), a); // the same three blocks, then 2 words of its own
});

test('a partial last block is the start of that block; tokens beyond the hash ids come from the line', (t) => {
  const w = parse(lines(row(0, 12, 1, [1, 2, 3]), row(1, 10, 1, [1, 2, 3]), row(2, 11, 1, [1, 2]), row(3, 11, 1, [1, 2])));
  const [a, b, c, d] = [0, 1, 2, 3].map((i) => words(w, i));
  t.deepEqual(b, a!.slice(0, 10));
  t.deepEqual(c!.slice(0, 8), a!.slice(0, 8));
  t.deepEqual(d!.slice(0, 8), a!.slice(0, 8));
  t.notDeepEqual(c!.slice(8), d!.slice(8)); // lines 3 and 4 have their own tails
});

test('prompts are a function of the seed: same seed same prompts, another seed other prompts', (t) => {
  const text = lines(row(0, 9, 2, [4, 5]), row(10, 7, 2));
  t.deepEqual(parse(text, 7), parse(text, 7));
  const other = parse(text, 8);
  t.notDeepEqual(words(other, 0), words(parse(text, 7), 0));
  t.notDeepEqual(words(other, 1), words(parse(text, 7), 1));
  // A block is the same in any file that uses its hash id with the same seed and block size.
  t.deepEqual(words(parse(lines(row(0, 4, 1, [5])), 7), 0), words(parse(text, 7), 0).slice(4, 8));
});

test('the default block size is 512 tokens, and the completions endpoint and a model can be chosen', (t) => {
  const w = parseWorkload(lines(row(0, 600, 8, [1, 2]), row(5, 512, 8, [1])), {
    file: FILE,
    seed: 3,
    traceApi: 'completions',
    model: 'served',
  });
  t.is(w.items[0]!.api, 'completions');
  t.is(w.items[0]!.body.model, 'served');
  t.deepEqual(words(w, 1), words(w, 0).slice(0, 512));
  t.is(words(w, 0).length, 600);
});

const BAD: Array<[name: string, text: string, where: number | string, reason: RegExp]> = [
  [
    'not JSON',
    lines(row(0, 5, 5), 'timestamp=5'),
    '2:1',
    /not valid JSON: expected a value \(object, array, string, number, true, false or null\) but found "timestamp"/,
  ],
  ['missing timestamp', lines(row(0, 5, 5), { input_length: 5, output_length: 5 }), 2, /missing "timestamp"/],
  ['negative timestamp', lines(row(-1, 5, 5)), 1, /"timestamp" is -1 \(expected a number of milliseconds ≥ 0\)/],
  ['string timestamp', lines({ ...row(0, 5, 5), timestamp: '0' }), 1, /"timestamp" is "0"/],
  [
    'timestamps out of order',
    lines(row(10, 5, 5), row(20, 5, 5), row(19, 5, 5)),
    3,
    /"timestamp" 19 is earlier than line 2's 20 \(a trace must be in time order\)/,
  ],
  ['negative input_length', lines(row(0, -3, 5)), 1, /"input_length" is -3 \(expected a positive integer number of tokens\)/],
  ['zero input_length', lines(row(0, 0, 5)), 1, /"input_length" is 0/],
  ['fractional input_length', lines(row(0, 2.5, 5)), 1, /"input_length" is 2.5/],
  ['missing output_length', lines({ timestamp: 0, input_length: 5 }), 1, /"output_length" is missing/],
  ['negative output_length', lines(row(0, 5, 5), row(1, 5, -5)), 2, /"output_length" is -5/],
  ['hash_ids not an array', lines({ ...row(0, 5, 5), hash_ids: 3 }), 1, /"hash_ids" is 3 \(expected an array of non-negative integers\)/],
  ['a negative hash id', lines(row(0, 5, 5, [1, -2])), 1, /"hash_ids" is \[1,-2\]/],
  [
    'more hash ids than the input fills',
    lines(row(0, 5, 5, [1, 2, 3])),
    1,
    /"hash_ids" has 3 blocks but input_length 5 fills only 2 of 4 tokens/,
  ],
  ['an id of the wrong type', lines({ ...row(0, 5, 5), id: true }), 1, /"id" is true/],
];

for (const [name, text, where, reason] of BAD) {
  test(`bad trace input fails with file:line — ${name}`, (t) => {
    const error = t.throws(() => parseWorkload(text, { file: FILE, format: 'trace', seed: 1, blockSize: 4 }), {
      instanceOf: WorkloadError,
    });
    t.true(error.message.startsWith(`${FILE}:${where}: `), error.message);
    t.regex(error.message, reason);
  });
}

test('a block size that is not a positive integer is refused', (t) => {
  t.regex(
    t.throws(() => parse(lines(row(0, 5, 5)), 1, 0), { instanceOf: WorkloadError }).message,
    /blockSize 0 must be a positive integer/,
  );
});
