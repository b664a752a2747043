// Output comparison of structured outputs (record v2) at the analysis level: per-pair consistency by
// part (answer, tool name, tool arguments, finish reason; reasoning reported apart), the verdict's
// breakdown, time to first answer token, and the divergence explorer's worst pairs (bounded, the same
// whatever the number of read threads) with divergence.csv (golden).
import test from 'ava';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serializeRecord, type RequestRecord } from '../core/record.ts';
import { analyzeRecords } from '../analysis/analyze.ts';
import { comparePair, toolArgumentsScore, TOOLS_ARGUMENTS, TOOLS_MATCH, TOOLS_NAME } from '../analysis/compare.ts';
import { DEFAULT_GATES, GatesError, parseGates, type Gates } from '../analysis/gates.ts';
import { readRecordsFile } from '../pipeline/parallel-read.ts';
import { analyzeRunFolder } from '../pipeline/analyze-folder.ts';
import { divergenceCsv, divergenceRows, firstDivergence, promptExcerpt } from '../report/divergence.ts';
import { call, fixtureRun, outputsFixture } from './fixtures/analysis/build-run.ts';
import { parseTraceJsonl } from '../core/workload/trace.ts';

const GOLDEN = new URL('./golden/report/', import.meta.url);
const update = process.env.UPDATE_GOLDEN === '1';
const gates = (patch: (g: Gates) => void = () => {}): Gates => {
  const g = structuredClone(DEFAULT_GATES);
  patch(g);
  return g;
};
const reason = (report: ReturnType<typeof analyzeRecords>['report'], rule: string) => report.verdict.reasons.find((r) => r.rule === rule);

test('tool arguments are compared per string argument: Paris against London scores 0 (the whole JSON strings would score 0.67)', (t) => {
  const paris = call('get_weather', { city: 'Paris' });
  const london = call('get_weather', { city: 'London' });
  t.is(toolArgumentsScore(paris, london), 0);
  t.is(toolArgumentsScore(paris, paris), 1);
  // a number that differs is a mismatch whatever the strings; a different key set too
  t.is(toolArgumentsScore(call('f', { n: 1, q: 'a' }), call('f', { n: 2, q: 'a' })), 0);
  t.is(toolArgumentsScore(call('f', { a: 'x' }), call('f', { b: 'x' })), 0);
  // free text that drifts a little stays similar
  const s = toolArgumentsScore(call('f', { q: 'weather in paris' }), call('f', { q: 'weather in Paris' }));
  t.true(s > 0.9 && s < 1, String(s));
  // invalid JSON on both sides: the raw texts' ratio
  t.is(
    toolArgumentsScore(
      { name: 'f', arguments: '{"a": ', arguments_json: false },
      { name: 'f', arguments: '{"a": ', arguments_json: false },
    ),
    1,
  );
  const parts = (calls: ReturnType<typeof call>[], finish = 'tool_calls') => ({ answer: '', reasoning: '', toolCalls: calls, finish });
  t.is(comparePair(parts([paris]), parts([paris])).tools, TOOLS_MATCH);
  t.is(comparePair(parts([paris]), parts([london])).tools, TOOLS_ARGUMENTS);
  t.is(comparePair(parts([paris]), parts([paris, london])).tools, TOOLS_NAME);
  t.is(comparePair(parts([paris]), parts([call('get_time', { city: 'Paris' })])).tools, TOOLS_NAME);
  // tool-call-only answers are empty on both sides: answer ratio 1, no reasoning to compare
  const r = comparePair(parts([paris]), parts([london], 'stop'));
  t.is(r.answer, 1);
  t.true(Number.isNaN(r.reasoning));
  t.is(r.finish, 2);
});

