import test from 'ava';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serializeRecord, type RequestRecord } from '../core/record.ts';
import { DEFAULT_GATES, GatesError, parseGates } from '../analysis/gates.ts';
import { analyzeRunFolder, droppedIterations, interruptedReason } from '../pipeline/analyze-folder.ts';
import { UsageError } from '../core/options.ts';
import { RunManifestError, validateRunManifest } from '../core/run.ts';
import { fixtureRun } from './fixtures/analysis/build-run.ts';
import { runCli } from './support/run-cli.ts';

function folder(lines: string[], manifest?: object): string {
  const dir = mkdtempSync(join(tmpdir(), 'sb-gate-'));
  writeFileSync(join(dir, 'records.jsonl'), lines.join(''));
  if (manifest) writeFileSync(join(dir, 'run.json'), JSON.stringify(manifest));
  return dir;
}
const jsonl = (records: RequestRecord[]) => records.map((r) => serializeRecord(r) + '\n');

const gate = (args: string[]) => runCli(['gate', ...args]);

/** A complete run's run.json for the fixture records. */
const complete = (records: RequestRecord[]) => ({
  v: 1,
  run_id: records[0]?.run_id,
  engine: 'node',
  status: 'complete',
  interrupted: null,
  arms: [{ arm: 'baseline' }, { arm: 'candidate' }],
  warnings: [],
});

test('gate exits 0 for PROCEED, 1 for INVESTIGATE, 2 for a bad folder or gates file', async (t) => {
  const good = folder(jsonl(fixtureRun({ withRepeat: false })), complete(fixtureRun({ withRepeat: false })));
  const bad = folder(jsonl(fixtureRun({ withRepeat: false, candidateTtftShiftMs: 5 })));
  const gatesFile = join(good, 'gates.yaml');
  writeFileSync(gatesFile, 'proceed:\n  min_consistency: 2\n');
  const [proceed, investigate, missing, badGates] = await Promise.all([
    gate([good]),
    gate([bad]),
    gate([join(good, 'nope')]),
    gate([good, '--gates', gatesFile]),
  ]);
  t.is(proceed.code, 0, proceed.stderr);
  t.regex(proceed.stdout, /VERDICT: PROCEED/);
  t.is(investigate.code, 1);
  t.regex(investigate.stdout, /VERDICT: INVESTIGATE/);
  t.is(missing.code, 2);
  t.regex(missing.stderr, /nope: no such run folder/);
  t.is(badGates.code, 2);
  t.regex(badGates.stderr, /--gates \S*gates\.yaml: proceed\.min_consistency: got 2; expected a number from 0 to 1/);
  rmSync(good, { recursive: true });
  rmSync(bad, { recursive: true });
});

