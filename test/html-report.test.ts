import test from 'ava';
import { analyzeRecords } from '../analysis/analyze.ts';
import { bucketPercentiles, bucketWidth, CDF_PROBABILITIES, chartData, fixedHistogram, histogram, MAX_BUCKETS } from '../report/charts.ts';
import { DEFAULT_GATES } from '../analysis/gates.ts';
import { CHART_IDS, htmlReport } from '../report/html-report.ts';
import { deltaDirection, formatDelta, formatValue, sideBySide } from '../report/side-by-side.ts';
import { costsForArms } from '../analysis/cost.ts';
import { withServerFigures } from '../analysis/report.ts';
import { summaryMarkdown } from '../report/summary-md.ts';
import { percentile } from '../analysis/stats/stats.ts';
import type { ServerMetrics } from '../analysis/server-metrics.ts';
import { readReportAssets } from '../pipeline/report-assets.ts';
import { fixtureRun, goldenRun, outputsFixture } from './fixtures/analysis/build-run.ts';
import { divergenceRows } from '../report/divergence.ts';
import { syntheticRecords } from './fixtures/report/synthetic.ts';

const assets = await readReportAssets();

test("chart aggregates of the fixture run: CDF at the report's percentiles, histograms that add up, per-second buckets", (t) => {
  const { report, collector } = analyzeRecords(goldenRun(), DEFAULT_GATES);
  const charts = chartData(collector, report);
  t.deepEqual(
    charts.ttft_cdf.arms.map((a) => a.arm),
    ['baseline', 'candidate', 'baseline_repeat'],
  );
  for (const a of charts.ttft_cdf.arms) {
    const arm = report.arms.find((x) => x.arm === a.arm);
    t.is(a.count, arm?.metrics.ttft_ms?.count as number);
    t.is(a.values[CDF_PROBABILITIES.indexOf(0.5)], Math.round((arm?.metrics.ttft_ms?.p50 as number) * 1e4) / 1e4);
    t.is(a.values[CDF_PROBABILITIES.indexOf(0.99)], Math.round((arm?.metrics.ttft_ms?.p99 as number) * 1e4) / 1e4);
    t.is(a.values[0], arm?.metrics.ttft_ms?.min);
    t.is(a.values[a.values.length - 1], arm?.metrics.ttft_ms?.max);
  }
  t.true(CDF_PROBABILITIES.length <= 200);
  // 26 ok pairs; every improvement is exactly 5 ms (the fixture shifts the candidate by −5 ms)
  const imp = charts.ttft_improvement;
  t.is(imp?.total, report.comparison.ok_pairs);
  t.is((imp?.counts.reduce((a, b) => a + b, 0) ?? 0) + (imp?.below ?? 0) + (imp?.above ?? 0), report.comparison.ok_pairs);
  const fiveBin = imp ? imp.edges.findIndex((e, k) => e <= 5 && 5 < (imp.edges[k + 1] as number)) : -1;
  t.is(imp?.counts[fiveBin], 26);
  // similarity: 26 candidate pairs, 2 divergent ones below the 0.9 threshold; the A/A repeat has 29 pairs
  const sim = charts.similarity;
  t.is(sim.candidate?.total, 26);
  t.is(sim.repeat?.total, 29);
  const below = (h: typeof sim.candidate) => h?.counts.slice(0, 45).reduce((a, b) => a + b, 0);
  t.is(below(sim.candidate), 2);
  t.is(below(sim.repeat), 1);
  t.is(sim.candidate?.counts[49], 24);
  // requests every 100 ms from index 1 (0.1 s) to 30 (3.0 s): 1 s buckets starting at 0
  t.is(charts.over_time.bucket_s, 1);
  t.deepEqual(charts.over_time.start_s, [0, 1, 2, 3]);
  const base = charts.over_time.arms.find((a) => a.arm === 'baseline');
  t.deepEqual(base?.requests, [9, 10, 10, 1]);
});

test('bucketPercentiles equals numpy percentiles per group; bucket width widens to stay under MAX_BUCKETS', (t) => {
  const bucket = Int32Array.from([0, 1, 0, 2, 0, 1, -1, 2]);
  const values = Float64Array.from([5, 10, 1, 7, 3, 20, 99, Number.NaN]);
  const [p50, p99] = bucketPercentiles(bucket, values, 4, [50, 99]);
  t.deepEqual(p50, [percentile([5, 1, 3], 50), percentile([10, 20], 50), 7, null]);
  t.deepEqual(p99, [percentile([5, 1, 3], 99), percentile([10, 20], 99), 7, null]);
  t.is(bucketWidth(30), 1);
  t.is(bucketWidth(1999), 1);
  t.is(bucketWidth(2000), 2);
  t.is(bucketWidth(3 * 3600), 10);
  t.true(Math.floor((48 * 3600) / bucketWidth(48 * 3600)) + 1 <= MAX_BUCKETS);
});

