import test from 'ava';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { emptyRecord, parseRecord, recordErrors, serializeRecord, RECORD_SCHEMA_VERSION, type RequestRecord } from '../core/record.ts';
import { readRecords, RecordFileError, RecordWriter } from '../io/records-file.ts';

function okRecord(index: number, arm = 'baseline'): RequestRecord {
  const r = emptyRecord({
    run_id: 'run-1',
    arm,
    index,
    item_id: `item-${index}`,
    warmup: false,
    source: 'fixture',
    streaming: true,
    scheduled_ns: index * 10_000_000,
  });
  r.sent_ns = r.scheduled_ns + 1_000;
  r.headers_ns = r.sent_ns + 2_000_000;
  r.first_chunk_ns = r.headers_ns + 1_000;
  r.first_content_ns = r.first_chunk_ns + 5_000_000;
  r.content_ns = [r.first_content_ns, r.first_content_ns + 10_000_000, r.first_content_ns + 20_000_000];
  r.end_ns = r.first_content_ns + 21_000_000;
  r.http_status = 200;
  r.outcome = { kind: 'ok' };
  r.usage = { prompt_tokens: 12, completion_tokens: 3, cached_prompt_tokens: null };
  r.finish_reason = 'stop';
  r.output_text = 'a b c';
  return r;
}

const tmp = () => mkdtempSync(join(tmpdir(), 'sb-record-'));

test('a record survives serialize → parse unchanged', (t) => {
  const r = okRecord(3);
  t.deepEqual(parseRecord(serializeRecord(r)), r);
  t.deepEqual(recordErrors(r), []);
});

test('every outcome kind round-trips', (t) => {
  const outcomes: RequestRecord['outcome'][] = [
    { kind: 'ok' },
    { kind: 'http_error', status: 503, message: 'Service Unavailable' },
    { kind: 'timeout', phase: 'stream', message: 'no data for 60 s' },
    { kind: 'cancelled', message: 'SIGINT' },
    { kind: 'connection_error', code: 'ECONNREFUSED', message: 'connect ECONNREFUSED 127.0.0.1:1' },
    { kind: 'protocol_error', message: 'malformed SSE chunk' },
  ];
  for (const outcome of outcomes) {
    const r = { ...okRecord(1), outcome };
    t.deepEqual(parseRecord(serializeRecord(r)).outcome, outcome);
  }
});

test('bad records are rejected with the field named', (t) => {
  const cases: Array<[Partial<Record<keyof RequestRecord, unknown>>, RegExp]> = [
    [{ index: -1 }, /index: expected a non-negative integer/],
    [{ arm: 'Baseline!' }, /arm:/],
    [{ sent_ns: 1.5 }, /sent_ns:/],
    [{ content_ns: [5, 3] }, /content_ns: timestamps go backwards/],
    [{ content_tokens: [1] }, /content_tokens: has 1 entries but content_ns has 3/],
    [{ outcome: { kind: 'exploded' } }, /outcome: unknown kind "exploded"/],
    [{ outcome: { kind: 'timeout', message: 'x' } }, /outcome: timeout needs a "phase"/],
    [{ http_status: 42 }, /http_status:/],
    [{ output_text: 7 }, /output_text:/],
  ];
  for (const [patch, expected] of cases) {
    const errors = recordErrors({ ...okRecord(0), ...patch });
    t.regex(errors.join('; '), expected, JSON.stringify(patch));
  }
  t.deepEqual(recordErrors([1, 2]), ['record is not a JSON object']);
});

test('an unknown schema version is refused by name', (t) => {
  const errors = recordErrors({ ...okRecord(0), v: RECORD_SCHEMA_VERSION + 1 });
  t.is(errors.length, 1);
  t.regex(errors[0] ?? '', /unknown record schema version 3 \(this build reads versions 1 and 2\)/);
});

test('the reader names file and line of a bad record', async (t) => {
  const file = join(tmp(), 'records.jsonl');
  const good = serializeRecord(okRecord(0));
  writeFileSync(file, `${good}\n\n${good.replace('"index":0', '"index":"zero"')}\n${good}\n`);
  const error = await t.throwsAsync(readRecords(file), { instanceOf: RecordFileError });
  t.is(error?.line, 3);
  t.regex(error?.message ?? '', new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:3: index:`));
});

test('the reader reports, not crashes on, a truncated last line', async (t) => {
  const file = join(tmp(), 'records.jsonl');
  const good = serializeRecord(okRecord(0));
  writeFileSync(file, `${good}\n${serializeRecord(okRecord(1))}\n${good.slice(0, 40)}`);
  const { records, summary } = await readRecords(file);
  t.is(records.length, 2);
  t.deepEqual(summary.truncatedLastLine, { line: 3, bytes: 40 });
  t.regex(summary.warnings[0] ?? '', /:3: last line is incomplete/);
});

test('the reader rejects invalid JSON in the middle of the file', async (t) => {
  const file = join(tmp(), 'records.jsonl');
  writeFileSync(file, `${serializeRecord(okRecord(0))}\n{"v":1,]\n`); // not a record cut short (that one is skipped: run-folder.test.ts)
  await t.throwsAsync(readRecords(file), { message: /:2: not valid JSON/ });
});

test('the writer appends one line per record and the reader reads them back', async (t) => {
  const file = join(tmp(), 'records.jsonl');
  const writer = new RecordWriter(file);
  const written = [okRecord(0), okRecord(0, 'candidate'), okRecord(1)];
  for (const r of written) writer.write(r);
  await writer.close();
  t.is(writer.written, 3);
  const { records, summary } = await readRecords(file);
  t.deepEqual(records, written);
  t.is(summary.truncatedLastLine, null);
});
