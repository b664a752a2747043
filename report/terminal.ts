// The readable terminal report: aligned per-arm table with units and delta, the paired comparison,
// similarity, validity and the verdict with its reasons. Pure: returns the text.
import { formatCost } from '../analysis/cost.ts';
import { candidateMinusBaseline, type ArmReport, type Improvement, type Report, type SimilarityReport } from '../analysis/report.ts';
import { formatServerMetrics } from './server-metrics.ts';
import { PART_LABEL, PARTS } from '../analysis/consistency.ts';

const num = (v: number | null | undefined, digits = 2): string =>
  v === null || v === undefined || Number.isNaN(v)
    ? '—'
    : v.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
const pct = (v: number | null | undefined): string => (v === null || v === undefined ? '—' : `${(v * 100).toFixed(2)} %`);

function table(rows: string[][], rightAligned: (col: number) => boolean): string[] {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return rows.map((r) =>
    r
      .map((c, i) => (rightAligned(i) ? c.padStart(widths[i] ?? 0) : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd(),
  );
}

type Row = [label: string, unit: string, get: (a: ArmReport) => number | null | undefined, format: 'num' | 'pct' | 'int'];

const ROWS: Row[] = [
  ['TTFT mean', 'ms', (a) => a.metrics.ttft_ms?.mean, 'num'],
  ['TTFT P50', 'ms', (a) => a.metrics.ttft_ms?.p50, 'num'],
  ['TTFT P90', 'ms', (a) => a.metrics.ttft_ms?.p90, 'num'],
  ['TTFT P99', 'ms', (a) => a.metrics.ttft_ms?.p99, 'num'],
  ['ITL P50', 'ms', (a) => a.metrics.itl_ms?.p50, 'num'],
  ['ITL P99', 'ms', (a) => a.metrics.itl_ms?.p99, 'num'],
  ['TPOT mean', 'ms', (a) => a.metrics.tpot_ms?.mean, 'num'],
  ['TPOT P99', 'ms', (a) => a.metrics.tpot_ms?.p99, 'num'],
  ['E2E P50', 'ms', (a) => a.metrics.e2e_ms?.p50, 'num'],
  ['E2E P99', 'ms', (a) => a.metrics.e2e_ms?.p99, 'num'],
  ['TTFB P50', 'ms', (a) => a.metrics.ttfb_ms?.p50, 'num'],
  ['Output tokens mean', 'tokens', (a) => a.metrics.output_tokens?.mean, 'num'],
  ['Output tokens/s per request', 'tok/s', (a) => a.metrics.output_tokens_per_s?.mean, 'num'],
  ['Output throughput', 'tok/s', (a) => a.throughput.output_tokens_per_s, 'num'],
  ['Request throughput', 'req/s', (a) => a.throughput.requests_per_s, 'num'],
  ['Send rate (achieved)', 'req/s', (a) => a.throughput.send_rate_per_s, 'num'],
  ['Goodput (within SLOs)', 'req/s', (a) => a.goodput.per_s, 'num'],
  ['Requests', '', (a) => a.requests, 'int'],
  ['Error rate', '', (a) => a.error_rate, 'pct'],
  ['Timeout rate', '', (a) => a.timeout_rate, 'pct'],
  ['Send lag P99', 'ms', (a) => a.metrics.send_lag_ms?.p99, 'num'],
];

function improvementLine(label: string, imp: Improvement): string[] {
  const s = imp.stats;
  if (!s) return [label, '—', '—', '—', 'not measured'];
  const ci = imp.ci ? `mean ${num(imp.ci.mean.low)} … ${num(imp.ci.mean.high)}; P99 ${num(imp.ci.p99.low)} … ${num(imp.ci.p99.high)}` : '';
  return [label, num(s.mean), num(s.p50), num(s.p99), ci];
}

function similarityLine(label: string, s: SimilarityReport): string[] {
  return [label, String(s.pairs), pct(s.consistency), num(s.ratio?.mean, 4), num(s.ratio?.p50, 4), num(s.ratio?.min, 4)];
}

/** Which parts made pairs inconsistent, reasoning and tool-call figures: lines under the similarity table (none when all is equal). */
function partsLines(sim: SimilarityReport, aa: SimilarityReport | null): string[] {
  const lines: string[] = [];
  if (sim.inconsistent === undefined) return lines; // a version-1 summary
  const breakdown = (s: SimilarityReport) =>
    PARTS.filter((p) => s.inconsistent[p] > 0)
      .map((p) => `${PART_LABEL[p]} ${s.inconsistent[p]}`)
      .join(', ');
  if (sim.inconsistent.pairs > 0)
    lines.push(
      `  inconsistent pairs by part: ${breakdown(sim)}${aa && aa.inconsistent.pairs > 0 ? ` (A/A: ${breakdown(aa)})` : ''} (a pair may fail several)`,
    );
  if (sim.tool_calls.pairs_with_tools > 0)
    lines.push(
      `  tool calls: ${sim.tool_calls.pairs_with_tools} pairs with tools, ${sim.tool_calls.name_mismatch} name mismatches, ${sim.tool_calls.arguments_differ} with different arguments (${sim.tool_calls.argument_mismatch} inconsistent)`,
    );
  if (sim.finish_reason.mismatch > 0)
    lines.push(
      `  finish reasons differ: ${Object.entries(sim.finish_reason.table)
        .map(([k, n]) => `${k} ${n}`)
        .join(', ')}`,
    );
  if (sim.reasoning)
    lines.push(
      `  reasoning: ${sim.reasoning.pairs} pairs, mean ratio ${num(sim.reasoning.ratio?.mean, 4)}, ${pct(sim.reasoning.consistency)} ≥ ${sim.reasoning.threshold}`,
    );
  return lines;
}

export function terminalReport(report: Report): string {
  const out: string[] = [];
  const arms = report.arms.map((a) => a.arm);
  const deltaOf = candidateMinusBaseline(report);
  out.push(`shadowbench analysis — run ${report.run_id}`);
  out.push(
    `${report.records.read.toLocaleString('en-US')} records, ${report.comparison.ok_pairs.toLocaleString('en-US')} ok pairs of ${report.comparison.pairs.toLocaleString('en-US')}`,
  );
  out.push('');
  const rows: string[][] = [['Metric', 'Unit', ...arms, ...(deltaOf ? ['Δ cand − base'] : [])]];
  // Time to first answer token: only when some arm reasoned before answering (else it repeats TTFT).
  const optional: Row[] = report.arms.some((a) => a.metrics.ttfa_ms)
    ? [
        ['TTFA P50 (first answer token)', 'ms', (a) => a.metrics.ttfa_ms?.p50, 'num'],
        ['TTFA P99 (first answer token)', 'ms', (a) => a.metrics.ttfa_ms?.p99, 'num'],
      ]
    : [];
  for (const [label, unit, get, format] of [...ROWS.slice(0, 4), ...optional, ...ROWS.slice(4)]) {
    const f = (v: number | null | undefined) => (format === 'pct' ? pct(v) : format === 'int' ? num(v, 0) : num(v));
    const values = report.arms.map(get);
    const delta = deltaOf?.(get) ?? null;
    // A difference of two rates is in percentage points, as summary.md and the report say it.
    const deltaText = delta === null ? '—' : (delta > 0 ? '+' : '') + (format === 'pct' ? `${(delta * 100).toFixed(2)} pt` : f(delta));
    rows.push([label, unit, ...values.map(f), ...(deltaOf ? [deltaText] : [])]);
  }
  out.push(...table(rows, (i) => i >= 2));
  out.push('');
  out.push('Paired comparison (improvement = baseline − candidate, ms; positive = candidate faster)');
  const c = report.comparison;
  const ciLabel = c.ttft_improvement_ms.ci ? `bootstrap ${Math.round(c.ttft_improvement_ms.ci.confidence * 100)} % CI` : 'CI';
  out.push(
    ...table(
      [['', 'mean', 'P50', 'P99', ciLabel], improvementLine('TTFT', c.ttft_improvement_ms), improvementLine('E2E', c.e2e_improvement_ms)],
      (i) => i >= 1 && i <= 3,
    ),
  );
  out.push(`Arm skew (candidate − baseline send): P50 ${num(c.arm_skew_ms?.p50, 3)} ms, P99 |skew| ${num(c.arm_skew_abs_p99_ms, 3)} ms`);
  out.push('');
  const s = report.similarity;
  out.push(`Output similarity (answer difflib ratio ≥ ${s.threshold}; consistent: answer, tool calls and finish reason agree)`);
  const simRows = [['', 'pairs', 'consistent', 'mean', 'P50', 'min'], similarityLine('baseline vs candidate', s.baseline_vs_candidate)];
  if (s.baseline_vs_repeat) simRows.push(similarityLine('baseline vs itself (A/A)', s.baseline_vs_repeat));
  out.push(...table(simRows, (i) => i >= 1));
  out.push(...partsLines(s.baseline_vs_candidate, s.baseline_vs_repeat));
  out.push('');
  if (report.server_metrics && report.server_metrics.length > 0) {
    out.push("Server metrics (scraped from the arms' Prometheus endpoints during the run)");
    out.push(...formatServerMetrics(report.server_metrics));
    for (const m of report.server_metrics) {
      if (m.gaps > 0)
        out.push(`  ! ${m.arm}: ${m.gaps} of ${m.gaps + m.scrapes} scrapes failed (first: ${m.gap_list[0]?.error ?? 'unknown'})`);
    }
    out.push('');
  }
  if (report.cost && report.cost.length > 0) {
    out.push('Cost');
    out.push(...formatCost(report.cost));
    out.push('');
  }
  if (report.records.warnings.length > 0) {
    out.push('Warnings');
    for (const w of report.records.warnings) out.push(`  ! ${w}`);
    out.push('');
  }
  out.push(`VERDICT: ${report.verdict.decision}${report.validity.valid ? '' : ' (not a valid comparison)'}`);
  const mark = { fail: '✗', pass: '✓', info: '·' } as const;
  for (const r of report.verdict.reasons) out.push(`  ${mark[r.status]} ${r.message}`);
  return out.join('\n') + '\n';
}
