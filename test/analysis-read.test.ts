// The parallel read of records.jsonl (analysis/parallel-read.ts) and its fast line parser must give
// exactly what the sequential reader gives: same records, same collector columns, same errors and
// warnings; and the threaded bootstrap exactly the single-threaded numbers.
import test from 'ava';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { parseRecord, serializeRecord, type RequestRecord } from '../core/record.ts';
import { seededRandom } from '../core/random.ts';
import { forEachRecord } from '../io/records-file.ts';
import { bootstrap, bootstrapNaive, prestartStats } from '../analysis/stats/bootstrap.ts';
import { newCounts, resampleRange, resampleWide } from '../analysis/stats/resample.ts';
import { type ArmColumns, type RunCollector } from '../analysis/collect.ts';
import { DEFAULT_GATES } from '../analysis/gates.ts';
import { prestartImprovementBootstraps } from '../analysis/improvement-prestart.ts';
import { inlineCollector } from '../pipeline/range-job.ts';
import { readRecordsFile } from '../pipeline/parallel-read.ts';
import { parseRecordBytes } from '../io/record-fast-parse.ts';
import { buildReport } from '../analysis/report.ts';
import { Float64Column } from '../analysis/stats/stats.ts';
import { fixtureRun } from './fixtures/analysis/build-run.ts';

const tmp = () => mkdtempSync(join(tmpdir(), 'sb-read-'));

/** parseRecord's answer for a line: the record, or 'refused'. */
function slow(line: string): RequestRecord | 'refused' {
  try {
    return parseRecord(line);
  } catch {
    return 'refused';
  }
}

/** Every fast-path answer must be parseRecord's record (null = "not on the fast path"). */
function checkLine(t: { true: (v: boolean, m?: string) => void }, bytes: Buffer): 'fast' | 'fallback' {
  const fast = parseRecordBytes(bytes, 0, bytes.length);
  if (fast === null) return 'fallback';
  const expected = slow(bytes.toString('utf8'));
  t.true(
    expected !== 'refused' && isDeepStrictEqual(fast, expected),
    `fast path accepted ${JSON.stringify(bytes.toString('utf8').slice(0, 400))}`,
  );
  return 'fast';
}

/** A version-2 line as version 1 wrote it (without the version-2 fields). */
function v1Line(line: string): string {
  const o = JSON.parse(line) as Record<string, unknown>;
  for (const k of ['first_answer_ns', 'reasoning_text', 'tool_calls', 'model', 'truncated']) delete o[k];
  o.v = 1;
  return JSON.stringify(o);
}

function baseRecords(): RequestRecord[] {
  const records = fixtureRun({
    indices: 12,
    candidateFailures: {
      4: { kind: 'http_error', status: 503, message: 'busy' },
      5: { kind: 'timeout', phase: 'stream', message: 'slow' },
    },
    divergent: [2],
  });
  const r = records[7] as RequestRecord;
  r.output_text = 'héllo “wörld” 🙂 tab\there "quoted" back\\slash\nnew line \u0001 \ud800 end';
  (records[8] as RequestRecord).output_text = '';
  (records[9] as RequestRecord).content_ns = [];
  (records[9] as RequestRecord).content_tokens = null;
  (records[10] as RequestRecord).sent_ns = null;
  (records[11] as RequestRecord).finish_reason = null;
  (records[12] as RequestRecord).usage = { prompt_tokens: null, completion_tokens: 0, cached_prompt_tokens: 7 };
  (records[13] as RequestRecord).content_ns = [0, 0, 123_456_789_012_345];
  (records[13] as RequestRecord).content_tokens = [0, 5, 1];
  (records[14] as RequestRecord).instance = 'k6-1';
  const tools = records[15] as RequestRecord;
  tools.tool_calls = [
    { name: 'get_weather', arguments: '{"city":"Paris"}', arguments_json: true },
    { name: 'get_time', arguments: '{"tz": "Europe/Par', arguments_json: false },
  ];
  tools.reasoning_text = 'The user asks “where”';
  tools.model = 'Qwen/Qwen3-8B';
  tools.truncated = true;
  (records[16] as RequestRecord).model = 'm-é';
  return records;
}

