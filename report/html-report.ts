// report.html: one self-contained page a platform lead can open — the verdict and its reasons first,
// then the side-by-side table and the charts. Pure: returns the HTML string.
//
// Self-contained: uPlot (JS and CSS) is inlined by the caller (io/report-assets.ts reads it from
// node_modules), the chart data is embedded as JSON, and a Content-Security-Policy of
// `default-src 'none'` forbids any network request at view time.
// Accessible: headings, a skip link, tables with <th scope>, every chart is role="img" with an
// aria-label and a <details> table of its numbers, series toggles are real <button>s.
// Printable: @media print keeps the tables, hides the controls; data tables are opened before printing.
// Size: the charts plot the fixed-size aggregates of analysis/charts.ts, never raw points.
import { BASELINE, CANDIDATE } from '../core/record.ts';
import type { ChartData, Histogram } from './charts.ts';
import type { RegressionResult } from '../analysis/regression.ts';
import { fmt } from '../analysis/format.ts';
import { type Report } from '../analysis/report.ts';
import type { ServerMetrics } from '../analysis/server-metrics.ts';
import { deltaDirection, formatDelta, formatValue, sideBySide } from './side-by-side.ts';
import { DIVERGENCE_CSS, DIVERGENCE_SCRIPT, divergenceSection, type DivergenceRow } from './divergence.ts';

export interface ReportAssets {
  /** uplot/dist/uPlot.iife.min.js */
  uplotJs: string;
  /** uplot/dist/uPlot.min.css */
  uplotCss: string;
}

export interface HtmlReportInput {
  report: Report;
  charts: ChartData;
  assets: ReportAssets;
  serverMetrics?: readonly ServerMetrics[];
  /** Tonight against a reference run, when the nightly gate compared them. */
  regression?: RegressionResult | null;
  /** The divergence explorer's rows (report/divergence.ts divergenceRows); without them the section shows the counts only. */
  divergence?: readonly DivergenceRow[];
}

/** The ids of the charts, in page order (the browser test checks each is rendered). */
export const CHART_IDS = ['chart-ttft-cdf', 'chart-over-time', 'chart-improvement', 'chart-similarity', 'chart-lag-skew'] as const;

const esc = (s: string): string =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
const ms = (v: number | null | undefined): string =>
  v === null || v === undefined || !Number.isFinite(v) ? '—' : `${fmt(Number(v.toFixed(2)))} ms`;
const pct = (v: number | null | undefined): string => (v === null || v === undefined ? '—' : `${(v * 100).toFixed(2)} %`);
const num = (v: number | null | undefined): string =>
  v === null || v === undefined || !Number.isFinite(v) ? '—' : fmt(Number(v.toFixed(3)));

/** JSON inside <script>: `<` escaped so no string can close the element. */
const scriptJson = (value: unknown): string =>
  JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');

function table(caption: string, head: string[], rows: string[][], options: { rowHeader?: boolean; className?: string } = {}): string {
  const rowHeader = options.rowHeader ?? true;
  const th = head.map((h) => `<th scope="col">${h}</th>`).join('');
  const body = rows
    .map((r) => '<tr>' + r.map((c, i) => (i === 0 && rowHeader ? `<th scope="row">${c}</th>` : `<td>${c}</td>`)).join('') + '</tr>')
    .join('\n');
  return `<table${options.className ? ` class="${options.className}"` : ''}><caption>${caption}</caption><thead><tr>${th}</tr></thead><tbody>\n${body}\n</tbody></table>`;
}

function figure(id: string, title: string, label: string, explanation: string, dataTable: string): string {
  return `<figure aria-labelledby="${id}-title">
<figcaption id="${id}-title"><strong>${esc(title)}.</strong> ${explanation}</figcaption>
<div class="series-toggles" data-for="${id}" role="group" aria-label="${esc(title)}: show or hide series"></div>
<div class="chart" id="${id}" role="img" aria-label="${esc(label)}"></div>
<details><summary>Numbers behind “${esc(title)}”</summary>
${dataTable}
</details>
</figure>`;
}

