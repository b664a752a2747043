import test from 'ava';
import { readFileSync, writeFileSync } from 'node:fs';
import { analyzeRecords } from '../analysis/analyze.ts';
import { DEFAULT_GATES, type Gates } from '../analysis/gates.ts';
import { junitXml, xmlEscape } from '../report/junit.ts';
import { compareRuns, regressionSamples } from '../analysis/regression.ts';
import { summaryMarkdown } from '../report/summary-md.ts';
import { fixtureRun, goldenRun } from './fixtures/analysis/build-run.ts';

const GOLDEN = new URL('golden/report/', import.meta.url);
const update = process.env.UPDATE_GOLDEN === '1';
const gates: Gates = { ...DEFAULT_GATES, bootstrap: { ...DEFAULT_GATES.bootstrap, resamples: 200 } };

function golden(t: import('ava').ExecutionContext, name: string, got: string): void {
  if (update) writeFileSync(new URL(name, GOLDEN), got);
  t.is(got, readFileSync(new URL(name, GOLDEN), 'utf8'), name);
}

/** Tonight = the golden fixture run (INVESTIGATE: errors, divergence); the reference candidate was 15 ms faster. */
function fixture() {
  const tonight = analyzeRecords(goldenRun(), gates);
  const reference = analyzeRecords(fixtureRun({ runId: 'reference-run', candidateTtftShiftMs: -15, withRepeat: false }), gates);
  const regression = compareRuns(
    regressionSamples(tonight.collector, tonight.report),
    regressionSamples(reference.collector, reference.report),
    gates,
  );
  return { report: tonight.report, regression };
}

/** Minimal XML well-formedness: balanced tags, quoted attributes without '<', only known entities. */
function assertWellFormed(t: import('ava').ExecutionContext, xml: string): void {
  t.true(xml.startsWith('<?xml version="1.0" encoding="UTF-8"?>\n'));
  const body = xml.replace(/^<\?xml[^?]*\?>\n/, '');
  const stack: string[] = [];
  const tag = /<(\/?)([A-Za-z-]+)((?:\s+[a-z-]+="[^"<]*")*)\s*(\/?)>/g;
  let last = 0;
  for (let m = tag.exec(body); m; m = tag.exec(body)) {
    const text = body.slice(last, m.index);
    t.notRegex(text, /[<>]|&(?!(amp|lt|gt|quot|apos);)/, `text before <${m[2]}> is escaped`);
    for (const [, value] of (m[3] ?? '').matchAll(/="([^"]*)"/g)) t.notRegex(value as string, /&(?!(amp|lt|gt|quot|apos);)/);
    if (m[1]) t.is(stack.pop(), m[2], `</${m[2]}> closes the open element`);
    else if (!m[4]) stack.push(m[2] as string);
    last = tag.lastIndex;
  }
  t.deepEqual(stack, [], 'every element is closed');
  t.is(body.slice(last).trim(), '');
}

test('golden: junit.xml of the fixture gate (verdict rules and regression rules), well-formed', (t) => {
  const { report, regression } = fixture();
  const xml = junitXml(report, regression);
  golden(t, 'junit.xml', xml);
  assertWellFormed(t, xml);
  // one test case per rule, trigger and regression rule; counts agree with the cases
  t.is((xml.match(/<testcase /g) ?? []).length, report.verdict.reasons.length + regression.rules.length);
  t.is(
    (xml.match(/<failure /g) ?? []).length,
    report.verdict.reasons.filter((r) => r.status === 'fail').length + regression.rules.filter((r) => r.status === 'fail').length,
  );
  t.regex(xml, /<testsuites name="shadowbench gate" tests="(\d+)" failures="(\d+)"/);
  const names = [...xml.matchAll(/<testcase classname="[^"]+" name="([^"]+)"/g)].map((m) => m[1]);
  t.is(new Set(names).size, names.length, 'test case names are unique');
});

test('golden: summary.md of the fixture gate', (t) => {
  const { report, regression } = fixture();
  const md = summaryMarkdown(report, regression, 1);
  golden(t, 'summary.md', md);
  t.regex(md, /^# shadowbench gate: ❌ failed\n/);
  t.regex(md, /\| `regression\.max_ttft_p99_increase` \|/);
  // every table row has as many cells as its header
  for (const block of md.split('\n\n').filter((b) => b.startsWith('|'))) {
    const widths = block.split('\n').map((line) => line.replace(/\\\|/g, '').split('|').length);
    t.true(
      widths.every((w) => w === widths[0]),
      block.split('\n')[0],
    );
  }
});

test('junit.xml without a reference has only the verdict suite; text from the records is escaped', (t) => {
  const { report } = analyzeRecords(fixtureRun({ runId: 'run <"x"> & \'y\'\u0001' }), gates);
  const xml = junitXml(report, null);
  assertWellFormed(t, xml);
  t.is((xml.match(/<testsuite /g) ?? []).length, 1);
  t.regex(xml, /<testsuite name="verdict run &lt;&quot;x&quot;&gt; &amp; &apos;y&apos;: PROCEED"/);
  t.is(xmlEscape('a<b>&"\'\u0000\t'), 'a&lt;b&gt;&amp;&quot;&apos;\t');
  t.regex(
    summaryMarkdown(report, null, 0),
    /^# shadowbench gate: ✅ passed\n\nRun `run <"x"> & 'y'\u0001`: verdict \*\*PROCEED\*\* \(exit 0\)\./,
  );
});
