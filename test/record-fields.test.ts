// The record field list lives in one table (core/record.ts RECORD_FIELDS); every other place that
// names fields is held to it here, so a field added in one place only fails a test: emptyRecord (what
// engines write), recordErrors (what readers accept), the fast parser (io/record-fast-parse.ts), and
// the collector's transfer of per-arm columns between threads (analysis/collect.ts ArmState).
// (RequestRecord itself is held to the table at compile time by its `satisfies`.)
import test from 'ava';
import { emptyRecord, RECORD_FIELDS, recordErrors, serializeRecord, V2_ONLY_FIELDS, type FieldKind } from '../core/record.ts';
import { KEYS, KIND_CODES, parseRecordBytes } from '../io/record-fast-parse.ts';
import { ArmColumns, ARM_TRANSFER } from '../analysis/collect.ts';

const record = () => {
  const r = emptyRecord({
    run_id: 'r',
    arm: 'baseline',
    index: 3,
    item_id: 'i',
    warmup: false,
    source: 'node',
    streaming: true,
    scheduled_ns: 5,
  });
  r.outcome = { kind: 'ok' };
  r.usage = { prompt_tokens: 1, completion_tokens: 2, cached_prompt_tokens: null };
  return r;
};

test('emptyRecord writes exactly the table fields, in table order', (t) => {
  t.deepEqual(Object.keys(record()), Object.keys(RECORD_FIELDS));
});

test('the fast parser reads exactly the table fields, each with a reader of its kind', (t) => {
  t.deepEqual(KEYS, Object.keys(RECORD_FIELDS));
  const kinds = new Set<FieldKind>(Object.values(RECORD_FIELDS));
  for (const kind of kinds) t.true(Number.isInteger(KIND_CODES[kind]), kind);
  const line = serializeRecord(record());
  t.not(parseRecordBytes(Buffer.from(line), 0, line.length), null, 'a plain line is on the fast path');
  for (const field of Object.keys(RECORD_FIELDS)) {
    const o = JSON.parse(line) as Record<string, unknown>;
    delete o[field];
    const without = Buffer.from(JSON.stringify(o));
    t.is(parseRecordBytes(without, 0, without.length), null, `a line without ${field} leaves the fast path`);
  }
  const extra = Buffer.from(line.slice(0, -1) + ',"new_field":1}');
  t.is(parseRecordBytes(extra, 0, extra.length), null, 'a field the table lacks leaves the fast path');
});

test('recordErrors checks every table field (version-2 ones on version-2 records only)', (t) => {
  t.deepEqual(recordErrors(record()), []);
  for (const field of Object.keys(RECORD_FIELDS)) {
    if (field === 'v') continue;
    const o = { ...record() } as Record<string, unknown>;
    delete o[field];
    t.true(
      recordErrors(o).some((e) => e.startsWith(`${field}:`)),
      `recordErrors does not notice a missing ${field}: ${JSON.stringify(recordErrors(o))}`,
    );
    if ((V2_ONLY_FIELDS as readonly string[]).includes(field))
      t.deepEqual(recordErrors({ ...o, v: 1 }), [], `${field} is not required of version 1`);
  }
});

test('every ArmColumns field is carried between threads (ARM_TRANSFER) or named as not needing it', (t) => {
  const a = new ArmColumns('baseline');
  const listed = new Set<string>([
    ...ARM_TRANSFER.typed,
    ...ARM_TRANSFER.floats,
    ...ARM_TRANSFER.perIndex,
    ...ARM_TRANSFER.counters,
    ...ARM_TRANSFER.other,
  ]);
  for (const key of Object.keys(a)) t.true(listed.has(key), `ArmColumns.${key} is not in ARM_TRANSFER: a parallel read would drop it`);
  const state = a.exportState(new Set());
  const carried = new Set([
    ...Object.keys(state),
    ...Object.keys(state.typed),
    ...Object.keys(state.floats),
    ...Object.keys(state.perIndex),
    ...Object.keys(state.counters),
  ]);
  for (const key of listed) t.true(carried.has(key), `exportState lacks ${key}`);
});