function verdictSection(report: Report): string {
  const { decision, reasons } = report.verdict;
  const items = reasons
    .map(
      (r) =>
        `<li class="reason ${r.status}"><span class="badge ${r.status}">${r.status.toUpperCase()}</span> <code>${esc(r.rule)}</code> ${esc(r.message)}</li>`,
    )
    .join('\n');
  const failing = reasons.filter((r) => r.status === 'fail').length;
  return `<section class="verdict ${decision === 'PROCEED' ? 'proceed' : 'investigate'}" aria-labelledby="verdict-title">
<h2 id="verdict-title">Verdict: ${decision}</h2>
<p>${decision === 'PROCEED' ? 'Every proceed rule passed and no rollback trigger fired.' : `${failing} rule${failing === 1 ? '' : 's'} failed; see the reasons below.`}${report.validity.valid ? '' : ' <strong>The run is not a valid comparison.</strong>'}</p>
<ul class="reasons">
${items}
</ul>
</section>`;
}

function regressionSection(regression: RegressionResult): string {
  const rows = regression.rules.map((r) => [
    `<code>${esc(r.rule)}</code>`,
    `<span class="badge ${r.status === 'noise' ? 'info' : r.status === 'skipped' ? 'info' : r.status}">${r.status.toUpperCase()}</span>`,
    esc(r.message),
  ]);
  return `<section aria-labelledby="regression-title">
<h2 id="regression-title">Regression against the reference run</h2>
<p>Tonight <code>${esc(regression.tonight_run_id)}</code> against reference <code>${esc(regression.reference_run_id)}</code>: ${regression.failed ? '<strong>regression</strong>' : 'no regression'}.</p>
${table('Regression rules (candidate arm, tonight vs reference)', ['Rule', 'Status', 'Detail'], rows)}
<p class="note">${esc(regression.method)}</p>
</section>`;
}

function sideBySideSection(report: Report, serverMetrics: readonly ServerMetrics[]): string {
  const sbs = sideBySide(report, serverMetrics);
  const head = ['Metric', ...sbs.arms.map(esc), ...(sbs.hasDelta ? ['Δ candidate − baseline'] : [])];
  const rows = sbs.rows.map((row) => {
    const dir = deltaDirection(row);
    const delta = sbs.hasDelta
      ? [
          `<span class="delta ${dir ?? ''}">${esc(formatDelta(row))}${dir === 'better' || dir === 'worse' ? ` <span class="visually-hidden">(${dir})</span>` : ''}</span>`,
        ]
      : [];
    return [esc(row.label), ...row.values.map((v) => esc(formatValue(v, row.unit))), ...delta];
  });
  const cmp = report.comparison;
  const imp = cmp.ttft_improvement_ms;
  const sim = report.similarity;
  const facts = [
    ['Pairs measured on both arms', String(cmp.pairs)],
    ['Pairs where both arms succeeded', String(cmp.ok_pairs)],
    [
      'Mean TTFT improvement (baseline − candidate)',
      imp.stats
        ? `${ms(imp.stats.mean)}${imp.ci ? ` (${fmt(imp.ci.confidence * 100)} % CI ${ms(imp.ci.mean.low)} to ${ms(imp.ci.mean.high)})` : ''}`
        : '—',
    ],
    [
      'Output consistency (answer similarity ≥ ' + sim.threshold + ', tool calls and finish reasons agree)',
      `${pct(sim.baseline_vs_candidate.consistency)} of ${sim.baseline_vs_candidate.pairs} pairs`,
    ],
    ...(sim.baseline_vs_candidate.answer_consistency !== undefined
      ? [['Answer consistency (answer similarity ≥ ' + sim.threshold + ' alone)', pct(sim.baseline_vs_candidate.answer_consistency)]]
      : []),
    ...(sim.baseline_vs_candidate.reasoning
      ? [
          [
            'Reasoning similarity (reported apart)',
            `mean ${num(sim.baseline_vs_candidate.reasoning.ratio?.mean)}; ${pct(sim.baseline_vs_candidate.reasoning.consistency)} of ${sim.baseline_vs_candidate.reasoning.pairs} pairs ≥ ${sim.baseline_vs_candidate.reasoning.threshold}`,
          ],
        ]
      : []),
    ...(sim.baseline_vs_repeat
      ? [
          [
            'A/A consistency (baseline vs its repeat)',
            `${pct(sim.baseline_vs_repeat.consistency)} of ${sim.baseline_vs_repeat.pairs} pairs`,
          ],
        ]
      : []),
    ['P99 |arm skew|', ms(cmp.arm_skew_abs_p99_ms)],
  ].map(([k, v]) => [esc(k as string), esc(v as string)]);
  return `<section aria-labelledby="table-title">
<h2 id="table-title">Side by side</h2>
${table('Per arm, with the candidate − baseline delta (lower latency and error rates, higher throughput are better)', head, rows, { className: 'numbers' })}
${table('Paired comparison', ['Figure', 'Value'], facts, { className: 'numbers' })}
</section>`;
}

