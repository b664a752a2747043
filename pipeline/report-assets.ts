// The file edge of report.html: reads uPlot's bundled script and stylesheet from node_modules, so
// analysis/html-report.ts can inline them (the report needs no network when it is opened).
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type { ReportAssets } from '../report/html-report.ts';

let cached: Promise<ReportAssets> | null = null;

export function readReportAssets(): Promise<ReportAssets> {
  cached ??= (async () => {
    const require = createRequire(import.meta.url);
    const [uplotJs, uplotCss] = await Promise.all([
      readFile(require.resolve('uplot/dist/uPlot.iife.min.js'), 'utf8'),
      readFile(require.resolve('uplot/dist/uPlot.min.css'), 'utf8'),
    ]);
    return { uplotJs, uplotCss };
  })();
  return cached;
}
