// The server-side figures of a run folder: reads metrics/<arm>.jsonl (io), derives the figures
// (analysis) and renders server-metrics.csv and the terminal lines (report).
import { deriveServerMetrics, type ServerMetrics } from '../analysis/server-metrics.ts';
import { readMetricsDir } from '../io/prometheus-scrape.ts';
import { formatServerMetrics, serverMetricsCsv } from '../report/server-metrics.ts';

/**
 * The server figures of every scraped arm of a run folder, the
 * server-metrics.csv text and terminal lines; `arms` is empty (and csv null) when nothing was scraped.
 */
export async function serverMetricsForRun(
  runDir: string,
): Promise<{ arms: ServerMetrics[]; csv: string | null; lines: string[]; warnings: string[] }> {
  const { byArm, warnings } = await readMetricsDir(runDir);
  const order = (arm: string) => (arm === 'baseline' ? 0 : arm === 'candidate' ? 1 : 2);
  const arms = [...byArm.entries()]
    .sort(([a], [b]) => order(a) - order(b) || a.localeCompare(b))
    .map(([arm, entries]) => deriveServerMetrics(arm, entries));
  return { arms, csv: arms.length > 0 ? serverMetricsCsv(arms) : null, lines: arms.length > 0 ? formatServerMetrics(arms) : [], warnings };
}