test('Paris/London: the pair is inconsistent with the reason "tool arguments"; tool name and finish reason are named too, with counts', (t) => {
  const { report } = analyzeRecords(outputsFixture(), DEFAULT_GATES);
  const sim = report.similarity.baseline_vs_candidate;
  t.is(sim.pairs, 24);
  // 2, 3: tool arguments (and their finish reasons agree); 4: tool name; 5: finish reason. 8 is similar enough.
  t.deepEqual(sim.inconsistent, { pairs: 4, text: 0, tool_name: 1, tool_arguments: 2, finish_reason: 1, reasoning: 0 });
  t.is(sim.answer_consistency, 1, 'every answer is the same: the old text-only figure would have said 100 %');
  t.is(sim.consistency, 20 / 24);
  t.deepEqual(sim.tool_calls.pairs_with_tools, 4);
  t.is(sim.tool_calls.arguments_differ, 3);
  t.is(sim.tool_calls.argument_mismatch, 2);
  t.deepEqual(sim.finish_reason, { mismatch: 1, table: { 'stop→length': 1 } });
  const rule = reason(report, 'proceed.min_consistency');
  t.is(rule?.status, 'fail');
  t.regex(
    rule?.message ?? '',
    /output consistency 83\.333 % ≤ 95 %: 4 of 24 pairs inconsistent — tool name 1, tool arguments 2, finish reason 1/,
  );
  t.is(report.verdict.decision, 'INVESTIGATE');
});

test('gates: tool_arguments exact rejects a query that only changed case; finish_reason false stops gating on it', (t) => {
  const exact = analyzeRecords(
    outputsFixture(),
    gates((g) => (g.consistency.tool_arguments = 'exact')),
  ).report;
  t.is(exact.similarity.baseline_vs_candidate.inconsistent.tool_arguments, 3);
  const noFinish = analyzeRecords(
    outputsFixture(),
    gates((g) => (g.consistency.finish_reason = false)),
  ).report;
  t.is(noFinish.similarity.baseline_vs_candidate.inconsistent.finish_reason, 0);
  t.is(noFinish.similarity.baseline_vs_candidate.finish_reason.mismatch, 1, 'still reported');
  t.deepEqual(
    parseGates(
      'consistency: { tool_arguments: exact, finish_reason: false, reasoning_threshold: 0.8, min_reasoning_consistency: null }',
      'g',
    ).consistency,
    { tool_arguments: 'exact', finish_reason: false, reasoning_threshold: 0.8, min_reasoning_consistency: null },
  );
  const bad = (text: string, message: RegExp) => t.throws(() => parseGates(text, 'g.yaml'), { instanceOf: GatesError, message });
  bad('consistency: { tool_arguments: fuzzy }', /^g\.yaml: consistency\.tool_arguments: got "fuzzy"; expected one of exact, similar$/);
  bad('consistency: { reasoning_threshold: 2 }', /expected a number from 0 to 1, or null$/);
  bad('consistency: { finish_reason: null }', /consistency\.finish_reason: got null; expected true or false$/);
});

test('reasoning-only differences are reported but do not fail the default verdict; they gate only when configured', (t) => {
  // Only 6 and 7 differ, in their reasoning: every other output is the same on both arms.
  const onlyReasoning = (r: RequestRecord) => {
    if (r.index !== 6 && r.index !== 7 && r.arm === 'candidate') {
      r.tool_calls = [];
      r.finish_reason = 'stop';
    }
  };
  const records = () => outputsFixture({ indices: 30, output: onlyReasoning }).filter((r) => ![2, 3, 4, 5, 8].includes(r.index));
  const { report } = analyzeRecords(records(), DEFAULT_GATES);
  const sim = report.similarity.baseline_vs_candidate;
  t.is(sim.consistency, 1);
  t.is(sim.reasoning?.pairs, 2);
  t.true((sim.reasoning?.ratio?.mean ?? 1) < 0.9);
  const info = reason(report, 'consistency.min_reasoning_consistency');
  t.is(info?.status, 'info');
  t.regex(info?.message ?? '', /reasoning similarity 0\.\d+ mean over 2 pairs, 0 % of them ≥ 0\.9: reported only/);
  t.is(report.verdict.decision, 'PROCEED');

  const strict = analyzeRecords(
    records(),
    gates((g) => {
      g.consistency.reasoning_threshold = 0.9;
      g.consistency.min_reasoning_consistency = 0.95;
    }),
  ).report;
  t.is(strict.similarity.baseline_vs_candidate.inconsistent.reasoning, 2);
  t.is(reason(strict, 'consistency.min_reasoning_consistency')?.status, 'fail');
  t.regex(reason(strict, 'proceed.min_consistency')?.message ?? '', /2 of 24 pairs inconsistent — reasoning 2/);
  t.is(strict.verdict.decision, 'INVESTIGATE');
});

