import test from 'ava';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serializeRecord, type RequestRecord } from '../core/record.ts';
import { analyzeRecords } from '../analysis/analyze.ts';
import { DEFAULT_GATES } from '../analysis/gates.ts';
import { terminalReport } from '../report/terminal.ts';
import { csvField, csvNumber, pairsCsv, summaryCsv } from '../report/export.ts';
import { seededRandom } from '../core/random.ts';
import { stringify } from 'csv-stringify/sync';
import { analyzeRunFolder, ANALYZE_FILES, GATE_FILES } from '../pipeline/analyze-folder.ts';
import { fixtureRun, goldenRun } from './fixtures/analysis/build-run.ts';

const GOLDEN = new URL('./golden/analysis/', import.meta.url);
const update = process.env.UPDATE_GOLDEN === '1';

function writeRun(
  records: RequestRecord[],
  manifest: object | null = {
    v: 1,
    run_id: records[0]?.run_id,
    arms: [{ arm: 'baseline' }, { arm: 'candidate' }, { arm: 'baseline_repeat' }],
    warnings: [],
  },
): string {
  const dir = mkdtempSync(join(tmpdir(), 'sb-analysis-'));
  writeFileSync(join(dir, 'records.jsonl'), records.map((r) => serializeRecord(r) + '\n').join(''));
  if (manifest) writeFileSync(join(dir, 'run.json'), JSON.stringify(manifest));
  return dir;
}

test('golden: summary.csv, pairs.csv, ttft_distribution.csv and summary.json of the fixture run', async (t) => {
  const dir = writeRun(goldenRun());
  const result = await analyzeRunFolder(dir, { quiet: true });
  t.deepEqual(result, { verdict: 'INVESTIGATE', exitCode: 1 });
  for (const name of ANALYZE_FILES) {
    const got = readFileSync(join(dir, name), 'utf8');
    if (update) writeFileSync(new URL(name, GOLDEN), got);
    t.is(got, readFileSync(new URL(name, GOLDEN), 'utf8'), name);
  }
  const report = JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8'));
  if (update) writeFileSync(new URL('terminal.txt', GOLDEN), terminalReport(report));
  t.is(terminalReport(report), readFileSync(new URL('terminal.txt', GOLDEN), 'utf8'));
  rmSync(dir, { recursive: true });
});

test('figures on the fixture run match hand computation', (t) => {
  const { report } = analyzeRecords(goldenRun(), DEFAULT_GATES);
  const base = report.arms.find((a) => a.arm === 'baseline');
  const cand = report.arms.find((a) => a.arm === 'candidate');
  if (!base || !cand) return t.fail('arms missing');
  // 31 indices, index 0 is warm-up
  t.is(base.requests, 30);
  t.is(base.warmup_excluded, 1);
  t.deepEqual(cand.outcomes, { ok: 27, http_error: 1, timeout: 1, cancelled: 0, connection_error: 0, protocol_error: 1 });
  t.is(cand.error_rate, 3 / 30);
  t.is(cand.timeout_rate, 1 / 30);
  t.is(base.outcomes.connection_error, 1);
  // baseline TTFT of ok requests: 40 + (7i mod 23) for i = 1..30 except 7
  const ttfts = [];
  for (let i = 1; i <= 30; i++) if (i !== 7) ttfts.push(40 + ((i * 7) % 23));
  t.is(base.metrics.ttft_ms?.count, 29);
  t.is(base.metrics.ttft_ms?.mean, ttfts.reduce((s, v) => s + v, 0) / 29);
  t.is(base.metrics.ttft_ms?.min, Math.min(...ttfts));
  t.is(base.output_tokens_source, 'mixed'); // index 3 has no usage
  t.is(cand.output_tokens_source, 'usage');
  // index 3, baseline: 7 chunks carrying 1, 2, 2, 2, 2, 2, 2 tokens and no usage → 13 output tokens from the chunk count
  const { collector } = analyzeRecords(goldenRun(), DEFAULT_GATES);
  t.is(collector.arms.get('baseline')?.tokens[3], 13);
  // ok pairs: 30 − {5, 6, 7, 8} = 26; the candidate is 5 ms faster on every one
  t.is(report.comparison.ok_pairs, 26);
  t.is(report.comparison.ttft_improvement_ms.stats?.mean, 5);
  t.is(report.comparison.ttft_improvement_ms.stats?.p99, 5);
  t.deepEqual(report.comparison.ttft_improvement_ms.ci?.mean, { low: 5, high: 5 });
  // similarity: 24 of 26 identical, 2 divergent; A/A: 1 divergent of 29 (baseline 7 failed)
  t.is(report.similarity.baseline_vs_candidate.pairs, 26);
  t.is(report.similarity.baseline_vs_repeat?.pairs, 29);
  t.true((report.similarity.baseline_vs_candidate.consistency as number) <= 24 / 26);
});