test('bad inputs give clear messages (UsageError, exit 2)', async (t) => {
  const records = jsonl(fixtureRun({ withRepeat: false, indices: 22 }));
  const cases: Array<[string, string[], RegExp, object?]> = [
    ['empty records', [], /records\.jsonl: no records/],
    [
      'unknown schema version',
      [records[0] as string, (records[1] as string).replace(/^\{"v":[12],/, '{"v":7,')],
      /records\.jsonl:2: unknown record schema version 7 \(this build reads versions 1 and 2\)/,
    ],
    [
      'two runs',
      [records[0] as string, (records[1] as string).replace('"run_id":"fixture-run"', '"run_id":"other-run"')],
      /records from two different runs: "fixture-run" .* and "other-run" \(record 2, candidate #0\)/,
    ],
    [
      'run.json from another run',
      records,
      /run\.json: run_id "elsewhere" does not match the records' run_id "fixture-run"/,
      { v: 1, run_id: 'elsewhere', arms: [{ arm: 'baseline' }, { arm: 'candidate' }], warnings: [], status: 'complete' },
    ],
  ];
  for (const [name, lines, message, manifest] of cases) {
    const dir = folder(lines, manifest);
    const error = await t.throwsAsync(analyzeRunFolder(dir, { quiet: true }), { instanceOf: UsageError }, name);
    t.regex(error?.message ?? '', message, name);
    rmSync(dir, { recursive: true });
  }
  const noRecords = mkdtempSync(join(tmpdir(), 'sb-gate-'));
  await t.throwsAsync(analyzeRunFolder(noRecords, { quiet: true }), { instanceOf: UsageError, message: /records\.jsonl: missing/ });
  rmSync(noRecords, { recursive: true });
});

test('a folder without run.json never passes the gate (INVESTIGATE, exit 1) unless --allow-incomplete; analyze only warns', async (t) => {
  const records = fixtureRun({ withRepeat: false });
  const bare = folder(jsonl(records));
  const withManifest = folder(jsonl(records), complete(records));
  // One at a time on `bare`: each writes its summary.json.
  const [refused, whole] = await Promise.all([gate([bare, '--quiet']), gate([withManifest, '--quiet'])]);
  t.is(whole.code, 0, `the same records with a complete run.json pass: ${whole.stderr}`);
  t.is(refused.code, 1, refused.stderr);
  t.regex(refused.stderr, /gate: INVESTIGATE \(exit 1\)/);
  const summary = JSON.parse(readFileSync(join(bare, 'summary.json'), 'utf8'));
  t.deepEqual(summary.validity.problems, [
    'no run.json: the run cannot be known to be complete (an interrupted or killed run never passes a gate); gate the whole run folder, or pass --allow-incomplete',
  ]);
  t.regex(readFileSync(join(bare, 'junit.xml'), 'utf8'), /no run\.json: the run cannot be known to be complete/);
  const allowed = await gate([bare, '--quiet', '--allow-incomplete']);
  t.is(allowed.code, 0, allowed.stderr);
  // analyze is not a gate: the same folder is analysed with a warning only.
  t.is((await analyzeRunFolder(bare, { quiet: true })).verdict, 'PROCEED');
  const analysed = JSON.parse(readFileSync(join(bare, 'summary.json'), 'utf8'));
  t.true(analysed.validity.valid);
  t.regex(analysed.records.warnings.join('\n'), /no run\.json: the run status and plan are unknown/);
  for (const dir of [bare, withManifest]) rmSync(dir, { recursive: true });
});

test('a truncated last line is reported and the rest is analysed', async (t) => {
  const records = jsonl(fixtureRun({ withRepeat: false }));
  const last = records.pop() as string;
  const dir = folder([...records, last.slice(0, 40)]);
  const result = await analyzeRunFolder(dir, { quiet: true });
  t.is(result.verdict, 'PROCEED');
  const summary = JSON.parse((await import('node:fs')).readFileSync(join(dir, 'summary.json'), 'utf8'));
  t.regex(summary.records.warnings.join(), /records\.jsonl:62: last line is incomplete/);
  rmSync(dir, { recursive: true });
});

test('parseGates: JSON or YAML over the defaults; unknown keys and wrong types name the key', (t) => {
  t.deepEqual(parseGates('', 'g.yaml'), DEFAULT_GATES);
  const yaml = parseGates('version: 1\nrollback:\n  max_ttft_p99_ratio: 1.5\nslo:\n  enforce: true\n', 'g.yaml');
  t.is(yaml.rollback.max_ttft_p99_ratio, 1.5);
  t.true(yaml.slo.enforce);
  t.is(yaml.proceed.min_consistency, 0.95);
  t.is(parseGates('{"bootstrap": {"resamples": 200, "seed": 9}}', 'g.json').bootstrap.resamples, 200);
  const bad: Array<[string, RegExp]> = [
    [
      'proceed:\n  min_consistancy: 0.9\n',
      /g: proceed\.min_consistancy: unknown key; accepted in proceed: min_mean_ttft_improvement_ms, min_consistency, similarity_threshold, aa_tolerance/,
    ],
    [
      'regressions:\n  max: 1\n',
      /g: unknown section "regressions"; accepted: version, proceed, rollback, slo, validity, bootstrap, regression/,
    ],
    ['slo:\n  ttft_p99_ms: fast\n', /g: slo\.ttft_p99_ms: got "fast"; expected a number ≥ 0/],
    ['validity:\n  min_ok_pairs: 2.5\n', /g: validity\.min_ok_pairs: got 2\.5; expected an integer ≥ 1/],
    ['slo:\n  enforce: 1\n', /g: slo\.enforce: got 1; expected true or false/],
    ['version: 2\n', /g: version: got 2; this build reads gates version 1/],
    ['- a\n- b\n', /g: expected a mapping of sections/],
    ['proceed: [\n', /g: not valid JSON or YAML/],
  ];
  for (const [text, message] of bad) t.throws(() => parseGates(text, 'g'), { instanceOf: GatesError, message });
});

test('dropped iterations are read from run.json (counter field or a warnings entry)', (t) => {
  t.is(droppedIterations({ warnings: [] }), null);
  t.is(droppedIterations({ dropped_iterations: 5 }), 5);
  t.is(droppedIterations({ warnings: ['event loop busy', 'dropped_iterations: 42 (k6 could not keep up)'] }), 42);
  t.is(droppedIterations({ warnings: ['dropped_iterations seen'] }), 1);
});

test('an incomplete run is one whose run.json status is not complete; a proxy ends by being stopped', (t) => {
  const m = (fields: object) => validateRunManifest({ v: 1, run_id: 'r', arms: [{ arm: 'baseline' }], ...fields });
  t.is(interruptedReason(m({ engine: 'node', status: 'interrupted', interrupted: 'SIGTERM' })), 'status "interrupted" (SIGTERM)');
  t.is(interruptedReason(m({ engine: 'k6', status: 'failed', error: 'k6 exit 107' })), 'status "failed" (k6 exit 107)');
  t.regex(
    interruptedReason(m({ engine: 'node', status: 'running', ended_at: null })) ?? '',
    /^status "running": .*kill -9.*analysed as interrupted/,
  );
  t.is(
    interruptedReason(m({ interrupted: 'error in sender w0' })),
    'status "interrupted" (error in sender w0)',
    'an older run.json without status',
  );
  t.regex(
    interruptedReason(m({ engine: 'node', ended_at: null, interrupted: null })) ?? '',
    /^status "running"/,
    'an older run.json killed mid-run',
  );
  t.is(interruptedReason(m({ engine: 'proxy', status: 'complete', interrupted: 'SIGTERM' })), null);
  t.is(interruptedReason(m({ engine: 'node', status: 'complete', interrupted: null })), null);
  t.is(interruptedReason(m({ engine: 'node', interrupted: '' })), null, 'no reason given is not a reason');
  t.is(interruptedReason(m({ engine: 'node' })), null, 'a hand-made run.json without times');
  t.is(interruptedReason(null), null, 'no run.json');
});

test('run.json is validated on read: an error names the field', (t) => {
  const bad: Array<[object, RegExp]> = [
    [{ interrupted: 7, arms: 5 }, /^v: expected 1/],
    [{ v: 1, run_id: 'r', arms: 5 }, /^arms: expected an array of arms, got 5/],
    [{ v: 1, run_id: 'r', arms: [{}] }, /^arms\[0\]\.arm: expected an arm name/],
    [{ v: 1, run_id: 'r', arms: [], interrupted: 7 }, /^interrupted: expected a reason or null, got 7/],
    [{ v: 1, run_id: 'r', arms: [], status: 'done' }, /^status: expected running, complete, interrupted, failed, got "done"/],
    [{ v: 1, run_id: 'r', arms: [], planned: { baseline: -1 } }, /^planned: expected an object of arm → planned request count/],
    [{ v: 1, run_id: '', arms: [] }, /^run_id: expected a non-empty string/],
  ];
  for (const [value, message] of bad) t.throws(() => validateRunManifest(value), { instanceOf: RunManifestError, message });
});
