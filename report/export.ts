// Exporters: pure functions from the report (and the per-request columns) to file contents.
// cli/analyze.ts writes them into the run folder.
import { stringify } from 'csv-stringify/sync';
import { BASELINE, BASELINE_REPEAT, CANDIDATE, OUTCOME_KINDS } from '../core/record.ts';
import { PRESENT_MEASURED, PRESENT_WARMUP, type RunCollector } from '../analysis/collect.ts';
import { ARM_METRICS, candidateMinusBaseline, type ArmReport, type Report } from '../analysis/report.ts';
import { PERCENTILES, STAT_NAMES } from '../analysis/stats/stats.ts';

/** CSV cell for a number: up to 6 decimals, '' when not measured. */
export function csvNumber(value: number | null | undefined): string {
  if (value === null || value === undefined || Number.isNaN(value)) return '';
  if (!Number.isFinite(value)) return String(value);
  return String(Number(value.toFixed(6)));
}

const csv = (rows: Array<Array<string | number>>): string => stringify(rows, { record_delimiter: 'unix' });

/**
 * One CSV field as csv-stringify writes it (quoted, quotes doubled, when it holds a comma, a quote or
 * a line feed; also a lone carriage return, which csv-stringify leaves bare with unix line ends but
 * readers take for a line break). pairs.csv has a row per request: joining its cells directly instead of
 * going through stringify saves ≈ 1.4 s of a 1M-record analysis (the tests hold the two equal).
 */