test('ITL divides each gap by the tokens the later chunk carried; TPOT uses (E2E − TTFT)/(tokens − 1)', (t) => {
  const records = fixtureRun({ indices: 2, withRepeat: false });
  const r = records.find((x) => x.arm === 'baseline' && x.index === 1) as RequestRecord;
  r.content_ns = [r.content_ns[0] as number, (r.content_ns[0] as number) + 10_000_000, (r.content_ns[0] as number) + 40_000_000];
  r.content_tokens = [1, 1, 3];
  r.usage = { prompt_tokens: 1, completion_tokens: 5, cached_prompt_tokens: null };
  const { report } = analyzeRecords(records, DEFAULT_GATES);
  const base = report.arms.find((a) => a.arm === 'baseline');
  t.deepEqual([base?.metrics.itl_ms?.min, base?.metrics.itl_ms?.max, base?.metrics.itl_ms?.count], [10, 10, 2]);
  t.is(base?.metrics.tpot_ms?.mean, 40 / 4);
});

test('records without token timing: TTFT and ITL are not measured, not zero', (t) => {
  const records = fixtureRun({ indices: 25, withRepeat: false }).map((r) =>
    r.arm === 'candidate' ? { ...r, token_timing: false, source: 'k6-buffered' as const } : r,
  );
  const { report } = analyzeRecords(records, DEFAULT_GATES);
  const cand = report.arms.find((a) => a.arm === 'candidate');
  t.is(cand?.metrics.ttft_ms, null);
  t.is(cand?.metrics.itl_ms, null);
  t.is(cand?.token_timing_missing, 24);
  t.not(cand?.metrics.e2e_ms, null); // E2E from end_ns
  t.is(report.comparison.ttft_improvement_ms.stats, null);
  t.is(report.verdict.decision, 'INVESTIGATE');
  t.true(report.verdict.reasons.some((r) => r.status === 'fail' && /TTFT improvement not measured/.test(r.message)));
});

test('records from several instances of one run merge; the same request twice is an error naming both', (t) => {
  const records = fixtureRun({ indices: 25, withRepeat: false }).map((r) => ({ ...r, instance: `k6-${r.index % 2}` }));
  const { report } = analyzeRecords(records, DEFAULT_GATES);
  t.deepEqual(report.arms.find((a) => a.arm === 'baseline')?.instances, ['k6-0', 'k6-1']);
  const dup = { ...(records[4] as RequestRecord), instance: 'k6-9' };
  const error = t.throws(() => analyzeRecords([...records, dup], DEFAULT_GATES));
  t.regex(
    error.message,
    /duplicate request: baseline #2 of run "fixture-run" appears twice, as record 5 \(instance "k6-0"\) and record 51 \(instance "k6-9"\)/,
  );
});

test('text is kept for pairs.csv only with includeText', async (t) => {
  const dir = writeRun(fixtureRun({ indices: 22, withRepeat: false }));
  await analyzeRunFolder(dir, { quiet: true });
  t.true(readFileSync(join(dir, 'pairs.csv'), 'utf8').split('\n')[0]?.endsWith(',similarity'));
  t.false(readFileSync(join(dir, 'pairs.csv'), 'utf8').includes('alpha'));
  await analyzeRunFolder(dir, { quiet: true, includeText: true });
  const pairs = readFileSync(join(dir, 'pairs.csv'), 'utf8');
  t.true(pairs.split('\n')[0]?.endsWith('baseline_output,candidate_output'));
  t.true(pairs.includes('alpha'));
  rmSync(dir, { recursive: true });
});

