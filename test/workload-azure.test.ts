// The Azure LLM inference trace CSV (Azure/AzurePublicDataset, AzureLLMInferenceDataset2023.md:
// header `TIMESTAMP,ContextTokens,GeneratedTokens`, rows like `2023-11-16 18:15:46.6805900,374,44`;
// the 2024 *_1week.csv files are reported with a zone, e.g. `2024-05-12 00:00:00.001163+00:00`).
// The fixture is the real file's first 20 rows (test/fixtures/workloads/README.md).
import test from 'ava';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createPlan } from '../core/plan.ts';
import { isAzureHeader, parseAzureTimestamp } from '../core/workload/azure.ts';
import { detectFormat, parseWorkload, WorkloadError, type Workload } from '../core/workload/workload.ts';
import { WORDS } from '../core/workload/trace.ts';
import { openWorkload } from '../io/workload-file.ts';

const FIXTURE = join(import.meta.dirname, 'fixtures', 'workloads', 'azure-conv-head.csv');
const TEXT = readFileSync(FIXTURE, 'utf8');
const ROWS = TEXT.trim()
  .split('\n')
  .slice(1)
  .map((l) => l.split(','));
const parse = (text: string, extra: Partial<Parameters<typeof parseWorkload>[1]> = {}) =>
  parseWorkload(text, { file: 'azure.csv', seed: 3, ...extra });
const prompt = (w: Workload, i: number) => (w.items[i]!.body.messages as Array<{ content: string }>)[0]!.content;
const csv = (...rows: string[]) => ['TIMESTAMP,ContextTokens,GeneratedTokens', ...rows].join('\n') + '\n';

test('the exact header is detected as azure, with a BOM and CRLF too; another CSV header is refused naming both', (t) => {
  t.is(detectFormat(TEXT, 'x.csv'), 'azure');
  t.is(detectFormat('\ufeffTIMESTAMP,ContextTokens,GeneratedTokens\r\n2023-11-16 18:15:46.6805900,374,44\r\n', 'x.csv'), 'azure');
  t.true(isAzureHeader(' TIMESTAMP, ContextTokens, GeneratedTokens \r'));
  const error = t.throws(() => detectFormat('time,prompt_tokens,output_tokens\n1,2,3\n', 'other.csv'), { instanceOf: WorkloadError });
  t.regex(
    error.message,
    /^other\.csv:1: a CSV header "time,prompt_tokens,output_tokens" is not the Azure LLM trace header TIMESTAMP,ContextTokens,GeneratedTokens/,
  );
  // A .csv whose first line is JSON is not azure.
  t.is(detectFormat('{"timestamp": 0, "input_length": 3, "output_length": 1}\n', 'trace.csv'), 'trace');
});

test('timestamps: 100 ns resolution kept in offsets; 2024 forms with a zone, Z, T or no fraction all parse', (t) => {
  const w = parse(TEXT);
  t.is(w.format, 'azure');
  t.is(w.items.length, 20);
  t.is(w.items[0]!.timestamp_ms, 0);
  t.is(Math.round(w.items[1]!.timestamp_ms! * 1000), 4314579); // 18:15:50.9951690 − 18:15:46.6805900
  const at = (s: string) => {
    const p = parseAzureTimestamp(s)!;
    return p.seconds * 1000 + p.fractionMs;
  };
  const base = Date.UTC(2024, 4, 12);
  t.is(at('2024-05-12 00:00:01+00:00'), base + 1000);
  t.is(Math.round(at('2024-05-12 00:00:00.001163+00:00') * 1000), Math.round((base + 1.163) * 1000));
  t.is(at('2024-05-12T00:00:01Z'), base + 1000);
  t.is(at('2024-05-12 02:00:01+02:00'), base + 1000);
  t.is(parseAzureTimestamp('12/05/2024 00:00'), null);
  // Mixed forms in one file still give offsets from the first row.
  const mixed = parse(csv('2024-05-12 00:00:00.5+00:00,10,5', '2024-05-12 00:00:01+00:00,10,5', '2024-05-12T00:00:02.25Z,10,5'));
  t.deepEqual(
    mixed.items.map((i) => i.timestamp_ms),
    [0, 500, 1750],
  );
});

