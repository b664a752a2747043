// summary.md for a CI step summary (GitHub's $GITHUB_STEP_SUMMARY and the like): the gate's outcome,
// the verdict's reasons, the side-by-side table and the regression rules. Pure: returns Markdown.
import { HOURS_PER_MONTH } from '../analysis/cost.ts';
import type { RegressionResult, RuleResult } from '../analysis/regression.ts';
import { fmt } from '../analysis/format.ts';
import { type Report } from '../analysis/report.ts';
import type { ServerMetrics } from '../analysis/server-metrics.ts';
import { formatDelta, formatValue, sideBySide } from './side-by-side.ts';

/** A Markdown table cell: pipes escaped, line breaks flattened. */
const cell = (text: string): string => text.replace(/\\/g, '\\\\').replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
const row = (cells: string[]): string => `| ${cells.map(cell).join(' | ')} |`;
const STATUS = { pass: '✅ pass', fail: '❌ fail', info: 'ℹ️ info', noise: '〰️ noise', skipped: '⏭️ skipped' } as const;

function ruleFigures(r: RuleResult): string[] {
  const relative = r.rule === 'regression.max_ttft_p99_increase' || r.rule === 'regression.max_throughput_decrease';
  const unit = r.rule === 'regression.max_ttft_p99_increase' ? ' ms' : ' tok/s';
  const show = (v: number | null) =>
    v === null ? '—' : relative ? `${fmt(Number(v.toFixed(2)))}${unit}` : `${fmt(Number((v * 100).toFixed(2)))} %`;
  // The signed change tonight vs reference, as the rule's message says it: a decrease rule's worsening
  // w is a change of −w (relative % for TTFT and throughput, percentage points for rates).
  const change = (w: number) => (r.decrease ? -w : w);
  const signed = (v: number) => `${v > 0 ? '+' : v < 0 ? '−' : '±'}${fmt(Number(Math.abs(v * 100).toFixed(2)))}${relative ? ' %' : ' pt'}`;
  const ends = r.ci === null ? null : [change(r.ci.low), change(r.ci.high)].sort((a, b) => a - b);
  return [
    show(r.tonight),
    show(r.reference),
    r.worsening === null ? '—' : signed(change(r.worsening)),
    ends === null ? '—' : `${signed(ends[0] as number)} to ${signed(ends[1] as number)}`,
    r.threshold === null ? '—' : `${r.decrease ? '≥' : '≤'} ${signed(change(r.threshold))}`,
  ];
}

export function summaryMarkdown(
  report: Report,
  regression: RegressionResult | null,
  exitCode: number,
  serverMetrics: readonly ServerMetrics[] = report.server_metrics ?? [],
): string {
  const decision = report.verdict.decision;
  const regressed = regression?.failed ?? false;
  const passed = exitCode === 0;
  const out: string[] = [];
  out.push(`# shadowbench gate: ${passed ? '✅ passed' : '❌ failed'}`);
  out.push('');
  out.push(
    `Run \`${report.run_id}\`${regression ? ` against reference \`${regression.reference_run_id}\`` : ''}: verdict **${decision}**` +
      (regression ? `, ${regressed ? '**regression**' : 'no regression'}` : '') +
      ` (exit ${exitCode}).`,
  );
  out.push('');
  out.push(`## Verdict: ${decision}`);
  out.push('');
  out.push(row(['Status', 'Rule', 'Detail']));
  out.push('|---|---|---|');
  for (const r of report.verdict.reasons) out.push(row([STATUS[r.status], `\`${r.rule}\``, r.message]));
  out.push('');
  const sbs = sideBySide(report, serverMetrics);
  out.push('## Side by side');
  out.push('');
  out.push(row(['Metric', ...sbs.arms, ...(sbs.hasDelta ? ['Δ candidate − baseline'] : [])]));
  out.push('|' + ['---', ...sbs.arms.map(() => '---:'), ...(sbs.hasDelta ? ['---:'] : [])].join('|') + '|');
  for (const r of sbs.rows)
    out.push(row([r.label, ...r.values.map((v) => formatValue(v, r.unit)), ...(sbs.hasDelta ? [formatDelta(r)] : [])]));
  out.push('');
  if (sbs.rows.some((r) => r.unit === 'price')) {
    out.push(`Costs use the throughput measured at the tested load, not maximum capacity; monthly = ${HOURS_PER_MONTH} h.`);
    out.push('');
  }
  if (regression) {
    out.push(`## Regression against \`${regression.reference_run_id}\``);
    out.push('');
    out.push(row(['Status', 'Rule', 'Tonight', 'Reference', 'Change', 'CI of change', 'Allowed']));
    out.push('|---|---|---:|---:|---:|---:|---:|');
    for (const r of regression.rules) out.push(row([STATUS[r.status], `\`${r.rule}\``, ...ruleFigures(r)]));
    out.push('');
    for (const r of regression.rules) if (r.rule === 'regression.comparable' && r.status !== 'pass') out.push(`${r.message}.`, '');
    out.push(
      'Candidate arm. Change = tonight against the reference: TTFT P99 and output throughput relative to the reference (%), consistency and error rate in percentage points (pt).',
    );
    out.push('');
    out.push(regression.method);
    out.push('');
  }
  out.push('The full report is `report.html` in the run folder; every figure is in `summary.json`.');
  return out.join('\n') + '\n';
}