test('histograms: ≤ 60 nice bins over P0.5–P99.5, tails counted apart; fixed bins include the top edge', (t) => {
  const values = Float64Array.from({ length: 1000 }, (_, i) => i);
  values[999] = 1e6; // one far outlier must not squash the plot
  const h = histogram(values);
  t.truthy(h);
  if (!h) return;
  t.true(h.counts.length <= 60);
  t.is(h.counts.reduce((a, b) => a + b, 0) + h.below + h.above, 1000);
  t.is(h.above, 1, 'only the outlier is outside the plotted range');
  t.true((h.edges[h.edges.length - 1] as number) < 2000);
  const f = fixedHistogram(Float64Array.from([0, 0.5, 0.9, 1]), 0, 0.02, 50);
  t.is(f.counts[0], 1);
  t.is(f.counts[25], 1);
  t.is(f.counts[45], 1, '0.9 lands in [0.9, 0.92), at or above the threshold');
  t.is(f.counts[49], 1, '1.0 lands in the last bin');
});

test('report.html: verdict and reasons first, side-by-side table, every chart with its text alternative, self-contained', (t) => {
  const { report, collector } = analyzeRecords(goldenRun(), DEFAULT_GATES);
  const html = htmlReport({ report, charts: chartData(collector, report), assets });
  const verdictAt = html.indexOf('Verdict: INVESTIGATE');
  t.true(verdictAt > 0);
  t.true(verdictAt < html.indexOf('Side by side'));
  const esc = (s: string) =>
    s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
  for (const r of report.verdict.reasons) t.true(html.includes(esc(r.message)), r.rule);
  for (const id of CHART_IDS) {
    t.regex(html, new RegExp(`<div class="chart" id="${id}" role="img" aria-label="[^"]+"></div>`), id);
    t.regex(html, new RegExp(`data-for="${id}"`), id);
  }
  t.is((html.match(/<details>/g) ?? []).length, CHART_IDS.length);
  t.regex(html, /<a class="skip" href="#main">/);
  t.regex(
    html,
    /<th scope="row">TTFT P99<\/th><td>61\.72 ms<\/td><td>56\.74 ms<\/td><td>62\.71 ms<\/td><td><span class="delta better">−4\.98 ms \(−8\.1 %\)/,
  );
  t.regex(html, /@media print/);
  t.regex(html, /Content-Security-Policy" content="default-src 'none'/);
  t.notRegex(html, /(src|href)="(https?:)?\/\//);
  t.false(html.includes('KV-cache'), 'no KV-cache row when the run was not scraped');
  const data = JSON.parse(/<script type="application\/json" id="report-data">(.*?)<\/script>/s.exec(html)?.[1] ?? 'null');
  t.deepEqual(data.charts, JSON.parse(JSON.stringify(chartData(collector, report))));
});

test('report.html escapes what comes from the records, and shows the KV-cache hit rate when scraped', (t) => {
  const { report, collector } = analyzeRecords(fixtureRun({ runId: 'x</script><b>"&' }), DEFAULT_GATES);
  const server = (arm: string, rate: number): ServerMetrics => ({
    arm,
    scrapes: 10,
    gaps: 0,
    gap_list: [],
    span_s: 9,
    prefix_cache: { queries: 100, hits: rate * 100, hit_rate: rate },
    requests_running: null,
    requests_waiting: null,
    kv_cache_usage_pct: null,
    gpu_utilization_pct: null,
  });
  const html = htmlReport({
    report,
    charts: chartData(collector, report),
    assets,
    serverMetrics: [server('baseline', 0.25), server('candidate', 0.5)],
  });
  t.false(html.includes('x</script><b>'));
  t.true(html.includes('x&lt;/script&gt;&lt;b&gt;&quot;&amp;'));
  t.regex(
    html,
    /<th scope="row">KV-cache \(prefix\) hit rate<\/th><td>25\.00 %<\/td><td>50\.00 %<\/td><td>—<\/td><td><span class="delta better">\+25\.00 pt/,
  );
  const table = sideBySide(report, [server('candidate', 0.5)]);
  t.deepEqual(table.rows.at(-1)?.values, [null, 0.5, null]);
});

test("side by side (report.html, summary.md): GPU utilisation without a better direction and cost rows, taken from the report's own server_metrics and cost", (t) => {
  const { report: plain, collector } = analyzeRecords(fixtureRun({ runId: 'r' }), DEFAULT_GATES);
  t.deepEqual(withServerFigures(plain, [], []), plain, 'nothing scraped or priced: the summary is unchanged');
  const server = (arm: string, gpuPct: number): ServerMetrics => ({
    arm,
    scrapes: 4,
    gaps: 0,
    gap_list: [],
    span_s: 3,
    prefix_cache: null,
    requests_running: null,
    requests_waiting: null,
    kv_cache_usage_pct: null,
    gpu_utilization_pct: { mean: gpuPct, max: gpuPct, samples: 4, gpus: 2 },
  });
  const costs = costsForArms(
    { baseline: { cost_per_hour: 12, basis: { kind: 'direct' } }, candidate: { cost_per_hour: 8, basis: { kind: 'direct' } } },
    plain.arms,
  );
  const report = withServerFigures(plain, [server('baseline', 40), server('candidate', 60)], costs);
  const rows = sideBySide(report).rows;
  t.deepEqual(
    rows.slice(-4).map((r) => r.label),
    ['GPU utilisation (mean)', 'Monthly cost', 'Cost per 1,000 queries', 'Cost per 1M output tokens'],
  );
  t.false(
    rows.some((r) => r.label.startsWith('KV-cache')),
    'no prefix-cache counters: no KV-cache row',
  );
  const gpu = rows.find((r) => r.label === 'GPU utilisation (mean)')!;
  t.deepEqual(gpu.values, [0.4, 0.6, null]);
  t.is(deltaDirection(gpu), null);
  const monthly = rows.find((r) => r.label === 'Monthly cost')!;
  t.deepEqual(monthly.values, [8760, 5840, null]);
  t.is(formatValue(monthly.values[0]!, 'price'), '8,760.00');
  t.is(formatDelta(monthly), '−2,920.00 (−33.3 %)');
  t.is(deltaDirection(monthly), 'better');
  t.is(formatValue(0.000412, 'price'), '0.000412');
  const perQuery = rows.find((r) => r.label === 'Cost per 1,000 queries')!;
  const base = report.arms.find((a) => a.arm === 'baseline')!;
  t.is(perQuery.values[0], (12 / (base.throughput.ok_requests_per_s! * 3600)) * 1000);

  const html = htmlReport({ report, charts: chartData(collector, report), assets });
  t.regex(
    html,
    /<th scope="row">GPU utilisation \(mean\)<\/th><td>40\.00 %<\/td><td>60\.00 %<\/td><td>—<\/td><td><span class="delta ">\+20\.00 pt<\/span>/,
  );
  t.regex(html, /<th scope="row">Monthly cost<\/th><td>8,760\.00<\/td><td>5,840\.00<\/td>/);
  t.true(html.includes('not by maximum capacity'), 'the cost caveat is among the notes');
  const md = summaryMarkdown(report, null, 0);
  t.regex(md, /\| Cost per 1M output tokens \| [\d.,]+ \| [\d.,]+ \| — \| −/);
  t.regex(md, /Costs use the throughput measured at the tested load, not maximum capacity; monthly = 730 h\./);
});

test('a large run aggregates: report size does not grow with the records', (t) => {
  // 60,000 paired requests at 10 QPS = 100 minutes: 6,000 one-second buckets, widened to 5 s
  const { report, collector } = analyzeRecords(syntheticRecords(60_000, { qps: 10 }), {
    ...DEFAULT_GATES,
    bootstrap: { ...DEFAULT_GATES.bootstrap, resamples: 50 },
  });
  const charts = chartData(collector, report);
  t.is(charts.over_time.bucket_s, 5);
  t.true(charts.over_time.start_s.length <= MAX_BUCKETS);
  const html = htmlReport({ report, charts, assets });
  t.true(html.length < 1_000_000, `${html.length} bytes`);
  // the warm-up shows: candidate P50 of the first bucket is well above the steady state
  const cand = charts.over_time.arms.find((a) => a.arm === 'candidate');
  t.true((cand?.ttft_p50_ms[0] as number) > 1.4 * (cand?.ttft_p50_ms[100] as number));
});

test('report.html divergence explorer: worst pairs with word diffs, badges, filters; escaped; absent rows give the counts only', (t) => {
  const records = outputsFixture({
    indices: 30,
    withRepeat: true,
    divergent: [11, 12],
    output: (r) => {
      if (r.index === 11) r.output_text += r.arm === 'candidate' ? ' <script>alert(1)</script> & more' : ' & less';
    },
  });
  const { report, collector } = analyzeRecords(records, DEFAULT_GATES);
  const rows = divergenceRows(collector, report);
  const html = htmlReport({ report, charts: chartData(collector, report), assets, divergence: rows });
  t.regex(html, /<section id="divergence" aria-labelledby="divergence-title"><h2 id="divergence-title">Why pairs diverge<\/h2>/);
  const articles = html.match(/<article class="pair" id="pair-\d+" data-kinds="[a-z_ ]+"/g) ?? [];
  // text 11, 12; tool name 4; tool arguments 2, 3; finish reason 5; reasoning 6, 7: each pair once
  t.is(articles.length, 8);
  t.regex(html, /<article class="pair" id="pair-2" data-kinds="tool_arguments"/);
  t.regex(html, /<del>Paris<\/del>/);
  t.regex(html, /<ins>London<\/ins>/);
  t.regex(html, /<span class="kind tool_arguments failed"[^>]*>tool arguments 0<\/span>/);
  t.regex(html, /<span class="kind reasoning" title="reported only">reasoning 0\.533<\/span>/);
  t.regex(html, /baseline repeat \(A\/A\) · 1<\/h4>/);
  t.regex(html, /<button type="button" data-kind="tool_arguments" aria-pressed="false">tool arguments \(2\)<\/button>/);
  t.false(html.includes('<script>alert(1)'), 'output text is escaped');
  t.true(html.includes('&lt;script&gt;alert'));
  t.regex(html, /First divergence in the answer after \d+ words? \(character \d+\)/);
  // without rows (the exporter was not given them): the counts, no article
  const bare = htmlReport({ report, charts: chartData(collector, report), assets });
  t.regex(bare, /No inconsistent pairs|pairs inconsistent/);
  t.false(bare.includes('<article'));
});

test('the explorer stays bounded: a run of 3,000 diverging pairs embeds at most 20 pairs per kind, and long equal runs collapse', (t) => {
  const records = fixtureRun({ indices: 3000, withRepeat: false, divergent: Array.from({ length: 3000 }, (_, i) => i) });
  const { report, collector } = analyzeRecords(records, { ...DEFAULT_GATES, bootstrap: { ...DEFAULT_GATES.bootstrap, resamples: 20 } });
  const rows = divergenceRows(collector, report);
  t.is(rows.filter((r) => r.kind === 'text').length, 20);
  const html = htmlReport({ report, charts: chartData(collector, report), assets, divergence: rows });
  t.is((html.match(/<article class="pair"/g) ?? []).length, 20);
  const small = fixtureRun({ indices: 40, withRepeat: false, divergent: [3] });
  const one = analyzeRecords(small, DEFAULT_GATES);
  t.true(
    html.length -
      htmlReport({
        report: one.report,
        charts: chartData(one.collector, one.report),
        assets,
        divergence: divergenceRows(one.collector, one.report),
      }).length <
      200_000,
  );
  // 200 equal words around one change: the equal runs collapse to their ends
  const long = Array.from({ length: 200 }, (_, k) => `word${k}`).join(' ');
  const pair = fixtureRun({
    indices: 22,
    withRepeat: false,
    output: (r) => {
      if (r.index === 5) r.output_text = `${long} ${r.arm === 'candidate' ? 'changed' : 'original'} ${long}`;
    },
  });
  const strict = { ...DEFAULT_GATES, proceed: { ...DEFAULT_GATES.proceed, similarity_threshold: 0.999 } };
  const analysed = analyzeRecords(pair, strict);
  const page = htmlReport({
    report: analysed.report,
    charts: chartData(analysed.collector, analysed.report),
    assets,
    divergence: divergenceRows(analysed.collector, analysed.report),
  });
  t.regex(page, /<details class="same"><summary>… 176 unchanged words …<\/summary>/);
  t.regex(page, /<del id="pair-5-d">original<\/del>/);
  t.regex(page, /<span class="gap" id="pair-5-d-c"><\/span><ins>changed<\/ins>/); // where the baseline had its word
});