test('a response naming another model is a validity warning: several models on one arm, or baseline vs its repeat', async (t) => {
  const { modelWarnings, RunCollector } = await import('../analysis/collect.ts');
  const collector = new RunCollector({ expectRepeat: true, keepText: false });
  const add = (arm: string, index: number, model: string) => {
    const r = record();
    Object.assign(r, { arm, index, model, sent_ns: 10, first_content_ns: 20, content_ns: [20], end_ns: 30 });
    collector.add(r);
  };
  add('baseline', 0, 'm1');
  add('baseline_repeat', 0, 'm1');
  add('candidate', 0, 'other');
  t.deepEqual(modelWarnings(collector.arms), [], 'arms asked for different models may name different ones');
  add('baseline', 1, 'm1');
  add('baseline_repeat', 1, 'm2');
  add('candidate', 1, 'other-2');
  t.deepEqual(modelWarnings(collector.arms), [
    'baseline_repeat responses named 2 models: m1 (1), m2 (1)',
    'candidate responses named 2 models: other (1), other-2 (1)',
    'baseline and baseline_repeat were asked the same model but answered as m1 (2) vs m1 (1), m2 (1)',
  ]);
});

test('sameModel: case, an organisation prefix and a dated snapshot of an alias are the same model; anything else is not', async (t) => {
  const { sameModel } = await import('../analysis/collect.ts');
  t.true(sameModel('meta-llama/Llama-3.1-8B-Instruct', 'Llama-3.1-8B-Instruct'));
  t.true(sameModel('meta-llama/Llama-3.1-8B-Instruct', 'meta-llama/llama-3.1-8b-instruct'));
  t.true(sameModel('gpt-4o', 'gpt-4o-2024-08-06'));
  t.true(sameModel('gpt-4-0613', 'gpt-4'));
  t.true(sameModel('claude-3-5-sonnet-latest', 'claude-3-5-sonnet-20241022'));
  t.false(sameModel('gpt-4o', 'gpt-4o-mini'));
  t.false(sameModel('meta-llama/Llama-3.1-8B-Instruct', 'meta-llama/Llama-3.1-70B-Instruct'));
  t.false(sameModel('gpt-4o', 'gpt-4o-preview'), 'only a date-like suffix is a snapshot');
});

test('a response naming a model its arm was not asked for is a warning; so are arms asked the same model answering differently', async (t) => {
  const { modelWarnings, RunCollector } = await import('../analysis/collect.ts');
  const collector = new RunCollector({ expectRepeat: false, keepText: false });
  const add = (arm: string, index: number, model: string) => {
    const r = record();
    Object.assign(r, { arm, index, model, sent_ns: 10, first_content_ns: 20, content_ns: [20], end_ns: 30 });
    collector.add(r);
  };
  for (let i = 0; i < 4; i++) add('baseline', i, 'Llama-3.1-8B-Instruct'); // the served name of what was asked
  for (let i = 0; i < 4; i++) add('candidate', i, 'Qwen2.5-7B-Instruct');
  const asked = new Map([
    ['baseline', ['meta-llama/Llama-3.1-8B-Instruct']],
    ['candidate', ['meta-llama/Llama-3.1-8B-Instruct']],
  ]);
  t.deepEqual(modelWarnings(collector.arms, asked), [
    'candidate: 4 of 4 responses named a model it was not asked for: Qwen2.5-7B-Instruct (4); asked for meta-llama/Llama-3.1-8B-Instruct',
    'baseline and candidate were asked the same model but answered as Llama-3.1-8B-Instruct (4) vs Qwen2.5-7B-Instruct (4)',
  ]);
  // Asked different models (--candidate-model): answering under different names is expected.
  const askedApart = new Map([
    ['baseline', ['meta-llama/Llama-3.1-8B-Instruct']],
    ['candidate', ['Qwen/Qwen2.5-7B-Instruct']],
  ]);
  t.deepEqual(modelWarnings(collector.arms, askedApart), []);
  // What each arm was asked is unknown (no run.json): only the several-models check applies.
  t.deepEqual(modelWarnings(collector.arms, null), []);
});
