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
import { goldenRun, outputsFixture } from './fixtures/analysis/build-run.ts';
import { syntheticRecords } from './fixtures/report/synthetic.ts';
import { CHROMIUM, chromiumAvailable, openReport } from './support/chromium.ts';

/** The two computed-style properties read in the page (the test's TypeScript has no DOM types). */
interface CSSStyleDeclarationLike {
  backgroundColor: string;
  textDecorationLine: string;
}

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

browserTest(
  'the divergence explorer shows the worst pairs side by side with highlighted diffs; the filter keeps one kind; screenshot',
  async (t) => {
    // Structured outputs (tool calls Paris/London, a different tool, a length stop, reasoning) with an A/A arm and two diverging answers.
    const records = outputsFixture({ indices: 30, withRepeat: true, divergent: [11, 12], repeatDivergent: [12] });
    const dir = mkdtempSync(join(tmpdir(), 'sb-browser-'));
    writeFileSync(join(dir, 'records.jsonl'), records.map((r) => serializeRecord(r) + '\n').join(''));
    await analyzeRunFolder(dir, { quiet: true });
    const opened = await openReport(join(dir, 'report.html'), { width: 1400, height: 1000 });
    try {
      const { page } = opened;
      t.deepEqual(opened.requests, [], 'no network request');
      t.deepEqual(opened.errors, [], 'no console error');
      const pairs = page.locator('#divergence article.pair');
      t.is(await pairs.count(), 8);
      const first = pairs.first();
      t.is(await first.getAttribute('id'), 'pair-11', 'the worst text pair comes first');
      const del = first.locator('.side.base del').first();
      const ins = first.locator('.side.cand ins').first();
      t.true(await del.isVisible());
      t.true(await ins.isVisible());
      // highlighted: a background colour and a text cue besides colour
      const style = (el: typeof del) =>
        el.evaluate((e) => {
          const s = (globalThis as unknown as { getComputedStyle: (e: unknown) => CSSStyleDeclarationLike }).getComputedStyle(e);
          return { background: s.backgroundColor, line: s.textDecorationLine };
        });
      const ds = await style(del);
      const is = await style(ins);
      t.not(ds.background, 'rgba(0, 0, 0, 0)');
      t.not(is.background, 'rgba(0, 0, 0, 0)');
      t.is(ds.line, 'line-through');
      t.is(is.line, 'underline');
      // the three columns (baseline, candidate, A/A repeat) sit side by side
      const boxes = await Promise.all(['base', 'cand', 'repeat'].map((c) => first.locator(`.side.${c}`).boundingBox()));
      t.true(
        boxes.every((b) => b !== null && Math.abs(b.y - (boxes[0]?.y ?? 0)) < 2),
        'columns on one row',
      );
      t.true((boxes[0]?.x ?? 0) < (boxes[1]?.x ?? 0) && (boxes[1]?.x ?? 0) < (boxes[2]?.x ?? 0));
      mkdirSync(OUTPUT, { recursive: true });
      await page.locator('#divergence').screenshot({ path: join(OUTPUT, 'divergence.png') });
      t.true(statSync(join(OUTPUT, 'divergence.png')).size > 10_000);

      // Filter: "tool arguments" leaves only the Paris/London pairs, worst first; "All" brings every pair back.
      await page.locator('#divergence .filters button[data-kind="tool_arguments"]').click();
      const visible = page.locator('#divergence article.pair:not([hidden])');
      t.is(await visible.count(), 2);
      for (const kinds of await visible.evaluateAll((els) => els.map((e) => e.getAttribute('data-kinds') ?? '')))
        t.true(kinds.split(' ').includes('tool_arguments'), kinds);
      t.deepEqual(await visible.evaluateAll((els) => els.map((e) => e.id)), ['pair-2', 'pair-3']);
      t.true(await visible.first().locator('table.tools del', { hasText: 'Paris' }).isVisible());
      t.true(await visible.first().locator('table.tools ins', { hasText: 'London' }).isVisible());
      t.is(await page.locator('#divergence .filters button[data-kind="tool_arguments"]').getAttribute('aria-pressed'), 'true');
      await page
        .locator('#divergence article.pair:not([hidden])')
        .first()
        .screenshot({ path: join(OUTPUT, 'divergence-tool-arguments.png') });
      await page.locator('#divergence .filters button[data-kind="all"]').click();
      t.is(await visible.count(), 8);
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
