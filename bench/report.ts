// report.html of a 1,000,000-record run: how long building it takes, how big it is, and how long
// Debian's headless chromium takes to open it and draw every chart (targets: < 5 MB, < 3 s).
// Also the cost of the nightly regression gate (bootstrap of both runs) at that size.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { analyzeRecords } from '../analysis/analyze.ts';
import { chartData } from '../report/charts.ts';
import { DEFAULT_GATES } from '../analysis/gates.ts';
import { htmlReport } from '../report/html-report.ts';
import { compareRuns, regressionSamples } from '../analysis/regression.ts';
import { readReportAssets } from '../pipeline/report-assets.ts';
import { syntheticRecords } from '../test/fixtures/report/synthetic.ts';
import { chromiumAvailable, CHROMIUM, openReport } from '../test/support/chromium.ts';
import type { Benchmark, BenchTable } from './run.ts';

const INDICES = 500_000; // × 2 arms = 1,000,000 records
const QPS = 130; // ≈ 64 min: 1,924 two-second buckets, the most the over-time charts plot

export const benchmark: Benchmark = {
  name: 'report',
  async run(): Promise<BenchTable[]> {
    const seconds = (from: number) => (performance.now() - from) / 1000;
    let at = performance.now();
    const { report, collector } = analyzeRecords(syntheticRecords(INDICES, { qps: QPS }), DEFAULT_GATES);
    const analyseS = seconds(at);
    at = performance.now();
    const charts = chartData(collector, report);
    const chartsS = seconds(at);
    at = performance.now();
    const html = htmlReport({ report, charts, assets: await readReportAssets() });
    const htmlS = seconds(at);
    const mb = Buffer.byteLength(html) / 1e6;
    at = performance.now();
    const samples = regressionSamples(collector, report);
    const regression = compareRuns(samples, samples, DEFAULT_GATES);
    const regressionS = seconds(at);

    const rows: Array<Array<string | number>> = [
      ['records', collector.records.toLocaleString('en-US'), ''],
      ['analyse (collector + report, inline similarity)', analyseS, 's'],
      ['chart aggregates', chartsS, 's'],
      ['render report.html', htmlS, 's'],
      ['report.html size', mb, 'MB (target < 5)'],
      ['over-time buckets', `${charts.over_time.start_s.length} × ${charts.over_time.bucket_s} s`, ''],
      [
        `regression gate (4 rules, ${DEFAULT_GATES.bootstrap.resamples} resamples × 2 runs)`,
        regressionS,
        `s (${regression.rules.map((r) => r.status).join(', ')})`,
      ],
    ];
    const notes: string[] = [];
    if (chromiumAvailable()) {
      const dir = mkdtempSync(join(tmpdir(), 'sb-bench-report-'));
      writeFileSync(join(dir, 'report.html'), html);
      const loads: number[] = [];
      try {
        for (let k = 0; k < 3; k++) {
          const opened = await openReport(join(dir, 'report.html'));
          loads.push(opened.loadMs);
          if (opened.errors.length > 0 || opened.requests.length > 0)
            notes.push(`load ${k + 1}: ${opened.errors.length} console errors, ${opened.requests.length} network requests`);
          await opened.close();
        }
      } finally {
        rmSync(dir, { recursive: true });
      }
      loads.sort((a, b) => a - b);
      rows.push([
        'chromium: open until every chart is drawn (median of 3)',
        (loads[1] as number) / 1000,
        `s (target < 3; min ${((loads[0] as number) / 1000).toFixed(2)}, max ${((loads[2] as number) / 1000).toFixed(2)})`,
      ]);
    } else {
      notes.push(`${CHROMIUM} not found: browser load time not measured (apt-get install chromium).`);
    }
    notes.push(
      'Load time: page.goto(file://…) until body[data-charts="ready"], i.e. every uPlot chart drawn; fresh browser profile each time.',
    );
    return [
      {
        title: `report.html of a ${collector.records.toLocaleString('en-US')}-record run`,
        columns: ['what', 'value', 'unit'],
        rows,
        notes,
      },
    ];
  },
};