test('time to first answer token: per arm where reasoning precedes it, null (with TTFT alone) otherwise', (t) => {
  const { report } = analyzeRecords(outputsFixture(), DEFAULT_GATES);
  const base = report.arms.find((a) => a.arm === 'baseline');
  t.is(base?.reasoning_requests, 2);
  t.is(base?.tool_call_requests, 4);
  // 2 reasoning responses answer 30 ms after their first token; the 20 plain ones at their TTFT; tool-only ones have no answer
  t.is(base?.metrics.ttfa_ms?.count, 20);
  t.is((base?.metrics.ttfa_ms?.max ?? 0) - 30 <= (base?.metrics.ttft_ms?.max ?? 0), true);
  t.true(report.notes.some((n) => /baseline: 2 responses reasoned before answering/.test(n)));
  const plain = analyzeRecords(fixtureRun({ indices: 22, withRepeat: false }), DEFAULT_GATES).report;
  t.is(plain.arms[0]?.metrics.ttfa_ms, null);
  // tool-call-only responses keep their TTFT and E2E and their pair is compared
  t.is(report.comparison.ok_pairs, 24);
});

test('worst pairs: bounded per kind, the same for any number of read threads, the A/A repeat beside each whatever the arm order', async (t) => {
  // 90 indices, outputs diverging in many ways, records shuffled so pairs span byte ranges.
  const records = fixtureRun({
    indices: 90,
    divergent: Array.from({ length: 40 }, (_, k) => 2 * k + 3),
    repeatDivergent: [5, 9],
    output: (r) => {
      if (r.index % 7 === 0) {
        r.output_text = '';
        r.tool_calls = [call('get_weather', { city: r.arm === 'candidate' && r.index % 2 === 0 ? `City ${r.index}` : 'Paris' })];
        r.finish_reason = 'tool_calls';
      }
      if (r.index % 11 === 0 && r.arm === 'candidate') r.finish_reason = 'length';
    },
  });
  let seed = 7;
  for (let i = records.length - 1; i > 0; i--) {
    seed = (seed * 1103515245 + 12345) >>> 0;
    const j = Math.max(0, i - (seed % 50));
    [records[i], records[j]] = [records[j] as RequestRecord, records[i] as RequestRecord];
  }
  const dir = mkdtempSync(join(tmpdir(), 'sb-div-'));
  const file = join(dir, 'records.jsonl');
  writeFileSync(file, records.map((r) => serializeRecord(r) + '\n').join(''));
  const states = [];
  for (const threads of [1, 2, 3, 7]) {
    const { collector } = await readRecordsFile(file, {
      expectRepeat: true,
      keepText: false,
      threads,
      parallelBytes: 0,
      divergencePairs: 5,
    });
    states.push(JSON.stringify(collector.divergence.state()));
  }
  for (const s of states.slice(1)) t.is(s, states[0] as string);
  const state = JSON.parse(states[0] as string) as ReturnType<import('../analysis/divergence-sample.ts').DivergenceSampler['state']>;
  t.is(state.text.length, 5);
  t.deepEqual(
    state.text.map((s) => s.index),
    [...state.text].sort((a, b) => a.result.answer - b.result.answer || a.index - b.index).map((s) => s.index),
    'worst first',
  );
  t.true(state.tool_arguments.length > 0 && state.finish_reason.length > 0);
  for (const list of Object.values(state)) for (const s of list) t.not(s.repeat, null, `repeat beside #${s.index}`);
  rmSync(dir, { recursive: true });
});

