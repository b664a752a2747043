// Planned vs recorded for k6 (k6/script/summary.ts, k6/collect.ts): each instance reports per arm
// the iterations that were due (started + dropped) in its summary line; the converter sums them
// over instances, and warns about dropped iterations only when there were some.
import test from 'ava';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { perArmCounterThresholds, summaryFacts, summaryText, SUMMARY_KEY, type K6SummaryData } from '../k6/script/summary.ts';
import { convertK6Console, k6Warnings, plannedIterations } from '../k6/collect.ts';

// The shape k6 gives handleSummary for submetrics that a threshold names
// (https://grafana.com/docs/k6/latest/results-output/end-of-test/custom-summary/).
const data = (counts: Record<string, number>): K6SummaryData => ({
  metrics: Object.fromEntries(
    Object.entries(counts).map(([k, count]) => [k, { values: { count }, thresholds: { 'count>=0': { ok: true } } }]),
  ),
});

test('per-arm counters are thresholds (so k6 keeps them), and planned = started + dropped', (t) => {
  t.deepEqual(Object.keys(perArmCounterThresholds(['baseline'])).sort(), [
    'dropped_iterations{scenario:baseline}',
    'iterations{scenario:baseline}',
    'request_started{scenario:baseline}',
  ]);
  // Baseline overloaded: 18 started (16 completed, 2 interrupted at gracefulStop), 42 dropped.
  const facts = summaryFacts(
    data({
      'iterations{scenario:baseline}': 16,
      'dropped_iterations{scenario:baseline}': 42,
      'request_started{scenario:baseline}': 18,
      'iterations{scenario:candidate}': 60,
      'request_started{scenario:candidate}': 60,
    }),
    'run',
    'a',
    ['baseline', 'candidate'],
    {},
  );
  t.deepEqual(facts.planned, { baseline: 60, candidate: 60 });
  t.deepEqual(facts.dropped_iterations, { baseline: 42, candidate: 0 });
  t.regex(summaryText(facts), /baseline: 60 planned, 16 completed, 42 dropped/);
});

test('an instance running the whole test plans at least the plan total: iterations k6 never started nor dropped still count', (t) => {
  // Real k6 v1.3.0 starved of CPU (50 pairs/s, 2 cores, load average ~11): the scenario ended with
  // 185 of 200 baseline iterations started and 0 dropped; the last 15 indices were never sent.
  const counts = {
    'iterations{scenario:baseline}': 185,
    'request_started{scenario:baseline}': 185,
    'iterations{scenario:candidate}': 200,
    'request_started{scenario:candidate}': 200,
  };
  const whole = summaryFacts(data(counts), 'run', '', ['baseline', 'candidate'], {}, 200);
  t.deepEqual(whole.planned, { baseline: 200, candidate: 200 });
  t.deepEqual(whole.dropped_iterations, { baseline: 0, candidate: 0 });
  // A segment's share of the plan is not known to the instance: started + dropped, as before.
  t.deepEqual(summaryFacts(data(counts), 'run', '0:1/2', ['baseline', 'candidate'], {}).planned, { baseline: 185, candidate: 200 });
});

test('the converter sums planned per arm over instances and warns about drops only when some dropped', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sb-k6-summary-'));
  const line = (instance: string, dropped: number, started: number) =>
    JSON.stringify({
      [SUMMARY_KEY]: {
        v: 1,
        run_id: 'r',
        instance,
        dropped_iterations: { baseline: dropped, candidate: 0 },
        iterations: { baseline: started, candidate: started },
        planned: { baseline: started + dropped, candidate: started },
        thresholds: [],
      },
    }) + '\n';
  const a = join(dir, 'a.log');
  const b = join(dir, 'b.log');
  writeFileSync(a, line('0:1/2', 0, 5));
  writeFileSync(b, line('1/2:1', 0, 4));
  const clean = await convertK6Console([a, b], join(dir, 'clean.jsonl'));
  t.deepEqual(clean.planned, { baseline: 9, candidate: 9 });
  t.false(
    k6Warnings(clean).some((w) => w.startsWith('dropped_iterations')),
    'no drop, no warning',
  );

  writeFileSync(b, line('1/2:1', 3, 1));
  const dropped = await convertK6Console([a, b], join(dir, 'dropped.jsonl'));
  t.deepEqual(dropped.planned, { baseline: 9, candidate: 6 });
  t.true(k6Warnings(dropped).some((w) => w.startsWith('dropped_iterations: 3 (baseline 3, candidate 0)')));

  // A summary from an older script (no planned): unknown, not a guess.
  t.is(plannedIterations([{ v: 1, run_id: 'r', instance: '', dropped_iterations: {}, iterations: {}, thresholds: [] }]), null);
  t.is(plannedIterations([]), null);
});