export function csvField(text: string): string {
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** summary.csv: one row per metric × statistic, one column per arm, plus delta = candidate − baseline. */
export function summaryCsv(report: Report): string {
  const arms = report.arms.map((a) => a.arm);
  const delta = candidateMinusBaseline(report);
  const header = ['metric', 'unit', 'statistic', ...arms, ...(delta ? ['delta_candidate_minus_baseline'] : [])];
  const rows: Array<Array<string | number>> = [header];
  const row = (metric: string, unit: string, statistic: string, get: (a: ArmReport) => number | null | undefined) => {
    rows.push([metric, unit, statistic, ...report.arms.map(get).map(csvNumber), ...(delta ? [csvNumber(delta(get))] : [])]);
  };
  for (const [metric, unit] of ARM_METRICS) {
    // ITL is pooled over the gaps between content chunks: its count is gaps, the others' requests.
    for (const stat of STAT_NAMES)
      row(metric, stat === 'count' ? (metric === 'itl_ms' ? 'gaps' : 'requests') : unit, stat, (a) => a.metrics[metric]?.[stat]);
  }
  row('requests', 'requests', 'value', (a) => a.requests);
  row('warmup_excluded', 'requests', 'value', (a) => a.warmup_excluded);
  for (const kind of OUTCOME_KINDS) row(`outcome_${kind}`, 'requests', 'value', (a) => a.outcomes[kind]);
  row('error_rate', 'fraction', 'value', (a) => a.error_rate);
  row('timeout_rate', 'fraction', 'value', (a) => a.timeout_rate);
  row('request_throughput', 'requests/s', 'value', (a) => a.throughput.requests_per_s);
  row('send_rate', 'requests/s', 'value', (a) => a.throughput.send_rate_per_s);
  row('ok_request_throughput', 'requests/s', 'value', (a) => a.throughput.ok_requests_per_s);
  row('output_token_throughput', 'tokens/s', 'value', (a) => a.throughput.output_tokens_per_s);
  row('goodput', 'requests/s', 'value', (a) => a.goodput.per_s);
  row('goodput_share', 'fraction', 'value', (a) => a.goodput.share);
  return csv(rows);
}

/**
 * ttft_distribution.csv: each arm's TTFT percentiles and their difference, baseline P − candidate P
 * (the migration guide's table). Not the percentiles of the per-pair improvements (summary.json
 * comparison.ttft_improvement_ms, pairs.csv): the two differ, hence the explicit column name.
 */
export function ttftDistributionCsv(report: Report): string {
  const arms = report.arms.map((a) => a.arm);
  const hasDelta = arms.includes(BASELINE) && arms.includes(CANDIDATE);
  const rows: Array<Array<string | number>> = [
    ['percentile', ...arms.map((a) => `${a}_ttft_ms`), ...(hasDelta ? ['baseline_minus_candidate_ms'] : [])],
  ];
  for (const p of PERCENTILES) {
    const key = `p${p}` as const;
    const value = (arm: string) => report.arms.find((a) => a.arm === arm)?.metrics.ttft_ms?.[key] ?? null;
    const b = value(BASELINE);
    const c = value(CANDIDATE);
    rows.push([
      `P${p}`,
      ...arms.map((a) => csvNumber(value(a))),
      ...(hasDelta ? [csvNumber(b !== null && c !== null ? b - c : null)] : []),
    ]);
  }
  return csv(rows);
}

/**
 * pairs.csv: one row per request index (warm-up excluded) with both arms' figures, the improvement
 * and the similarity; output texts only when the collector kept them (--include-text). The records
 * carry no prompt text, only item_id, which identifies the workload item.
 */
export function pairsCsv(collector: RunCollector): string {
  const base = collector.arms.get(BASELINE);
  const cand = collector.arms.get(CANDIDATE);
  const rep = collector.arms.get(BASELINE_REPEAT);
  const withText = (base?.outputText ?? cand?.outputText) !== null && (base?.outputText ?? cand?.outputText) !== undefined;
  const header = [
    'index',
    'item_id',
    'baseline_outcome',
    'candidate_outcome',
    'baseline_ttft_ms',
    'candidate_ttft_ms',
    'ttft_improvement_ms',
    'baseline_e2e_ms',
    'candidate_e2e_ms',
    'e2e_improvement_ms',
    'baseline_output_tokens',
    'candidate_output_tokens',
    'similarity',
    ...(rep ? ['baseline_repeat_similarity'] : []),
    ...(withText ? ['baseline_output', 'candidate_output'] : []),
  ];
  const parts = [csv([header])];
  const cell = (a: typeof base, column: 'ttft' | 'e2e' | 'tokens', i: number) =>
    a && i < a.capacity && a.present[i] === PRESENT_MEASURED ? (a[column][i] as number) : Number.NaN;
  const outcome = (a: typeof base, i: number) =>
    a && i < a.capacity && a.present[i] === PRESENT_MEASURED ? (OUTCOME_KINDS[a.outcome[i] as number] as string) : '';
  const sim = (column: Float64Array, i: number) => (i < column.length ? (column[i] as number) : Number.NaN);
  let batch: string[] = [];
  for (let i = 0; i < collector.size; i++) {
    const inBase = base !== undefined && i < base.capacity && base.present[i] !== 0;
    const inCand = cand !== undefined && i < cand.capacity && cand.present[i] !== 0;
    if (!inBase && !inCand) continue;
    if ((inBase && base.present[i] === PRESENT_WARMUP) || (inCand && cand.present[i] === PRESENT_WARMUP)) continue;
    const bt = cell(base, 'ttft', i);
    const ct = cell(cand, 'ttft', i);
    const be = cell(base, 'e2e', i);
    const ce = cell(cand, 'e2e', i);
    // Numbers (csvNumber) and outcome kinds never need quoting; the item id and the texts may.
    const row = [
      String(i),
      csvField((inBase ? base.itemId[i] : cand?.itemId[i]) ?? ''),
      outcome(base, i),
      outcome(cand, i),
      csvNumber(bt),
      csvNumber(ct),
      csvNumber(bt - ct),
      csvNumber(be),
      csvNumber(ce),
      csvNumber(be - ce),
      csvNumber(cell(base, 'tokens', i)),
      csvNumber(cell(cand, 'tokens', i)),
      csvNumber(sim(collector.similarity.candidate, i)),
      ...(rep ? [csvNumber(sim(collector.similarity.repeat, i))] : []),
      ...(withText ? [csvField(base?.outputText?.[i] ?? ''), csvField(cand?.outputText?.[i] ?? '')] : []),
    ];
    batch.push(row.join(','));
    if (batch.length === 10_000) {
      parts.push(batch.join('\n') + '\n');
      batch = [];
    }
  }
  if (batch.length > 0) parts.push(batch.join('\n') + '\n');
  return parts.join('');
}

/** summary.json: the whole report, versioned (`schema`, `version`). */
export function summaryJson(report: Report): string {
  return JSON.stringify(report, null, 2) + '\n';
}