function cdfFigure(report: Report, charts: ChartData): string {
  const cdf = charts.ttft_cdf;
  const label =
    'Cumulative distribution of TTFT per arm. ' +
    report.arms
      .filter((a) => a.metrics.ttft_ms)
      .map((a) => `${a.arm}: P50 ${ms(a.metrics.ttft_ms?.p50)}, P99 ${ms(a.metrics.ttft_ms?.p99)}`)
      .join('; ') +
    '.';
  const rows = cdf.probabilities.map((p, k) => [`P${fmt(p * 100)}`, ...cdf.arms.map((a) => ms(a.values[k]))]);
  return figure(
    'chart-ttft-cdf',
    'TTFT distribution',
    label,
    'Share of ok requests whose time to first token is at most x, per arm; dashed lines mark each arm’s P50, P90 and P99.',
    table('TTFT (ms) at each quantile', ['Quantile', ...cdf.arms.map((a) => `${esc(a.arm)} (n=${a.count})`)], rows),
  );
}

function overTimeFigure(charts: ChartData): string {
  const t = charts.over_time;
  const label =
    `TTFT P50 and P99 per ${t.bucket_s}-second bucket of send time, per arm, over ${t.start_s.length} buckets. ` +
    t.arms.map((a) => `${a.arm}: highest bucket P99 ${ms(maxOf(a.ttft_p99_ms))}`).join('; ') +
    '.';
  const head = ['Start (s)', ...t.arms.flatMap((a) => [`${esc(a.arm)} requests`, `${esc(a.arm)} TTFT P50`, `${esc(a.arm)} TTFT P99`])];
  const rows = t.start_s.map((s, b) => [
    fmt(s),
    ...t.arms.flatMap((a) => [String(a.requests[b] ?? 0), ms(a.ttft_p50_ms[b]), ms(a.ttft_p99_ms[b])]),
  ]);
  return figure(
    'chart-over-time',
    'Latency over time',
    label,
    `TTFT P50 (solid) and P99 (dashed) of the requests sent in each ${t.bucket_s}-second bucket: a warm-up or a degradation shows as a slope.`,
    table(`TTFT per ${t.bucket_s} s bucket`, head, rows),
  );
}

function histogramRows(h: Histogram, format: (v: number) => string): string[][] {
  const rows = h.counts.map((c, k) => [`${format(h.edges[k] as number)} to ${format(h.edges[k + 1] as number)}`, String(c)]);
  if (h.below > 0) rows.unshift([`below ${format(h.edges[0] as number)}`, String(h.below)]);
  if (h.above > 0) rows.push([`above ${format(h.edges[h.edges.length - 1] as number)}`, String(h.above)]);
  return rows;
}