test('first divergence: words before it and its character in the baseline text', (t) => {
  t.deepEqual(firstDivergence('the cat sat', 'the car sat'), { word: 1, char: 4 });
  t.deepEqual(firstDivergence('Paris.', 'London.'), { word: 0, char: 0 });
  t.is(firstDivergence('same', 'same'), null);
  t.is(
    promptExcerpt({
      messages: [{ role: 'user', content: 'What is the weather?' }],
      tools: [{ type: 'function', function: { name: 'get_weather' } }],
    }),
    'What is the weather?\n[tools: get_weather]',
  );
});

test('golden: divergence.csv of the structured-outputs run (prompts from the workload named in run.json)', async (t) => {
  const records = outputsFixture();
  const dir = mkdtempSync(join(tmpdir(), 'sb-div-'));
  writeFileSync(join(dir, 'records.jsonl'), records.map((r) => serializeRecord(r) + '\n').join(''));
  const items = Array.from({ length: 7 }, (_, k) =>
    JSON.stringify({
      id: `item-${k}`,
      body: {
        messages: [{ role: 'user', content: `Question ${k}, with "quotes", commas` }],
        ...(k === 2 ? { tools: [{ type: 'function', function: { name: 'get_weather', parameters: {} } }] } : {}),
      },
    }),
  );
  writeFileSync(join(dir, 'workload.jsonl'), items.join('\n') + '\n');
  writeFileSync(
    join(dir, 'run.json'),
    JSON.stringify({
      v: 1,
      run_id: records[0]?.run_id,
      arms: [{ arm: 'baseline' }, { arm: 'candidate' }],
      warnings: [],
      workload: { path: 'workload.jsonl', format: 'openai', items: 7 },
    }),
  );
  t.deepEqual(await analyzeRunFolder(dir, { quiet: true }), { verdict: 'INVESTIGATE', exitCode: 1 });
  const got = readFileSync(join(dir, 'divergence.csv'), 'utf8');
  if (update) writeFileSync(new URL('divergence.csv', GOLDEN), got);
  t.is(got, readFileSync(new URL('divergence.csv', GOLDEN), 'utf8'));
  // Without the workload, the rows are the same with the item id in place of the prompt.
  const { report, collector } = analyzeRecords(records, DEFAULT_GATES);
  const bare = divergenceCsv(divergenceRows(collector, report, { prompts: null, missing: 'no workload' }));
  t.is(bare.split('\n')[0], got.split('\n')[0]);
  t.regex(bare, /prompt not available: no workload \(item item-2\)/);
  rmSync(dir, { recursive: true });
});

test('divergence prompts from a trace workload: streamed (pipeline/analyze-folder.ts promptLookup), the same excerpt as the eager parse', async (t) => {
  const records = outputsFixture();
  const dir = mkdtempSync(join(tmpdir(), 'sb-div-trace-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'records.jsonl'), records.map((r) => serializeRecord(r) + '\n').join(''));
  // A trace whose lines carry the records' item ids (trace lines may name their id).
  const text = Array.from({ length: 7 }, (_, k) =>
    JSON.stringify({ id: `item-${k}`, timestamp: k * 100, input_length: 600 + k, output_length: 20, hash_ids: [0, k + 1] }),
  ).join('\n');
  const path = join(dir, 'trace.jsonl');
  writeFileSync(path, text + '\n');
  writeFileSync(
    join(dir, 'run.json'),
    JSON.stringify({
      v: 1,
      run_id: records[0]?.run_id,
      seed: 5,
      arms: [{ arm: 'baseline' }, { arm: 'candidate' }],
      warnings: [],
      workload: { path, format: 'trace', items: 7 },
    }),
  );
  t.deepEqual(await analyzeRunFolder(dir, { quiet: true }), { verdict: 'INVESTIGATE', exitCode: 1 });
  const got = readFileSync(join(dir, 'divergence.csv'), 'utf8');
  const eager = parseTraceJsonl(text, { file: path, seed: 5 });
  const excerpt = promptExcerpt(eager.find((i) => i.id === 'item-2')!.body);
  t.true(excerpt.length > 100);
  t.true(got.includes(excerpt), 'item-2 shows its synthesised prompt');
  t.notRegex(got, /prompt not available/);
});