test('the folder analysis finds the similarity of the in-memory analysis (parallel read: analysis-read.test.ts)', async (t) => {
  const records = fixtureRun({ indices: 60, divergent: [3, 9, 27, 44], repeatDivergent: [5] });
  const dir = writeRun(records);
  const inline = analyzeRecords(records, DEFAULT_GATES).report;
  const { analyzeFolder } = await import('../pipeline/analyze-folder.ts');
  t.deepEqual((await analyzeFolder(dir)).report.similarity, inline.similarity);
  rmSync(dir, { recursive: true });
});

test('a run with one arm only is analysed: every file written, no delta column, INVESTIGATE naming the missing arm', async (t) => {
  for (const [present, missing] of [
    ['candidate', 'baseline'],
    ['baseline', 'candidate'],
  ] as const) {
    const records = fixtureRun({ indices: 22, withRepeat: false }).filter((r) => r.arm === present);
    const dir = writeRun(records, { v: 1, run_id: records[0]?.run_id, arms: [{ arm: present }], warnings: [] });
    t.deepEqual(await analyzeRunFolder(dir, { quiet: true }), { verdict: 'INVESTIGATE', exitCode: 1 }, present);
    const summary = readFileSync(join(dir, 'summary.csv'), 'utf8');
    t.is(summary.split('\n')[0], `metric,unit,statistic,${present}`);
    t.regex(summary, /^requests,requests,value,21$/m); // 22 minus the fixture's warm-up request
    const report = JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8'));
    t.true(
      report.verdict.reasons.some((r: { message: string }) => r.message.includes(`no "${missing}" records`)),
      present,
    );
    t.false(terminalReport(report).includes('Δ cand − base'));
    for (const name of ANALYZE_FILES) t.true(readFileSync(join(dir, name), 'utf8').length > 0, `${present}: ${name}`);
    rmSync(dir, { recursive: true });
  }
});

test('an interrupted load run is not a valid comparison (INVESTIGATE); a proxy stopped by SIGTERM ended normally', async (t) => {
  const records = fixtureRun({ indices: 22, withRepeat: false });
  const manifest = (engine: string, interrupted: string | null) => ({
    v: 1,
    run_id: records[0]?.run_id,
    engine,
    interrupted,
    arms: [{ arm: 'baseline' }, { arm: 'candidate' }],
    warnings: [],
  });
  const complete = writeRun(records, manifest('node', null));
  const stopped = writeRun(records, manifest('node', 'SIGINT'));
  const proxy = writeRun(records, manifest('proxy', 'SIGTERM'));
  t.is((await analyzeRunFolder(complete, { quiet: true })).verdict, 'PROCEED');
  t.is((await analyzeRunFolder(proxy, { quiet: true })).verdict, 'PROCEED');
  t.deepEqual(await analyzeRunFolder(stopped, { quiet: true }), { verdict: 'INVESTIGATE', exitCode: 1 });
  const report = JSON.parse(readFileSync(join(stopped, 'summary.json'), 'utf8'));
  t.deepEqual(report.validity.problems, [
    'the run is not complete, run.json status "interrupted" (SIGINT): its figures cover only the part that ran',
  ]);
  for (const dir of [complete, stopped, proxy]) rmSync(dir, { recursive: true });
});

test('a candidate answering under another model than asked: a warning in summary.json and the terminal, from run.json', async (t) => {
  const records = fixtureRun({ indices: 22, withRepeat: false });
  // 22 indices, index 0 warm-up: 21 measured ok responses per arm (the count the warning gives).
  for (const r of records) r.model = r.arm === 'baseline' ? 'Llama-3.1-8B-Instruct' : 'Qwen2.5-7B-Instruct';
  const manifest = (candidateModel: string | null) => ({
    v: 1,
    run_id: records[0]?.run_id,
    engine: 'node',
    status: 'complete',
    interrupted: null,
    arms: [
      { arm: 'baseline', model: null },
      { arm: 'candidate', model: candidateModel },
    ],
    workload: { path: '/w.jsonl', format: 'openai', items: 22, models: ['meta-llama/Llama-3.1-8B-Instruct'] },
    warnings: [],
  });
  const sameAsked = writeRun(records, manifest(null));
  await analyzeRunFolder(sameAsked, { quiet: true });
  const report = JSON.parse(readFileSync(join(sameAsked, 'summary.json'), 'utf8'));
  const expected = [
    'candidate: 21 of 21 responses named a model it was not asked for: Qwen2.5-7B-Instruct (21); asked for meta-llama/Llama-3.1-8B-Instruct',
    'baseline and candidate were asked the same model but answered as Llama-3.1-8B-Instruct (21) vs Qwen2.5-7B-Instruct (21)',
  ];
  t.deepEqual(
    report.records.warnings.filter((w: string) => w.includes('model')),
    expected,
  );
  for (const w of expected) t.true(terminalReport(report).includes(w), 'in the terminal report');
  // Asked for it (--candidate-model): no warning.
  const asked = writeRun(records, manifest('Qwen/Qwen2.5-7B-Instruct'));
  await analyzeRunFolder(asked, { quiet: true });
  const fine = JSON.parse(readFileSync(join(asked, 'summary.json'), 'utf8'));
  t.deepEqual(
    fine.records.warnings.filter((w: string) => w.includes('model')),
    [],
  );
  for (const dir of [sameAsked, asked]) rmSync(dir, { recursive: true });
});