function improvementFigure(charts: ChartData): string {
  const h = charts.ttft_improvement;
  const label = h
    ? `Histogram of the TTFT improvement (baseline − candidate) of ${h.total} ok pairs; mean ${ms(h.mean)}${h.ci_low !== null ? `, 95 % CI ${ms(h.ci_low)} to ${ms(h.ci_high)}` : ''}. Positive means the candidate was faster.`
    : 'No ok pair was measured on both arms: no improvement histogram.';
  const outside = h && h.below + h.above > 0 ? ` ${h.below + h.above} pairs outside P0.5–P99.5 are listed in the table, not plotted.` : '';
  return figure(
    'chart-improvement',
    'Paired TTFT improvement',
    label,
    `Per request, baseline TTFT minus candidate TTFT: right of zero the candidate was faster on that same prompt at the same instant.${outside}`,
    h ? table('Pairs per improvement bin (ms)', ['Improvement (ms)', 'Pairs'], histogramRows(h, num)) : '<p>No data.</p>',
  );
}

function similarityFigure(report: Report, charts: ChartData): string {
  const s = charts.similarity;
  const sim = report.similarity;
  const aa = sim.baseline_vs_repeat;
  const label =
    `Histogram of output similarity ratios, baseline vs candidate (${sim.baseline_vs_candidate.pairs} pairs, ${pct(sim.baseline_vs_candidate.consistency)} at or above the threshold ${s.threshold})` +
    (aa ? `, and baseline vs its own repeat (${aa.pairs} pairs, ${pct(aa.consistency)})` : '') +
    '.';
  const rows =
    (s.candidate ?? s.repeat)
      ? ((s.candidate ?? s.repeat) as Histogram).counts.map((_, k) => {
          const edges = ((s.candidate ?? s.repeat) as Histogram).edges;
          return [
            `${num(edges[k])} to ${num(edges[k + 1])}`,
            String(s.candidate?.counts[k] ?? '—'),
            ...(s.repeat ? [String(s.repeat.counts[k])] : []),
          ];
        })
      : [];
  return figure(
    'chart-similarity',
    'Output similarity',
    label,
    `Share of pairs per similarity ratio (difflib ratio, 1 = identical); pairs at or right of the threshold line (${s.threshold}) count as consistent.${aa ? ' The A/A series (baseline against itself) is the noise floor: a candidate diverging no more than that is not a regression.' : ''}`,
    rows.length > 0
      ? table('Pairs per similarity bin', ['Ratio', 'baseline vs candidate', ...(s.repeat ? ['baseline vs repeat (A/A)'] : [])], rows)
      : '<p>No pair was compared.</p>',
  );
}

function lagSkewFigure(report: Report, charts: ChartData): string {
  const t = charts.over_time;
  const lag = report.arms.map((a) => `${a.arm} P99 send lag ${ms(a.metrics.send_lag_ms?.p99)}`).join('; ');
  const label = `P99 send lag per arm and P99 arm skew per ${t.bucket_s}-second bucket. Whole run: ${lag}; P99 |arm skew| ${ms(report.comparison.arm_skew_abs_p99_ms)}.`;
  const head = ['Start (s)', ...t.arms.map((a) => `${esc(a.arm)} send lag P99`), 'P99 |arm skew|'];
  const rows = t.start_s.map((s, b) => [fmt(s), ...t.arms.map((a) => ms(a.send_lag_p99_ms[b])), ms(t.arm_skew_abs_p99_ms[b])]);
  return figure(
    'chart-lag-skew',
    'Send lag and arm skew',
    label,
    `How late requests left (sent − scheduled) and how far apart the two arms received the same request; the dashed lines are the validity limits (${report.gates.validity.max_send_lag_p99_ms} ms, ${report.gates.validity.max_arm_skew_p99_ms} ms). Above them the load generator, not the endpoints, shaped the numbers.`,
    table(`Send lag and skew per ${t.bucket_s} s bucket`, head, rows),
  );
}

