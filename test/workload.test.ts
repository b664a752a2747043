import test from 'ava';
import { join } from 'node:path';
import { detectFormat, parseWorkload, sampleWorkload, WorkloadError } from '../core/workload/workload.ts';
import { findJsonSyntaxError } from '../core/workload/common.ts';
import { loadWorkloadFile } from '../io/workload-file.ts';

const FIXTURES = join(import.meta.dirname, 'fixtures', 'workloads');
const fixture = (name: string) => join(FIXTURES, name);
const chatLines = (n: number) =>
  Array.from({ length: n }, (_, i) => JSON.stringify({ id: `r${i}`, messages: [{ role: 'user', content: `q${i}` }] })).join('\n');

test('the format is detected from the content', (t) => {
  t.is(detectFormat('{"messages": []}', 'x.jsonl'), 'openai');
  t.is(detectFormat('\n\n{"prompt": "a"}', 'x.jsonl'), 'openai');
  t.is(detectFormat('{"id": 1, "body": {}}', 'x.jsonl'), 'openai');
  t.is(detectFormat('  [{"conversations": []}]', 'x.txt'), 'sharegpt');
  t.is(detectFormat('{"conversations": []}', 'x.jsonl'), 'sharegpt');
  t.is(detectFormat('{"timestamp": 0, "input_length": 3, "output_length": 1}', 'x.jsonl'), 'trace');
  t.is(detectFormat('{"timestamp": 0, "hash_ids": [1]}', 'x.jsonl'), 'trace');
  t.is(detectFormat('{\n  "conversations": []}', 'pretty.json'), 'sharegpt'); // .json whose first line is not a whole object
});