test('requests shadowbench cancelled itself are counted but are not server errors: error rate, timeout rate and goodput share leave them out', (t) => {
  const records = fixtureRun({ indices: 40, withRepeat: false });
  const candidate = records.filter((r) => r.arm === 'candidate' && !r.warmup);
  for (const r of candidate.slice(-10)) r.outcome = { kind: 'cancelled', message: 'run stopped (SIGINT) before the response ended' };
  candidate[0]!.outcome = { kind: 'timeout', phase: 'stream', message: 'response not finished within 1 s' };
  const cand = analyzeRecords(records, DEFAULT_GATES).report.arms.find((a) => a.arm === 'candidate')!;
  t.is(cand.outcomes.cancelled, 10);
  const judged = cand.requests - 10;
  t.is(cand.error_rate, 1 / judged);
  t.is(cand.timeout_rate, 1 / judged);
  t.is(cand.outcome_rates.cancelled, 10 / cand.requests, 'the outcome shares still count every request');
  t.is(cand.goodput.share, cand.goodput.requests / judged, 'goodput share: of the requests shadowbench did not cancel');
});

test('when shadowbench cancelled every candidate request, its error and timeout rates are not measured (not 0 %), and the rollback triggers say so', (t) => {
  const records = fixtureRun({ indices: 30, withRepeat: false });
  for (const r of records)
    if (r.arm === 'candidate' && !r.warmup) r.outcome = { kind: 'cancelled', message: 'run stopped at once (second Ctrl-C)' };
  const { report } = analyzeRecords(records, DEFAULT_GATES);
  const cand = report.arms.find((a) => a.arm === 'candidate')!;
  t.is(cand.outcomes.cancelled, cand.requests);
  t.deepEqual([cand.error_rate, cand.timeout_rate, cand.goodput.share], [null, null, null]);
  const reason = (rule: string) => report.verdict.reasons.find((r) => r.rule === rule)!;
  t.deepEqual(reason('rollback.max_candidate_error_rate'), {
    rule: 'rollback.max_candidate_error_rate',
    kind: 'rollback',
    status: 'info',
    message: `candidate error rate not measured: all ${cand.requests} measured candidate requests were cancelled by shadowbench`,
  });
  t.is(reason('rollback.max_candidate_timeout_rate').status, 'info');
  t.is(report.verdict.decision, 'INVESTIGATE', 'no ok pair');
  t.regex(summaryCsv(report), /^error_rate,fraction,value,0,,$/m, 'the baseline measured at 0; the candidate and the delta empty');
  t.regex(terminalReport(report), /^Error rate +0\.00 % +— +— *$/m);
});

test('analyze removes junit.xml and summary.md of an earlier gate run, which may contradict the new analysis', async (t) => {
  const dir = writeRun(fixtureRun({ indices: 22, withRepeat: false }));
  for (const name of GATE_FILES) writeFileSync(join(dir, name), 'from an earlier gate run');
  await analyzeRunFolder(dir, { quiet: true });
  for (const name of GATE_FILES) t.false(existsSync(join(dir, name)), name);
  rmSync(dir, { recursive: true });
});