function maxOf(values: Array<number | null>): number | null {
  let m: number | null = null;
  for (const v of values) if (v !== null && (m === null || v > m)) m = v;
  return m;
}

/** What the page script needs besides ChartData: markers taken from the report's exact figures. */
function viewModel(report: Report, charts: ChartData) {
  return {
    charts,
    markers: report.arms
      .filter((a) => a.metrics.ttft_ms)
      .map((a) => ({ arm: a.arm, p50: a.metrics.ttft_ms?.p50, p90: a.metrics.ttft_ms?.p90, p99: a.metrics.ttft_ms?.p99 })),
    limits: { send_lag_ms: report.gates.validity.max_send_lag_p99_ms, arm_skew_ms: report.gates.validity.max_arm_skew_p99_ms },
  };
}

const CSS = `
:root{--fg:#1a1a1a;--muted:#555;--bg:#fff;--line:#d0d0d0;--ok:#1d7a3a;--bad:#b3261e;--info:#4a5568;--baseline:#1f5fbf;--candidate:#c2410c;--repeat:#6b7280;--del-bg:#fde2e1;--del-fg:#8a1c14;--ins-bg:#dcf5e3;--ins-fg:#14532d}
*{box-sizing:border-box}
body{font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:var(--bg);margin:0}
main,header,footer{max-width:1100px;margin:0 auto;padding:0 1rem}
.skip{position:absolute;left:-999px;top:0;background:#000;color:#fff;padding:.5rem 1rem;z-index:10}
.skip:focus{left:0}
:focus-visible{outline:3px solid #f59e0b;outline-offset:2px}
h1{margin:1rem 0 .25rem;font-size:1.6rem}
h2{margin:2rem 0 .5rem;font-size:1.3rem;border-bottom:1px solid var(--line)}
.meta{color:var(--muted);margin:0}
.verdict{border:3px solid;border-radius:6px;padding:.5rem 1rem;margin-top:1rem}
.verdict h2{border:none;margin:.25rem 0;font-size:1.6rem}
.verdict.proceed{border-color:var(--ok)}.verdict.proceed h2{color:var(--ok)}
.verdict.investigate{border-color:var(--bad)}.verdict.investigate h2{color:var(--bad)}
.reasons{list-style:none;padding:0}.reasons li{margin:.25rem 0}
.badge{display:inline-block;min-width:3.5rem;text-align:center;font-size:.75rem;font-weight:700;border-radius:3px;padding:0 .3rem;color:#fff}
.badge.pass{background:var(--ok)}.badge.fail{background:var(--bad)}.badge.info{background:var(--info)}
table{border-collapse:collapse;margin:.75rem 0;font-size:.9rem}
caption{text-align:left;font-weight:600;padding:.25rem 0}
th,td{border:1px solid var(--line);padding:.2rem .5rem;text-align:left;vertical-align:top}
.numbers td{text-align:right;font-variant-numeric:tabular-nums}
thead th{background:#f3f4f6}
.delta.better{color:var(--ok)}.delta.worse{color:var(--bad)}
figure{margin:1rem 0}
figcaption{margin-bottom:.5rem}
.chart{min-height:300px}
.series-toggles button{font:inherit;font-size:.85rem;margin:0 .5rem .25rem 0;padding:.1rem .6rem;border:2px solid var(--sw);border-radius:4px;background:#fff;cursor:pointer}
.series-toggles button[aria-pressed=false]{opacity:.45;text-decoration:line-through}
.series-toggles .sw{display:inline-block;width:.8rem;height:.8rem;background:var(--sw);margin-right:.35rem;vertical-align:-1px}
details{margin:.5rem 0}
summary{cursor:pointer;color:#1d4ed8}
details table{font-size:.8rem}
.note{color:var(--muted);font-size:.9rem}
.visually-hidden{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}
@media print{
  .skip,.series-toggles,summary{display:none}
  body{font-size:11pt}
  main,header,footer{max-width:none}
  section,figure,table{break-inside:avoid}
  details table{break-inside:auto}
  a{color:inherit;text-decoration:none}
}
`;

