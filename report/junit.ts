// junit.xml for CI test reports: one test case per verdict rule or trigger and per regression rule.
// A failing rule is a <failure>, a rule not measured is <skipped>, the rest pass (their message in
// <system-out>). Pure: returns the XML string; deterministic (no timestamps) so it can be golden-tested.
import type { RegressionResult } from '../analysis/regression.ts';
import type { Report } from '../analysis/report.ts';

/** XML text/attribute escape; characters XML 1.0 forbids (C0 controls other than tab, LF, CR) are dropped. */
export function xmlEscape(text: string): string {
  return text
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g, '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

interface Case {
  name: string;
  status: 'pass' | 'fail' | 'skipped';
  type: string;
  message: string;
}

function suite(name: string, classname: string, cases: Case[]): string {
  const failures = cases.filter((c) => c.status === 'fail').length;
  const skipped = cases.filter((c) => c.status === 'skipped').length;
  const body = cases.map((c) => {
    const open = `    <testcase classname="${xmlEscape(classname)}" name="${xmlEscape(c.name)}"`;
    const msg = xmlEscape(c.message);
    if (c.status === 'fail')
      return `${open}>\n      <failure type="${xmlEscape(c.type)}" message="${msg}">${msg}</failure>\n    </testcase>`;
    if (c.status === 'skipped') return `${open}>\n      <skipped message="${msg}"/>\n    </testcase>`;
    return `${open}>\n      <system-out>${msg}</system-out>\n    </testcase>`;
  });
  return `  <testsuite name="${xmlEscape(name)}" tests="${cases.length}" failures="${failures}" errors="0" skipped="${skipped}">\n${body.join('\n')}\n  </testsuite>`;
}

/** Unique, stable test names: the rule key, with the arm for per-arm SLO lines and a counter for repeats. */
function uniqueNames(cases: Case[]): Case[] {
  const seen = new Map<string, number>();
  return cases.map((c) => {
    const n = (seen.get(c.name) ?? 0) + 1;
    seen.set(c.name, n);
    return n === 1 ? c : { ...c, name: `${c.name} #${n}` };
  });
}

export function junitXml(report: Report, regression: RegressionResult | null): string {
  const verdictCases = uniqueNames(
    report.verdict.reasons.map((r) => ({
      // SLO reasons are per arm; their message starts with the arm name.
      name: r.kind === 'slo' ? `${r.rule} [${r.message.split(' ')[0] ?? ''}]` : r.rule,
      status: r.status === 'fail' ? 'fail' : 'pass',
      type: r.kind,
      message: r.message,
    })),
  );
  const suites = [suite(`verdict ${report.run_id}: ${report.verdict.decision}`, 'shadowbench.verdict', verdictCases)];
  if (regression) {
    const cases: Case[] = regression.rules.map((r) => ({
      name: r.rule,
      status: r.status === 'fail' ? 'fail' : r.status === 'skipped' ? 'skipped' : 'pass',
      type: 'regression',
      message: r.message,
    }));
    suites.push(suite(`regression ${regression.tonight_run_id} against ${regression.reference_run_id}`, 'shadowbench.regression', cases));
  }
  const all = [...verdictCases, ...(regression?.rules ?? [])];
  const failures =
    verdictCases.filter((c) => c.status === 'fail').length + (regression?.rules.filter((r) => r.status === 'fail').length ?? 0);
  const skipped = regression?.rules.filter((r) => r.status === 'skipped').length ?? 0;
  return `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="shadowbench gate" tests="${all.length}" failures="${failures}" errors="0" skipped="${skipped}">\n${suites.join('\n')}\n</testsuites>\n`;
}