test('pairs.csv fields are quoted exactly as csv-stringify quotes them (with quote_record_delimiter: a lone carriage return too)', (t) => {
  const alphabet = ['a', ',', '"', '\n', '\r', ' ', '\t', '=', '-', 'é', '😀', ';', "'"];
  const random = seededRandom(7);
  const samples = [
    '',
    ' ',
    ' a ',
    'a,b',
    'a"b',
    '"',
    '\r',
    'x\r\ny',
    '=1+2',
    '-0',
    ...Array.from({ length: 2000 }, () =>
      Array.from({ length: 1 + Math.floor(random() * 6) }, () => alphabet[Math.floor(random() * alphabet.length)]).join(''),
    ),
  ];
  const opts = { record_delimiter: 'unix', quote_record_delimiter: true } as const;
  for (const text of samples) t.is(`${csvField(text)},x\n`, stringify([[text, 'x']], opts), JSON.stringify(text));
  // pairs.csv writes a missing item id or text as '' (csv-stringify writes null and undefined so),
  // and numbers through csvNumber, whose cells never need quoting.
  for (const missing of [null, undefined]) t.is(`${csvField(missing ?? '')},x\n`, stringify([[missing, 'x']], opts));
  for (const v of [-0, Number.NaN, 1e21, -1e21, 1e-7, -1e-7, Infinity, -Infinity, 0.1 + 0.2, 2 ** 53 + 2, -12.3456789]) {
    t.is(`${csvField(csvNumber(v))},x\n`, stringify([[csvNumber(v), 'x']], opts), String(v));
    t.is(csvField(csvNumber(v)), csvNumber(v), `${v}: not quoted`);
  }
});

/** RFC 4180 as spreadsheet readers take it: a bare CR, LF or CRLF outside quotes ends a record. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (quoted) {
      if (c !== '"') field += c;
      else if (text[i + 1] === '"') {
        field += '"';
        i++;
      } else quoted = false;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(field);
      field = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      rows.push([...row, field]);
      row = [];
      field = '';
    } else field += c;
  }
  return rows;
}

test('pairs.csv reads back: item ids and output texts with commas, quotes, line breaks and edge spaces come back exactly; unmeasured cells are empty', (t) => {
  const odd = ['', ' lead', 'trail ', 'a,b', 'say "hi"', 'two\nlines', 'bare\rcr', 'crlf\r\nend', '=1+2', '-0', '\t', 'é😀'];
  const records = fixtureRun({ indices: odd.length + 2, withRepeat: false }).filter(
    (r) => !(r.arm === 'candidate' && r.index === odd.length + 1),
  );
  for (const r of records) {
    if (r.index === 0 || r.index > odd.length) continue;
    r.item_id = odd[r.index - 1] as string;
    r.output_text = `${r.arm}: ${odd[odd.length - r.index]}`;
  }
  const { collector } = analyzeRecords(records, DEFAULT_GATES, { keepText: true });
  const [header, ...rows] = parseCsv(pairsCsv(collector));
  if (header === undefined) return t.fail('no header');
  const col = (name: string) => header.indexOf(name);
  t.is(rows.length, odd.length + 1, 'one row per measured index (index 0 is warm-up)');
  for (const row of rows) t.is(row.length, header.length, `row ${row[0]}: every field in place`);
  for (let i = 1; i <= odd.length; i++) {
    const row = rows[i - 1] as string[];
    t.is(row[col('index')], String(i));
    t.is(row[col('item_id')], odd[i - 1], `index ${i}: item id`);
    t.is(row[col('baseline_output')], `baseline: ${odd[odd.length - i]}`);
    t.is(row[col('candidate_output')], `candidate: ${odd[odd.length - i]}`);
  }
  const onlyBaseline = rows[odd.length] as string[];
  t.deepEqual(
    ['candidate_outcome', 'candidate_ttft_ms', 'ttft_improvement_ms', 'candidate_output_tokens', 'similarity', 'candidate_output'].map(
      (name) => onlyBaseline[col(name)],
    ),
    ['', '', '', '', '', ''],
    'no candidate record: its cells are empty',
  );
  t.is(onlyBaseline[col('baseline_outcome')], 'ok');
});

test('a folder without run.json is analysed (A/A texts kept until the end)', async (t) => {
  const dir = writeRun(fixtureRun({ indices: 22, withRepeat: false }), null);
  const result = await analyzeRunFolder(dir, { quiet: true });
  t.is(result.verdict, 'PROCEED');
  rmSync(dir, { recursive: true });
});