test("fast line parser: accepts plain lines with parseRecord's values, defers everything else", (t) => {
  const lines = baseRecords().map(serializeRecord);
  let fast = 0;
  for (const line of lines) {
    t.not(slow(line), 'refused', line);
    const verdict = checkLine(t, Buffer.from(line));
    if (!/"outcome":\{"kind":"(?!ok)/.test(line)) {
      t.is(verdict, 'fast', `plain line deferred: ${line.slice(0, 120)}`);
      fast++;
    }
  }
  t.true(fast > 30);
  // Written variants JSON allows, and mistakes it does not: the fast path either agrees or defers.
  const line = lines[1] as string;
  const variants = [
    line.replace(/,"/g, ' ,\t"').replace(/":/g, '" : '),
    ` \t${line}\r`,
    `\ufeff${line}`,
    `${line} x`,
    line.slice(0, -1),
    line.replace('"v":2', '"v":2.0'),
    line.replace('"v":2', '"v":3'),
    line.replace('"v":2', '"v":1'), // a version-1 line with version-2 fields: parseRecord decides
    v1Line(line),
    v1Line(line).replace('"output_text"', '"model":null,"output_text"'),
    line.replace('"tool_calls":[]', '"tool_calls":[{"name":"get_weather","arguments":"{\\"city\\":\\"Paris\\"}","arguments_json":true}]'),
    line.replace(
      '"tool_calls":[]',
      '"tool_calls":[{"arguments_json":false,"arguments":"{\\"cut","name":"f"},{"name":"g","arguments":"","arguments_json":false}]',
    ),
    line.replace('"tool_calls":[]', '"tool_calls":[{"name":"f","arguments":"","arguments_json":false,"id":"x"}]'),
    line.replace('"tool_calls":[]', '"tool_calls":[{"name":"f","arguments":""}]'),
    line.replace('"tool_calls":[]', '"tool_calls":[{"name":1,"arguments":"","arguments_json":false}]'),
    line.replace('"tool_calls":[]', '"tool_calls":{}'),
    line.replace('"tool_calls":[]', '"tool_calls":[{"name":"f","arguments":"","arguments_json":false},]'),
    line.replace('"model":null', '"model":"Qwen/Qwen3-8B"'),
    line.replace('"model":null', '"model":7'),
    line.replace('"truncated":false', '"truncated":true'),
    line.replace('"truncated":false', '"truncated":null'),
    line.replace('"reasoning_text":""', '"reasoning_text":"The user asks \\u00e9"'),
    line.replace('"reasoning_text":""', '"reasoning_text":null'),
    line.replace(/"first_answer_ns":(\d+|null)/, '"first_answer_ns":"x"'),
    line.replace('"index":1', '"index":-1'),
    line.replace('"index":1', '"index":01'),
    line.replace('"index":1', '"index":1e0'),
    line.replace('"index":1', '"index":1234567890123456'),
    line.replace('"index":1', '"index":123456789012345'),
    line.replace('"index":1', '"index":"1"'),
    line.replace('"arm":"baseline"', '"arm":"Base"'),
    line.replace('"arm":"baseline"', '"arm":"b\\u0061seline"'),
    line.replace('"run_id":"fixture-run"', '"run_id":""'),
    line.replace('"warmup":false', '"warmup":0'),
    line.replace('"http_status":200', '"http_status":99'),
    line.replace('"http_status":200', '"http_status":600'),
    line.replace('"http_status":200', '"http_status":null'),
    line.replace('"outcome":{"kind":"ok"}', '"outcome":{ "kind" : "ok" }'),
    line.replace('"outcome":{"kind":"ok"}', '"outcome":{"kind":"ok","extra":1}'),
    line.replace('"outcome":{"kind":"ok"}', '"outcome":{"kind":"okay"}'),
    line.replace('"cached_prompt_tokens":null', '"cached_prompt_tokens":null,"x":1'),
    line.replace(',"cached_prompt_tokens":null', ''),
    line.replace('"usage":{', '"usage":{"completion_tokens":3,'),
    line.replace('"finish_reason":"stop"', '"finish_reason":7'),
    line.replace('"content_tokens":null', '"content_tokens":[1]'),
    line.replace('"queue_wait_ns":0', '"queue_wait_ns":0,"queue_wait_ns":0'),
    line.replace('"queue_wait_ns":0', '"queue_wait_ns":0,"new_field":true'),
    line.replace('"item_id":"item-1"', '"item_id":"it\u0001em"'),
    line.replace('"item_id":"item-1"', '"item_id":"it\\u0001em"'),
    line.replace('"item_id":"item-1"', '"item_id":"it\\qem"'),
    line.replace(/"content_ns":\[(\d+),(\d+)/, '"content_ns":[$2,$1'),
    line.replace('"sent_ns":', '"sent_ns":null,"x_sent_ns":'),
    `{${line.slice(line.indexOf('"output_text"'), -1)},${line.slice(1, line.indexOf(',"output_text"'))}}`, // keys in another order
    '[1,2]',
    '{}',
    '',
    'null',
  ];
  for (const v of variants) checkLine(t, Buffer.from(v));
  t.is(checkLine(t, Buffer.from(variants[0] as string)), 'fast');
  t.is(checkLine(t, Buffer.from(v1Line(line))), 'fast', 'version-1 lines are on the fast path, upgraded as parseRecord does');
  for (const v of variants.filter((x) =>
    /tool_calls":\[\{"name":"get_weather"|"arguments_json":false,"arguments|"model":"Qwen|"truncated":true|"reasoning_text":"The/.test(x),
  ))
    t.is(checkLine(t, Buffer.from(v)), 'fast', v.slice(-300));
  t.is(checkLine(t, Buffer.from(variants.at(-5) as string)), 'fast'); // reordered keys
  // Invalid UTF-8 inside a string decodes to U+FFFD on both paths.
  const bad = Buffer.from(line.replace('"item_id":"item-1"', '"item_id":"AB"'));
  const at = bad.indexOf('AB');
  bad[at] = 0xe2;
  bad[at + 1] = 0x82;
  checkLine(t, bad);
  // Seeded random damage: deleted, inserted and replaced bytes at every kind of place.
  const random = seededRandom(7);
  const alphabet = Buffer.from('0123456789-+.eE,:{}[]"\\ \tnulltruefalse\u00e9x');
  for (let k = 0; k < 3000; k++) {
    const source = Buffer.from(lines[k % lines.length] as string);
    const damaged = Buffer.from(source);
    const edits = 1 + Math.floor(random() * 3);
    let bytes = damaged;
    for (let e = 0; e < edits; e++) {
      const pos = Math.floor(random() * bytes.length);
      const byte = alphabet[Math.floor(random() * alphabet.length)] as number;
      const kind = Math.floor(random() * 3);
      if (kind === 0) bytes = Buffer.concat([bytes.subarray(0, pos), bytes.subarray(pos + 1)]);
      else if (kind === 1) bytes = Buffer.concat([bytes.subarray(0, pos), Buffer.of(byte), bytes.subarray(pos)]);
      else bytes[pos] = byte;
    }
    checkLine(t, bytes);
  }
});

/** The collector as comparable plain data: every field of every arm, arrays cut to the run's size. */
function snapshot(collector: RunCollector): unknown {
  const size = collector.size;
  const cut = (value: unknown): unknown => {
    if (value instanceof Float64Column) return Array.from(value.chunks().flatMap((c) => Array.from(c)));
    if (ArrayBuffer.isView(value)) return Array.from(value as unknown as ArrayLike<number>).slice(0, size);
    if (Array.isArray(value)) return Array.from({ length: size }, (_, i) => (i in value ? value[i] : '<hole>'));
    if (value instanceof Set) return [...value];
    return value;
  };
  const arm = (a: ArmColumns) =>
    Object.fromEntries(
      Object.entries(a)
        .filter(([k]) => k !== 'capacity')
        .map(([k, v]) => [k, cut(v)]),
    );
  return {
    runId: collector.runId,
    size,
    records: collector.records,
    pendingTexts: collector.pendingTexts,
    arms: [...collector.arms.values()].map(arm),
    similarity: { candidate: cut(collector.similarity.candidate), repeat: cut(collector.similarity.repeat) },
  };
}

async function sequential(file: string, options: { expectRepeat: boolean; keepText: boolean }) {
  const collector = inlineCollector(options);
  const summary = await forEachRecord(file, (r) => collector.add(r));
  return { collector, summary };
}

function shuffledRun(withRepeat = true): RequestRecord[] {
  // Arms of an index far apart, so many pairs span two ranges; a few blank lines.
  const records = fixtureRun({
    indices: 90,
    withRepeat,
    divergent: [3, 9, 27, 44, 61, 88],
    repeatDivergent: [5, 70],
    candidateFailures: { 50: { kind: 'cancelled', message: 'x' } },
  });
  const random = seededRandom(3);
  for (let i = records.length - 1; i > 0; i--) {
    const j = Math.max(0, i - Math.floor(random() * 60));
    [records[i], records[j]] = [records[j] as RequestRecord, records[i] as RequestRecord];
  }
  return records;
}

function writeLines(lines: string[]): { dir: string; file: string } {
  const dir = tmp();
  const file = join(dir, 'records.jsonl');
  writeFileSync(file, lines.join('\n') + '\n');
  return { dir, file };
}

test('parallel read: the same collector (every column, ITL order, similarity, ordinals) as the sequential read', async (t) => {
  for (const [withRepeat, options] of [
    [true, { expectRepeat: true, keepText: false }],
    [true, { expectRepeat: true, keepText: true }],
    [false, { expectRepeat: true, keepText: false }], // no run.json: baseline texts wait for an A/A arm that never comes
    [false, { expectRepeat: false, keepText: false }],
    [true, { expectRepeat: false, keepText: false }], // an A/A arm run.json did not announce: read sequentially
  ] as const) {
    const lines = shuffledRun(withRepeat).map(serializeRecord);
    lines.splice(40, 0, '', '   ');
    const { dir, file } = writeLines(lines);
    const expected = await sequential(file, options);
    for (const threads of [1, 2, 3, 7]) {
      const got = await readRecordsFile(file, { ...options, threads, parallelBytes: 0 });
      t.deepEqual(snapshot(got.collector), snapshot(expected.collector), `threads=${threads} ${JSON.stringify(options)}`);
      t.deepEqual(got.summary, expected.summary);
      const context = { readWarnings: [], manifestWarnings: [], droppedIterations: null };
      t.deepEqual(buildReport(got.collector, DEFAULT_GATES, context), buildReport(expected.collector, DEFAULT_GATES, context));
    }
    // The small-file path (read on this thread) too.
    t.deepEqual(snapshot((await readRecordsFile(file, options)).collector), snapshot(expected.collector));
    rmSync(dir, { recursive: true });
  }
});

test('parallel read: errors and warnings are those of the sequential read, wherever the bad line falls', async (t) => {
  const good = fixtureRun({ indices: 60, withRepeat: false }).map(serializeRecord);
  const cases: Record<string, string[]> = {
    'bad line early': good.map((l, i) => (i === 3 ? l.replace('"index":1', '"index":"one"') : l)),
    'bad line late': good.map((l, i) => (i === good.length - 4 ? '{"v":1,]' : l)),
    'two bad lines': good.map((l, i) => (i === 5 || i === good.length - 2 ? 'nonsense' : l)),
    'duplicate across ranges': [...good, good[6] as string],
    'duplicate within a range': [good[0] as string, ...good.slice(0, -1)],
    'two runs': good.map((l, i) => (i > good.length / 2 ? l.replace('"run_id":"fixture-run"', '"run_id":"other-run"') : l)),
  };
  for (const [name, lines] of Object.entries(cases)) {
    const { dir, file } = writeLines(lines);
    const expected = await t.throwsAsync(sequential(file, { expectRepeat: false, keepText: false }));
    for (const threads of [2, 3]) {
      const got = await t.throwsAsync(readRecordsFile(file, { expectRepeat: false, keepText: false, threads, parallelBytes: 0 }));
      t.is(got?.message, expected?.message, `${name}, threads=${threads}`);
      t.is(got?.constructor, expected?.constructor, name);
    }
    rmSync(dir, { recursive: true });
  }
  // A truncated last line warns with its global line number.
  const { dir, file } = writeLines(good);
  writeFileSync(file, good.join('\n') + '\n' + (good[0] as string).slice(0, 50));
  const expected = await sequential(file, { expectRepeat: false, keepText: false });
  const got = await readRecordsFile(file, { expectRepeat: false, keepText: false, threads: 3, parallelBytes: 0 });
  t.deepEqual(got.summary, expected.summary);
  t.is(got.summary.truncatedLastLine?.line, good.length + 1);
  // A record cut short mid-file (a failed write) warns with its global line number, whichever range holds it.
  writeFileSync(file, good.map((l, i) => (i === good.length - 4 ? l.slice(0, 40) : l)).join('\n') + '\n');
  const cutExpected = await sequential(file, { expectRepeat: false, keepText: false });
  t.regex(cutExpected.summary.warnings.join('\n'), new RegExp(`:${good.length - 3}: incomplete record \\(40 bytes`));
  for (const threads of [2, 3])
    t.deepEqual(
      (await readRecordsFile(file, { expectRepeat: false, keepText: false, threads, parallelBytes: 0 })).summary,
      cutExpected.summary,
    );
  rmSync(dir, { recursive: true });
});

test('threaded bootstrap: the single-threaded numbers, bit for bit; a prestarted one is joined', (t) => {
  const random = seededRandom(11);
  const values = Float64Array.from({ length: 3001 }, (_, i) => (i % 13 === 0 ? 2 : Math.round(random() * 1e5) / 1e3 - 20));
  for (const p of [99, 50, 1]) {
    const options = { resamples: 257, seed: 9, confidence: 0.95, p };
    const naive = bootstrapNaive(values, options);
    t.deepEqual(bootstrap(values, { ...options, parallelDraws: Infinity }), naive, `single p=${p}`);
    t.deepEqual(bootstrap(values, { ...options, parallelDraws: 1 }), naive, `threaded p=${p}`);
  }
  // The 32-bit redo of a resample whose 8-bit counts wrapped draws the same numbers.
  const sorted = Float64Array.from(values).sort();
  for (const p of [99, 10]) {
    const fast = { means: new Float64Array(40), pcts: new Float64Array(40) };
    const wide = { means: new Float64Array(40), pcts: new Float64Array(40) };
    resampleRange(sorted, 5, p, 0, 40, fast.means, fast.pcts, newCounts(sorted.length));
    for (let b = 0; b < 40; b++) resampleWide(sorted, 5, p, b, wide.means, wide.pcts);
    t.deepEqual(wide, fast, `p=${p}`);
    // resampleRange notices a wrap and redoes the resample: counts left at 255 stand for 8-bit counts
    // that wrapped (a real wrap needs a rank drawn 256 times, which no test can wait for).
    const redone = { means: new Float64Array(40), pcts: new Float64Array(40) };
    for (let b = 0; b < 40; b++) {
      const wrapped = newCounts(sorted.length).fill(255);
      resampleRange(sorted, 5, p, b, b + 1, redone.means, redone.pcts, wrapped);
      t.true(
        wrapped.every((c) => c === 0),
        'counts left zero for the next resample',
      );
    }
    t.deepEqual(redone, fast, `wrapped counts, p=${p}`);
  }
  // The improvement bootstraps buildReport runs are the ones prestarted (60 pairs × 10⁶ resamples
  // reaches the threaded path), and the report is the same with or without the head start.
  const records = fixtureRun({ indices: 61, withRepeat: false });
  const collector = inlineCollector({ expectRepeat: false, keepText: false });
  for (const r of records) collector.add(r);
  const gates = structuredClone(DEFAULT_GATES);
  gates.bootstrap.resamples = 1_000_000;
  const context = { readWarnings: [], manifestWarnings: [], droppedIterations: null };
  const joined = prestartStats.joined;
  prestartImprovementBootstraps(collector, gates);
  const withHeadStart = buildReport(collector, gates, context);
  t.is(prestartStats.joined, joined + 2);
  t.deepEqual(buildReport(collector, gates, context), withHeadStart);
});
