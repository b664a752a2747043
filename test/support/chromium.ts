// Opens a report.html in Debian's headless chromium (driven by playwright-core) and records what a
// reader's browser would do: network requests, console errors, load time. Shared by the browser
// test and bench/report.ts. The flags keep chromium from reaching for the (closed) network itself.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export const chromiumAvailable = (): boolean => existsSync(CHROMIUM);

export interface OpenedReport {
  page: Page;
  /** Every request the page made other than the report file itself. */
  requests: string[];
  /** console.error messages and uncaught page errors. */
  errors: string[];
  /** From navigation start until every chart is drawn (body[data-charts=ready]). */
  loadMs: number;
  close(): Promise<void>;
}

export async function openReport(file: string, viewport = { width: 1200, height: 900 }): Promise<OpenedReport> {
  const userDataDir = mkdtempSync(join(tmpdir(), 'sb-chromium-'));
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      args: CHROMIUM_ARGS,
      headless: true,
      viewport,
    });
  } catch (error) {
    rmSync(userDataDir, { recursive: true, force: true });
    throw error;
  }
  const page = context.pages()[0] ?? (await context.newPage());
  const url = pathToFileURL(file).href;
  const requests: string[] = [];
  const errors: string[] = [];
  page.on('request', (r) => {
    if (r.url() !== url) requests.push(r.url());
  });
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(e.message));
  const started = performance.now();
  await page.goto(url, { waitUntil: 'load', timeout: 30_000 });
  await page.waitForSelector('body[data-charts="ready"]', { timeout: 30_000 });
  const loadMs = performance.now() - started;
  return {
    page,
    requests,
    errors,
    loadMs,
    async close() {
      await context.close();
      rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}
