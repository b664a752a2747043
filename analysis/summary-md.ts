// summary.md for a CI step summary (GitHub's $GITHUB_STEP_SUMMARY and the like): the gate's outcome,
// the verdict's reasons, the side-by-side table and the regression rules. Pure: returns Markdown.
import { HOURS_PER_MONTH } from './cost.ts';
import type { RegressionResult, RuleResult } from './regression.ts';
import { fmt, type Report } from './report.ts';
import type { ServerMetrics } from './server-metrics.ts';
import { formatDelta, formatValue, sideBySide } from './side-by-side.ts';

/** A Markdown table cell: pipes escaped, line breaks flattened. */
const cell = (text: string): string => text.replace(/\\/g, '\\\\').replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
const row = (cells: string[]): string => `| ${cells.map(cell).join(' | ')} |`;
const STATUS = { pass: '✅ pass', fail: '❌ fail', info: 'ℹ️ info', noise: '〰️ noise', skipped: '⏭️ skipped' } as const;

function ruleFigures(r: RuleResult): string[] {
  const relative = r.rule === 'regression.max_ttft_p99_increase' || r.rule === 'regression.max_throughput_decrease';
  const unit = r.rule === 'regression.max_ttft_p99_increase' ? ' ms' : ' tok/s';
  const show = (v: number | null) => (v === null ? '—' : relative ? `${fmt(Number(v.toFixed(2)))}${unit}` : `${fmt(Number((v * 100).toFixed(2)))} %`);
  // worsening: positive = tonight is worse (relative % for TTFT and throughput, percentage points for rates)
  const w = (v: number) => `${v < 0 ? '−' : ''}${fmt(Number(Math.abs(v * 100).toFixed(2)))}${relative ? ' %' : ' pt'}`;
  return [
    show(r.tonight),
    show(r.reference),
    r.worsening === null ? '—' : w(r.worsening),
    r.ci === null ? '—' : `${w(r.ci.low)} to ${w(r.ci.high)}`,
    w(r.threshold),
  ];
}

export function summaryMarkdown(report: Report, regression: RegressionResult | null, exitCode: number, serverMetrics: readonly ServerMetrics[] = report.server_metrics ?? []): string {
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
  for (const r of sbs.rows) out.push(row([r.label, ...r.values.map((v) => formatValue(v, r.unit)), ...(sbs.hasDelta ? [formatDelta(r)] : [])]));
  out.push('');
  if (sbs.rows.some((r) => r.unit === 'price')) {
    out.push(`Costs use the throughput measured at the tested load, not maximum capacity; monthly = ${HOURS_PER_MONTH} h.`);
    out.push('');
  }
  if (regression) {
    out.push(`## Regression against \`${regression.reference_run_id}\``);
    out.push('');
    out.push(row(['Status', 'Rule', 'Tonight', 'Reference', 'Worsening', 'CI of worsening', 'Allowed']));
    out.push('|---|---|---:|---:|---:|---:|---:|');
    for (const r of regression.rules) out.push(row([STATUS[r.status], `\`${r.rule}\``, ...ruleFigures(r)]));
    out.push('');
    out.push('Candidate arm. Worsening is positive when tonight is worse: TTFT P99 increase and output-throughput decrease relative to the reference (%), consistency decrease and error-rate increase in percentage points (pt).');
    out.push('');
    out.push(regression.method);
    out.push('');
  }
  out.push('The full report is `report.html` in the run folder; every figure is in `summary.json`.');
  return out.join('\n') + '\n';
}