test('a decreasing timestamp or a malformed row fails naming the line', (t) => {
  const back = t.throws(() => parse(csv('2023-11-16 18:15:46.6805900,374,44', '2023-11-16 18:15:46.0000000,10,5')), {
    instanceOf: WorkloadError,
  });
  t.regex(back.message, /^azure\.csv:3: TIMESTAMP 2023-11-16 18:15:46\.0000000 is earlier than line 2's/);
  t.regex(
    t.throws(() => parse(csv('2023-11-16 18:15:46.6805900,-3,44'))).message,
    /^azure\.csv:2: ContextTokens "-3" is not an integer ≥ 0/,
  );
  t.regex(t.throws(() => parse(csv('yesterday,3,44'))).message, /^azure\.csv:2: TIMESTAMP "yesterday" is not a date-time/);
  t.regex(t.throws(() => parse(csv('2023-11-16 18:15:46,3'))).message, /^azure\.csv:2: expected 3 comma-separated fields, got 2/);
});

test('arrival trace schedules requests at the offsets × 1e6 × timeScale', (t) => {
  const w = parse(TEXT);
  const plan = createPlan(w, { arrival: 'trace', timeScale: 0.5, seed: 1 });
  t.is(plan.total, 20);
  for (let i = 0; i < 20; i++) t.is(plan.scheduledNs(i), Math.round(w.items[i]!.timestamp_ms! * 1e6 * 0.5));
});

test('lengths: ContextTokens words, max_tokens = min_tokens = GeneratedTokens with ignore_eos by default', (t) => {
  const w = parse(TEXT);
  const vocabulary = new Set(WORDS.map((x) => x.trim()));
  for (let i = 0; i < 20; i++) {
    const [, ctx, gen] = ROWS[i]!;
    const words = prompt(w, i).split(' ');
    t.is(words.length, Number(ctx));
    t.true(words.every((x) => vocabulary.has(x)));
    const { messages: _, ...rest } = w.items[i]!.body;
    t.deepEqual(rest, { model: 'meta-llama/Llama-3.1-8B-Instruct', max_tokens: Number(gen), min_tokens: Number(gen), ignore_eos: true });
    t.is(w.items[i]!.id, `line-${i + 2}`);
  }
});

test('--output-control and --max-output-tokens: fields dropped or capped; GeneratedTokens 0 skipped and counted', (t) => {
  t.deepEqual(Object.keys(parse(TEXT, { outputControl: 'none' }).items[0]!.body).sort(), ['max_tokens', 'messages', 'model']);
  t.deepEqual(Object.keys(parse(TEXT, { outputControl: 'ignore_eos' }).items[0]!.body).sort(), [
    'ignore_eos',
    'max_tokens',
    'messages',
    'model',
  ]);
  const capped = parse(TEXT, { filters: { maxOutputTokens: 100 } });
  t.deepEqual(
    capped.items.map((i) => [i.body.max_tokens, i.body.min_tokens]),
    ROWS.map(([, , gen]) => [Math.min(100, Number(gen)), Math.min(100, Number(gen))]),
  );
  t.is(capped.report!.capped, ROWS.filter(([, , g]) => Number(g) > 100).length);
  const zero = parse(csv('2023-11-16 18:15:46.6805900,374,0', '2023-11-16 18:15:47.0,0,5', '2023-11-16 18:15:48.0,3000,5'), {
    filters: { maxModelLen: 2048 },
  });
  t.deepEqual(
    zero.items.map((i) => i.id),
    ['line-3'],
  );
  t.deepEqual(zero.report!.skipped, { '0 generated tokens': 1, 'prompt+output over --max-model-len 2048': 1 });
  t.is(prompt(zero, 0).split(' ').length, 1); // ContextTokens 0: a one-word prompt, noted
  t.true(zero.notes!.some((n) => n.includes('skipped 2 (0 generated tokens: 1; prompt+output over --max-model-len 2048: 1)')));
  t.true(zero.notes!.some((n) => n.includes('ContextTokens 0 rows are sent as a 1-word prompt')));
});

test('prefix sharing: none, one shared prefix, or seeded groups', (t) => {
  const firstWords = (w: Workload, i: number, n: number) => prompt(w, i).split(' ').slice(0, n).join(' ');
  const none = parse(TEXT);
  const starts = new Set(ROWS.map((_, i) => firstWords(none, i, 50)));
  t.is(starts.size, 20); // no common 50-word prefix
  const shared = parse(TEXT, { prefix: { kind: 'shared', tokens: 80 } });
  for (let i = 1; i < 20; i++) {
    t.is(firstWords(shared, i, 80), firstWords(shared, 0, 80));
    t.not(firstWords(shared, i, 81), firstWords(shared, 0, 81)); // the prefix ends at exactly 80 words
    t.is(prompt(shared, i).split(' ').length, Number(ROWS[i]![1])); // lengths unchanged
  }
  const groups = parse(TEXT, { prefix: { kind: 'groups', groups: 3, tokens: 60 } });
  const byPrefix = new Map<string, number>();
  for (let i = 0; i < 20; i++) byPrefix.set(firstWords(groups, i, 60), (byPrefix.get(firstWords(groups, i, 60)) ?? 0) + 1);
  t.is(byPrefix.size, 3);
  t.true([...byPrefix.values()].every((n) => n >= 2));
  // Reproducible from the seed: the same groups again.
  t.deepEqual(parse(TEXT, { prefix: { kind: 'groups', groups: 3, tokens: 60 } }).items, groups.items);
});

test('the streamed reader gives the same items as the parser, and timestamps without building items', async (t) => {
  const eager = parse(TEXT, { prefix: { kind: 'shared', tokens: 100 }, filters: { maxOutputTokens: 120 } });
  const source = await openWorkload(FIXTURE, { seed: 3, prefix: { kind: 'shared', tokens: 100 }, filters: { maxOutputTokens: 120 } });
  t.is(source.format, 'azure');
  t.is(source.length, 20);
  t.deepEqual(
    Array.from(source.timestamps!),
    eager.items.map((i) => i.timestamp_ms),
  );
  for (let i = 0; i < 20; i++) t.deepEqual(source.item(i), { ...eager.items[i]!, id: eager.items[i]!.id });
});