/**
 * The page script: draws each chart from the embedded JSON with uPlot, wires the series toggles,
 * resizes with the window and for printing. Marks each drawn chart `data-rendered="true"` and the
 * body `data-charts="ready"` when all are drawn (the browser test waits for it).
 */
const SCRIPT = String.raw`
(function () {
  'use strict';
  var M = JSON.parse(document.getElementById('report-data').textContent);
  var D = M.charts;
  var COLOR = { baseline: getVar('--baseline'), candidate: getVar('--candidate'), baseline_repeat: getVar('--repeat') };
  var charts = [];
  function getVar(n) { return getComputedStyle(document.documentElement).getPropertyValue(n).trim(); }
  function color(arm) { return COLOR[arm] || '#7c3aed'; }
  function width(el) { return Math.max(320, Math.min(el.clientWidth || 900, 1068)); }
  function fmtMs(v) { return v == null ? '—' : (Math.round(v * 100) / 100) + ' ms'; }
  function lines(list) {
    // Vertical (x) or horizontal (y) dashed reference lines drawn over the plot.
    return { hooks: { draw: [function (u) {
      var ctx = u.ctx, dpr = window.devicePixelRatio || 1, b = u.bbox;
      ctx.save(); ctx.lineWidth = dpr; ctx.setLineDash([5 * dpr, 4 * dpr]); ctx.font = (11 * dpr) + 'px system-ui,sans-serif';
      list.forEach(function (m, k) {
        if (m.value == null) return;
        ctx.strokeStyle = ctx.fillStyle = m.color; ctx.beginPath();
        if (m.axis === 'y') {
          var y = Math.round(u.valToPos(m.value, 'y', true)); if (y < b.top || y > b.top + b.height) return;
          ctx.moveTo(b.left, y); ctx.lineTo(b.left + b.width, y); ctx.stroke(); ctx.fillText(m.label, b.left + 4 * dpr, y - 3 * dpr);
        } else {
          var x = Math.round(u.valToPos(m.value, 'x', true)); if (x < b.left || x > b.left + b.width) return;
          ctx.moveTo(x, b.top); ctx.lineTo(x, b.top + b.height); ctx.stroke(); ctx.fillText(m.label, x + 3 * dpr, b.top + (12 + 12 * (k % 6)) * dpr);
        }
      });
      ctx.restore();
    }] } };
  }
  function make(id, opts, data) {
    var el = document.getElementById(id);
    if (!el || !data || !data[0] || data[0].length === 0) { if (el) { el.textContent = 'No data to plot.'; el.dataset.rendered = 'true'; } return; }
    opts.width = width(el); opts.height = 300; opts.legend = { show: false };
    opts.cursor = opts.cursor || { drag: { x: true, y: false } };
    var u = new uPlot(opts, data, el);
    charts.push({ u: u, el: el });
    var group = document.querySelector('.series-toggles[data-for="' + id + '"]');
    if (group) opts.series.forEach(function (s, i) {
      if (i === 0) return;
      var b = document.createElement('button'); b.type = 'button'; b.setAttribute('aria-pressed', 'true');
      b.style.setProperty('--sw', s.stroke); b.innerHTML = '<span class="sw" aria-hidden="true"></span>'; b.appendChild(document.createTextNode(s.label));
      b.addEventListener('click', function () { var on = b.getAttribute('aria-pressed') !== 'true'; b.setAttribute('aria-pressed', String(on)); u.setSeries(i, { show: on }); });
      group.appendChild(b);
    });
    el.dataset.rendered = 'true';
  }
  var numX = { x: { time: false } };
  function axes(xLabel, yLabel, yFmt) {
    return [{ label: xLabel }, { label: yLabel, size: 60, values: yFmt ? function (u, v) { return v.map(yFmt); } : undefined }];
  }
  // TTFT CDF: one line per arm, joined on the union of their x values.
  var cdf = D.ttft_cdf;
  var cdfTables = cdf.arms.map(function (a) { return [a.values, cdf.probabilities]; });
  var cdfMarks = [];
  M.markers.forEach(function (m) { ['p50', 'p90', 'p99'].forEach(function (p) { cdfMarks.push({ value: m[p], color: color(m.arm), label: m.arm + ' ' + p.toUpperCase() }); }); });
  make('chart-ttft-cdf', {
    scales: { x: { time: false }, y: { range: [0, 1] } },
    axes: axes('TTFT (ms)', 'share of requests', function (v) { return Math.round(v * 100) + ' %'; }),
    series: [{}].concat(cdf.arms.map(function (a) { return { label: a.arm, stroke: color(a.arm), width: 2, spanGaps: true, dash: a.arm === 'baseline_repeat' ? [6, 4] : undefined }; })),
    plugins: [lines(cdfMarks)]
  }, cdfTables.length ? uPlot.join(cdfTables) : null);
  // Latency over time: P50 solid, P99 dashed.
  var t = D.over_time;
  make('chart-over-time', {
    scales: numX, axes: axes('seconds since run start (send time)', 'TTFT (ms)'),
    series: [{}].concat([].concat.apply([], t.arms.map(function (a) { return [
      { label: a.arm + ' P50', stroke: color(a.arm), width: 1.5 },
      { label: a.arm + ' P99', stroke: color(a.arm), width: 1.5, dash: [6, 4] }]; })))
  }, [t.start_s].concat([].concat.apply([], t.arms.map(function (a) { return [a.ttft_p50_ms, a.ttft_p99_ms]; }))));
  // Histograms: stepped areas over the bin edges (the last count repeated to close the last bin).
  function steps(h) { return h.counts.concat([h.counts[h.counts.length - 1]]); }
  function shares(h) { return steps(h).map(function (c) { return c / h.total; }); }
  var imp = D.ttft_improvement;
  make('chart-improvement', imp ? {
    scales: numX, axes: axes('baseline − candidate TTFT (ms); right = candidate faster', 'pairs'),
    series: [{}, { label: 'pairs', stroke: color('candidate'), fill: 'rgba(194,65,12,0.25)', paths: uPlot.paths.stepped({ align: 1 }) }],
    plugins: [lines([{ value: 0, color: '#111', label: 'no change' }, { value: imp.mean, color: color('candidate'), label: 'mean ' + fmtMs(imp.mean) }])]
  } : {}, imp ? [imp.edges, steps(imp)] : null);
  var s = D.similarity, base = s.candidate || s.repeat;
  var simSeries = [{}], simData = base ? [base.edges] : null;
  if (s.candidate) { simSeries.push({ label: 'baseline vs candidate', stroke: color('candidate'), fill: 'rgba(194,65,12,0.25)', paths: uPlot.paths.stepped({ align: 1 }) }); simData.push(shares(s.candidate)); }
  if (s.repeat) { simSeries.push({ label: 'baseline vs repeat (A/A)', stroke: color('baseline_repeat'), dash: [6, 4], width: 2, paths: uPlot.paths.stepped({ align: 1 }) }); simData.push(shares(s.repeat)); }
  make('chart-similarity', {
    scales: { x: { time: false, range: [0, 1] } }, axes: axes('similarity ratio', 'share of pairs', function (v) { return Math.round(v * 1000) / 10 + ' %'; }),
    series: simSeries, plugins: [lines([{ value: s.threshold, color: '#111', label: 'threshold ' + s.threshold }])]
  }, simData);
  make('chart-lag-skew', {
    scales: numX, axes: axes('seconds since run start (send time)', 'ms'),
    series: [{}].concat(t.arms.map(function (a) { return { label: a.arm + ' send lag P99', stroke: color(a.arm), width: 1.5 }; }))
      .concat([{ label: 'P99 |arm skew|', stroke: '#7c3aed', width: 1.5, dash: [2, 3] }]),
    plugins: [lines([{ axis: 'y', value: M.limits.send_lag_ms, color: '#b3261e', label: 'send lag limit' }, { axis: 'y', value: M.limits.arm_skew_ms, color: '#7c3aed', label: 'skew limit' }])]
  }, [t.start_s].concat(t.arms.map(function (a) { return a.send_lag_p99_ms; })).concat([t.arm_skew_abs_p99_ms]));
  function resize(w) { charts.forEach(function (c) { c.u.setSize({ width: w || width(c.el), height: 300 }); }); }
  var pending = 0;
  window.addEventListener('resize', function () { cancelAnimationFrame(pending); pending = requestAnimationFrame(function () { resize(); }); });
  var closed = [];
  window.addEventListener('beforeprint', function () {
    document.querySelectorAll('details:not([open])').forEach(function (d) { d.open = true; closed.push(d); });
    resize(680);
  });
  window.addEventListener('afterprint', function () { closed.forEach(function (d) { d.open = false; }); closed = []; resize(); });
  document.body.dataset.charts = 'ready';
})();
`;

