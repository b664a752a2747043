// report.html in a real headless browser (Debian's chromium via playwright-core): it loads with no
// console error and no network request, the verdict and every chart are there, it is usable from
// the keyboard and prints without its controls; a large run's report stays small and draws every chart (its load time is measured by npm run bench -- report).
import test from 'ava';
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { serializeRecord } from '../core/record.ts';
import { analyzeRecords } from '../analysis/analyze.ts';
import { chartData } from '../report/charts.ts';
import { DEFAULT_GATES } from '../analysis/gates.ts';
import { CHART_IDS, htmlReport } from '../report/html-report.ts';
import { analyzeRunFolder } from '../pipeline/analyze-folder.ts';
import { readReportAssets } from '../pipeline/report-assets.ts';
import { goldenRun } from './fixtures/analysis/build-run.ts';
import { syntheticRecords } from './fixtures/report/synthetic.ts';
import { CHROMIUM, chromiumAvailable, openReport } from './support/chromium.ts';

const OUTPUT = fileURLToPath(new URL('output/', import.meta.url));
const available = chromiumAvailable();
// In CI a missing browser is a failure (the .ci/run script installs it); elsewhere the tests skip and say why.
const browserTest = available || process.env.CI === 'true' ? test.serial : test.skip;
if (!available)
  console.warn(
    `browser tests: ${CHROMIUM} not found (apt-get install chromium)${process.env.CI === 'true' ? ' — failing, CI must have it' : ' — skipped'}`,
  );

browserTest(
  "the fixture run's report.html loads offline with no errors; verdict, table and every chart are shown; screenshot",
  async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'sb-browser-'));
    writeFileSync(
      join(dir, 'records.jsonl'),
      goldenRun()
        .map((r) => serializeRecord(r) + '\n')
        .join(''),
    );
    await analyzeRunFolder(dir, { quiet: true });
    const opened = await openReport(join(dir, 'report.html'));
    try {
      const { page } = opened;
      t.deepEqual(opened.requests, [], 'no network request');
      t.deepEqual(opened.errors, [], 'no console error');
      t.is(await page.locator('h2#verdict-title').innerText(), 'Verdict: INVESTIGATE');
      t.true(await page.locator('.verdict').isVisible());
      t.is(await page.locator('.reasons li').count(), await page.locator('.reasons .badge').count());
      t.true((await page.locator('table.numbers th[scope="row"]').allInnerTexts()).includes('TTFT P99'));
      for (const id of CHART_IDS) {
        const chart = page.locator(`#${id}`);
        t.is(await chart.getAttribute('data-rendered'), 'true', id);
        t.true(await chart.locator('canvas').first().isVisible(), `${id} has a visible canvas`);
        const box = await chart.locator('canvas').first().boundingBox();
        t.true((box?.width ?? 0) > 300 && (box?.height ?? 0) > 100, `${id} canvas is drawn at a readable size`);
      }
      mkdirSync(OUTPUT, { recursive: true });
      await page.screenshot({ path: join(OUTPUT, 'report.png'), fullPage: true });
      t.true(statSync(join(OUTPUT, 'report.png')).size > 10_000);

      // Keyboard: the first Tab reaches the skip link, which moves focus to the report.
      await page.keyboard.press('Tab');
      t.is(await page.evaluate('document.activeElement?.className'), 'skip');
      await page.keyboard.press('Enter');
      t.is(await page.evaluate('document.activeElement?.id'), 'main');
      // A series toggle is a real button: Space hides the series and says so.
      const toggle = page.locator('.series-toggles[data-for="chart-ttft-cdf"] button').first();
      await toggle.focus();
      await page.keyboard.press('Space');
      t.is(await toggle.getAttribute('aria-pressed'), 'false');
      // The data tables open from the keyboard.
      const summary = page.locator('#chart-ttft-cdf ~ details summary');
      await summary.focus();
      await page.keyboard.press('Enter');
      t.true(await page.locator('#chart-ttft-cdf ~ details table').isVisible());

      // Print: controls hidden, tables kept.
      await page.emulateMedia({ media: 'print' });
      t.false(await toggle.isVisible());
      t.false(await page.locator('a.skip').isVisible());
      t.true(await page.locator('table.numbers').first().isVisible());
      t.deepEqual(opened.errors, []);
    } finally {
      await opened.close();
      rmSync(dir, { recursive: true });
    }
  },
);

browserTest("a large run's report stays small and draws every chart", async (t) => {
  // 100,000 paired requests at 26 QPS (≈ 64 min): 1,924 two-second buckets, the most the over-time charts plot
  const { report, collector } = analyzeRecords(syntheticRecords(100_000, { qps: 26 }), {
    ...DEFAULT_GATES,
    bootstrap: { ...DEFAULT_GATES.bootstrap, resamples: 50 },
  });
  const charts = chartData(collector, report);
  t.true(charts.over_time.start_s.length > 1900);
  const html = htmlReport({ report, charts, assets: await readReportAssets() });
  t.true(html.length < 5_000_000, `${(html.length / 1e6).toFixed(2)} MB`);
  const dir = mkdtempSync(join(tmpdir(), 'sb-browser-'));
  writeFileSync(join(dir, 'report.html'), html);
  const opened = await openReport(join(dir, 'report.html'));
  try {
    t.deepEqual(opened.errors, []);
    t.deepEqual(opened.requests, []);
    for (const id of CHART_IDS) t.is(await opened.page.locator(`#${id}`).getAttribute('data-rendered'), 'true', id);
    t.log(`report ${(html.length / 1e6).toFixed(2)} MB, loaded in ${opened.loadMs.toFixed(0)} ms`);
  } finally {
    await opened.close();
    rmSync(dir, { recursive: true });
  }
});