test('an undetectable first line names the line, its keys and the accepted shapes', (t) => {
  const error = t.throws(() => detectFormat('\n{"question": "a", "answer": "b"}', 'x.jsonl'), { instanceOf: WorkloadError });
  t.regex(
    error.message,
    /^x\.jsonl:2: cannot tell the workload format: the first line is an object with keys question, answer \(expected openai JSONL/,
  );
  t.regex(error.message, /name the format: openai, sharegpt, trace/);
  // A leading '[' is ShareGPT, whose parser then reports the JSON error with its column.
  t.regex(
    t.throws(() => parseWorkload('[1', { file: 'x.json', seed: 1 }), { instanceOf: WorkloadError }).message,
    /^x\.json:1:3: not valid JSON: expected ',' or '\]' but found the end of the text/,
  );
  t.regex(
    t.throws(() => parseWorkload('{"messages": [}', { file: 'x.jsonl', seed: 1 }), { instanceOf: WorkloadError }).message,
    /^x\.jsonl:1:15: not valid JSON: expected a value/,
  );
});

test('a given format overrides detection, and an unknown one is refused', (t) => {
  const error = t.throws(
    () => parseWorkload('{"messages": [{"role": "user", "content": "a"}]}', { file: 'x.jsonl', format: 'trace', seed: 1 }),
    { instanceOf: WorkloadError },
  );
  t.regex(error.message, /^x\.jsonl:1: missing "timestamp"/);
  t.regex(
    t.throws(() => parseWorkload('{}', { file: 'x', format: 'csv' as 'openai', seed: 1 }), { instanceOf: WorkloadError }).message,
    /unknown workload format "csv" \(expected openai, sharegpt, trace, azure\)/,
  );
});

test('sampling keeps a seeded subset in file order, reproducibly', (t) => {
  const w = parseWorkload(chatLines(50), { file: 'x.jsonl', seed: 1 });
  const a = sampleWorkload(w, 10, 42);
  const ids = a.items.map((i) => Number(i.id.slice(1)));
  t.is(new Set(ids).size, 10);
  t.deepEqual(
    ids,
    [...ids].sort((x, y) => x - y),
  );
  t.deepEqual(sampleWorkload(w, 10, 42), a);
  t.notDeepEqual(sampleWorkload(w, 10, 43).items, a.items);
  t.deepEqual(parseWorkload(chatLines(50), { file: 'x.jsonl', seed: 42, sample: 10 }).items, a.items);
  t.deepEqual(sampleWorkload(w, 50, 1).items, w.items);
  t.true(a.notes!.some((n) => n.includes('sampled 10 of 50 items (seed 42)')));
});

test('sampling more items than the workload has, or a non-integer count, is refused', (t) => {
  const w = parseWorkload(chatLines(5), { file: 'x.jsonl', seed: 1 });
  t.regex(
    t.throws(() => sampleWorkload(w, 6, 1), { instanceOf: WorkloadError }).message,
    /^x\.jsonl: sample 6 must be an integer from 1 to the 5 items/,
  );
  t.throws(() => sampleWorkload(w, 0, 1), { instanceOf: WorkloadError });
  t.throws(() => sampleWorkload(w, 2.5, 1), { instanceOf: WorkloadError });
});

test('every sample of 2 out of 4 turns up over many seeds (the sample is not stuck)', (t) => {
  const w = parseWorkload(chatLines(4), { file: 'x.jsonl', seed: 1 });
  const seen = new Set<string>();
  for (let seed = 0; seed < 200; seed++)
    seen.add(
      sampleWorkload(w, 2, seed)
        .items.map((i) => i.id)
        .join(','),
    );
  t.is(seen.size, 6);
});

test('loadWorkloadFile reads each format from disk', async (t) => {
  const chat = await loadWorkloadFile(fixture('chat.jsonl'), { seed: 1 });
  t.is(chat.format, 'openai');
  t.deepEqual(
    chat.items.map((i) => [i.id, i.api]),
    [
      ['c1', 'chat'],
      ['c2', 'chat'],
      ['c3', 'completions'],
    ],
  );
  const conv = await loadWorkloadFile(fixture('conversations.json'), { seed: 1, model: 'served', sharegptMode: 'first-human' });
  t.is(conv.format, 'sharegpt');
  t.deepEqual(
    conv.items.map((i) => [i.id, i.body.model, i.body.max_tokens]),
    [
      ['s1', 'served', 2],
      ['s3', 'served', 5],
    ],
  );
  const trace = await loadWorkloadFile(fixture('trace.jsonl'), { seed: 1 });
  t.is(trace.format, 'trace');
  t.deepEqual(
    trace.items.map((i) => i.timestamp_ms),
    [0, 250, 1000],
  );
  t.is(trace.source, fixture('trace.jsonl'));
});

test('loadWorkloadFile errors name the file (and line)', async (t) => {
  const missing = fixture('nope.jsonl');
  await t.throwsAsync(loadWorkloadFile(missing, { seed: 1 }), {
    instanceOf: WorkloadError,
    message: `${missing}: cannot read the workload file: no such file`,
  });
  await t.throwsAsync(loadWorkloadFile(FIXTURES, { seed: 1 }), { instanceOf: WorkloadError, message: /is a directory/ });
  const bad = fixture('bad-role.jsonl');
  await t.throwsAsync(loadWorkloadFile(bad, { seed: 1 }), {
    instanceOf: WorkloadError,
    message: new RegExp(`^${bad.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:2: messages\\[0\\]\\.role "human" is not a known role`),
  });
});

test('the JSON syntax locator agrees with JSON.parse on every one-character corruption of a document', (t) => {
  const doc = JSON.stringify(
    { id: 'a\u00e9"\\/', n: [0, -1.5, 2e-3, 10], ok: true, no: false, none: null, nested: [{ k: 'v\n\t' }, []], e: {} },
    null,
    1,
  );
  const replacements = ['', 'x', '"', ',', '}', ']', '{', '[', ':', '\\', '0', '-', ' ', 'e', '\n'];
  let checked = 0;
  for (let k = 0; k <= doc.length; k++) {
    for (const r of replacements) {
      const text = doc.slice(0, k) + r + doc.slice(k + 1);
      let valid = true;
      try {
        JSON.parse(text);
      } catch {
        valid = false;
      }
      const error = findJsonSyntaxError(text);
      if ((error === null) !== valid) t.fail(`disagrees on ${JSON.stringify(text)}: ${JSON.stringify(error)}`);
      if (error !== null && (error.offset < 0 || error.offset > text.length)) t.fail(`offset out of range on ${JSON.stringify(text)}`);
      checked++;
    }
  }
  t.true(checked > 1000);
  t.deepEqual(findJsonSyntaxError('{"a": 1,\n "b" 2}'), { offset: 14, reason: 'expected \':\' after the property name but found "2"' });
});