export function htmlReport(input: HtmlReportInput): string {
  const { report, charts, assets } = input;
  const serverMetrics = input.serverMetrics ?? report.server_metrics ?? [];
  const decision = report.verdict.decision;
  const notes = [...report.notes, ...report.records.warnings.map((w) => `Warning: ${w}`)];
  const title = `shadowbench — ${report.run_id} — ${decision}`;
  const arms = report.arms.map((a) => a.arm);
  const pairLine =
    arms.includes(BASELINE) && arms.includes(CANDIDATE) ? `${report.comparison.ok_pairs} ok pairs` : 'no baseline/candidate pair';
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:">
<title>${esc(title)}</title>
<style>${assets.uplotCss}</style>
<style>${CSS}${DIVERGENCE_CSS}</style>
</head>
<body>
<a class="skip" href="#main">Skip to the report</a>
<header>
<h1>shadowbench report</h1>
<p class="meta">Run <code>${esc(report.run_id)}</code> · ${esc(arms.join(', '))} · ${report.records.read} records · ${pairLine}</p>
</header>
<main id="main" tabindex="-1">
${verdictSection(report)}
${input.regression ? regressionSection(input.regression) : ''}
${sideBySideSection(report, serverMetrics)}
<section aria-labelledby="distribution-title"><h2 id="distribution-title">TTFT distribution</h2>
${cdfFigure(report, charts)}
</section>
<section aria-labelledby="time-title"><h2 id="time-title">Latency over time</h2>
${overTimeFigure(charts)}
</section>
<section aria-labelledby="pairs-title"><h2 id="pairs-title">Paired improvement</h2>
${improvementFigure(charts)}
</section>
<section aria-labelledby="similarity-title"><h2 id="similarity-title">Output similarity</h2>
${similarityFigure(report, charts)}
</section>
${divergenceSection(report, input.divergence ?? [])}
<section aria-labelledby="lag-title"><h2 id="lag-title">Send lag and arm skew</h2>
${lagSkewFigure(report, charts)}
</section>
<section aria-labelledby="notes-title"><h2 id="notes-title">Notes</h2>
<ul>
${notes.map((n) => `<li>${esc(n)}</li>`).join('\n')}
</ul>
</section>
</main>
<footer><p class="note">Generated by shadowbench from records.jsonl; the figures are those of summary.json (schema ${esc(report.schema)} v${report.version}).</p></footer>
<script type="application/json" id="report-data">${scriptJson(viewModel(report, charts))}</script>
<script>${assets.uplotJs.replace(/<\/script/gi, '<\\/script')}</script>
<script>${SCRIPT}</script>
<script>${DIVERGENCE_SCRIPT}</script>
</body>
</html>
`;
}
