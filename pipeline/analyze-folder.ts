// Analysing a run folder: reads records.jsonl and run.json, runs the analysis, writes the exports
// (summary.csv, pairs.csv, ttft_distribution.csv, summary.json, divergence.csv, report.html; server-metrics.csv and
// cost.csv when the run has those figures) and prints the terminal report. Used by `analyze`,
// `gate`, `load`, `proxy` and `k6:manifest --collect`.
import { existsSync, statSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { BASELINE_REPEAT } from '../core/record.ts';
import { notSent, runStatusProblem, type StoredRunManifest } from '../core/run.ts';
import { diskError, readRunManifest, writeFileAtomic } from '../io/run-folder.ts';
import { RecordFileError } from '../io/records-file.ts';
import { AnalysisInputError, type RunCollector } from '../analysis/collect.ts';
import { readRecordsFile } from './parallel-read.ts';
import { prestartImprovementBootstraps } from '../analysis/improvement-prestart.ts';
import { pairsCsv, summaryCsv, summaryJson, ttftDistributionCsv } from '../report/export.ts';
import { DEFAULT_GATES, GatesError, parseGates, type Gates } from '../analysis/gates.ts';
import { buildReport, withServerFigures, type Report } from '../analysis/report.ts';
import { costCsv, costsForArms, type ArmCost } from '../analysis/cost.ts';
import { chartData } from '../report/charts.ts';
import { htmlReport } from '../report/html-report.ts';
import type { RegressionResult } from '../analysis/regression.ts';
import type { ServerMetrics } from '../analysis/server-metrics.ts';
import { serverMetricsForRun } from './server-metrics.ts';
import { readReportAssets } from './report-assets.ts';
import { terminalReport } from '../report/terminal.ts';
import { divergenceCsv, divergenceRows, promptExcerpt, type PromptLookup } from '../report/divergence.ts';
import { openWorkload } from '../io/workload-file.ts';
import { WORKLOAD_FORMATS, type WorkloadFormat } from '../core/workload/workload.ts';
import { costSpecsFromOptions } from '../analysis/cost-options.ts';
import { UsageError } from '../core/options.ts';

export const ANALYZE_FILES = ['summary.csv', 'pairs.csv', 'ttft_distribution.csv', 'summary.json', 'divergence.csv'] as const;
/** The readable report (analysis/html-report.ts), written beside the exports. */
export const REPORT_FILE = 'report.html';
/** Written only when the run has the figures: server metrics were scraped / an arm has a price. */
export const SERVER_METRICS_FILE = 'server-metrics.csv';
export const COST_FILE = 'cost.csv';

export interface AnalyzeOptions {
  gatesFile?: string;
  /** The gates already loaded (loadGates): used instead of reading gatesFile again. */
  gates?: Gates;
  /** The folder's run.json already read (readManifest; null: there is none): not read again. */
  manifest?: Manifest | null;
  includeText?: boolean;
  quiet?: boolean;
  /** Read worker threads, which also compute similarity (default: one per core). */
  threads?: number;
  /**
   * A folder without run.json is a validity problem (INVESTIGATE), not only a warning: `gate` without
   * --allow-incomplete, since a run that cannot be known to be complete must never pass a gate.
   */
  requireManifest?: boolean;
}

export async function loadGates(file: string | undefined): Promise<Gates> {
  if (file === undefined) return structuredClone(DEFAULT_GATES);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new UsageError(`--gates ${file}: cannot read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
  try {
    return parseGates(text, file);
  } catch (error) {
    if (error instanceof GatesError) throw new UsageError(`--gates ${error.message}`); // "--gates FILE: key: ...", as "--gates FILE: cannot read"
    throw error;
  }
}

/**
 * The dropped-iteration count a run reports in run.json: a numeric top-level `dropped_iterations`
 * field, or a `warnings` entry starting with "dropped_iterations" followed by a number
 * (e.g. "dropped_iterations: 42 (k6 could not sustain the rate)"). null when neither is present.
 */
export function droppedIterations(manifest: { dropped_iterations?: unknown; warnings?: readonly string[] }): number | null {
  let total: number | null = null;
  if (typeof manifest.dropped_iterations === 'number') total = manifest.dropped_iterations;
  for (const w of manifest.warnings ?? []) {
    const m = /^dropped_iterations\D*(\d+)/.exec(w);
    if (m) total = Math.max(total ?? 0, Number(m[1]));
    else if (w.startsWith('dropped_iterations')) total = Math.max(total ?? 0, 1);
  }
  return total;
}

/** run.json as read and validated (io/run-folder.ts readRunManifest): fields older files lack are optional. */
export type Manifest = StoredRunManifest;

/** The folder's run.json, validated (a RunFolderError naming the file and field otherwise); null when there is none. */
export async function readManifest(runDir: string): Promise<Manifest | null> {
  return Promise.resolve(readRunManifest(runDir));
}

/**
 * Why a run is not complete (run.json `status`: interrupted, failed, or still `running` — killed
 * without a word, e.g. kill -9), else null. A proxy's run ends when it is stopped (SIGTERM is its
 * normal end), so its `interrupted` reason alone does not make it incomplete.
 */
export function interruptedReason(manifest: Manifest | null): string | null {
  if (manifest === null) return null;
  if (manifest.engine === 'proxy' && manifest.status !== 'failed' && manifest.status !== 'running') return null;
  return runStatusProblem(manifest);
}

/** Each planned arm's requests without a record (planned − recorded, warm-up included); null when run.json plans none. */
export function notSentByArm(manifest: Manifest | null, collector: RunCollector): Record<string, number> | null {
  const recorded = new Map([...collector.arms].map(([arm, a]) => [arm, a.requests + a.warmup]));
  return notSent(manifest?.planned ?? null, recorded);
}

/**
 * Per arm, the models its requests asked for: the arm's own model in run.json, else the models of the
 * workload's items (run.json workload.models). An arm with neither (a proxy run, an older run.json) is
 * left out: what it was asked is unknown, so only the comparisons between arms apply to it.
 */
export function askedModels(manifest: Manifest | null): Map<string, string[]> | null {
  if (manifest === null) return null;
  const listed: unknown = manifest.workload?.models;
  const workload = Array.isArray(listed) ? listed.filter((m): m is string => typeof m === 'string' && m !== '') : [];
  const out = new Map<string, string[]>();
  for (const a of manifest.arms) {
    const models = typeof a.model === 'string' && a.model !== '' ? [a.model] : workload;
    if (models.length > 0) out.set(a.arm, models);
  }
  return out;
}

/** An analysed run folder: the report, the collector (for the exporters) and its run.json (null: none). */
export interface AnalysedFolder {
  report: Report;
  collector: RunCollector;
  manifest: Manifest | null;
}

/** Reads and analyses a run folder. */
export async function analyzeFolder(runDir: string, options: AnalyzeOptions = {}): Promise<AnalysedFolder> {
  if (!existsSync(runDir) || !statSync(runDir).isDirectory())
    throw new UsageError(`${runDir}: no such run folder (expected results/<run-id>/ holding records.jsonl)`);
  const recordsFile = join(runDir, 'records.jsonl');
  if (!existsSync(recordsFile)) throw new UsageError(`${recordsFile}: missing; a run folder holds records.jsonl (and usually run.json)`);
  if (!statSync(recordsFile).isFile())
    throw new UsageError(`${recordsFile}: is not a file (a folder?); a run folder holds records.jsonl as a file`);
  const gates = options.gates ?? (await loadGates(options.gatesFile));
  const manifest = options.manifest !== undefined ? options.manifest : await readManifest(runDir);
  const manifestArms = Array.isArray(manifest?.arms) ? manifest.arms.map((a) => a.arm) : null;
  let collector: RunCollector;
  let summary;
  try {
    // Read by worker threads over byte ranges of the file, similarity included (analysis/parallel-read.ts).
    ({ collector, summary } = await readRecordsFile(recordsFile, {
      // Without run.json we cannot know whether an A/A arm follows, so baseline texts are kept until the end.
      expectRepeat: manifestArms === null || manifestArms.includes(BASELINE_REPEAT),
      keepText: options.includeText ?? false,
      ...(options.threads !== undefined && { threads: options.threads }),
    }));
  } catch (error) {
    if (error instanceof RecordFileError || error instanceof AnalysisInputError) throw new UsageError(error.message);
    throw diskError('read', recordsFile, error);
  }
  if (collector.records === 0) throw new UsageError(`${recordsFile}: no records (the run sent nothing, or the file is empty)`);
  if (manifest?.run_id !== undefined && manifest.run_id !== collector.runId) {
    throw new UsageError(
      `${join(runDir, 'run.json')}: run_id "${manifest.run_id}" does not match the records' run_id "${collector.runId}"; the folder mixes two runs`,
    );
  }
  prestartImprovementBootstraps(collector, gates); // helper threads start the CIs while buildReport does the per-arm statistics
  const report = buildReport(collector, gates, {
    readWarnings: summary.warnings,
    manifestWarnings: manifest?.warnings ?? [],
    droppedIterations: manifest ? droppedIterations(manifest) : null,
    interrupted: interruptedReason(manifest),
    notSent: notSentByArm(manifest, collector),
    askedModels: askedModels(manifest),
    ...(manifest === null && { noManifest: true, ...(options.requireManifest === true && { manifestRequired: true }) }),
  });
  return { report, collector, manifest };
}

/**
 * Server figures (KV-cache hit rate...) of each scraped arm in `<runDir>/metrics/`, with the
 * server-metrics.csv text (null when nothing was scraped). A damaged metrics file costs only those
 * figures (warned on stderr), not the analysis.
 */
export async function readServerMetrics(runDir: string): Promise<{ arms: ServerMetrics[]; csv: string | null }> {
  try {
    const { arms, csv, warnings } = await serverMetricsForRun(runDir);
    for (const w of warnings) process.stderr.write(`warning: ${w}\n`);
    return { arms, csv };
  } catch (error) {
    process.stderr.write(`warning: server metrics left out of the analysis: ${(error as Error).message}\n`);
    return { arms: [], csv: null };
  }
}

/** Cost of each priced arm: prices from run.json's `config` (the load command's cost flags), throughput from the report. */
function runCosts(runDir: string, manifest: Manifest | null, report: Report): ArmCost[] {
  const config = manifest?.config;
  try {
    return costsForArms(costSpecsFromOptions(typeof config === 'object' && config !== null ? config : {}), report.arms);
  } catch (error) {
    if (error instanceof UsageError) throw new UsageError(`${join(runDir, 'run.json')}: config: ${error.message}`);
    throw error;
  }
}

/** Analyses a run folder, writes the exports into it and prints the report. Throws UsageError (exit 2) for unusable input. */
export async function analyzeRunFolder(
  runDir: string,
  options: AnalyzeOptions = {},
): Promise<{ verdict: 'PROCEED' | 'INVESTIGATE'; exitCode: 0 | 1 }> {
  const { verdict, exitCode } = await analyzeRunFolderDetailed(runDir, options);
  return { verdict, exitCode };
}

/**
 * analyzeRunFolder, also returning the report, the collector, run.json and the server figures (for
 * `gate`). `regression` (gate --against) compares the analysed run with a reference before
 * report.html is written, so the report is drawn once, with its regression section.
 */
export async function analyzeRunFolderDetailed(
  runDir: string,
  options: AnalyzeOptions & { regression?: (tonight: AnalysedFolder) => RegressionResult } = {},
): Promise<
  AnalysedFolder & {
    verdict: 'PROCEED' | 'INVESTIGATE';
    exitCode: 0 | 1;
    serverMetrics: ServerMetrics[];
    regression: RegressionResult | null;
  }
> {
  const started = performance.now();
  const analysed = await analyzeFolder(runDir, options);
  const collector = analysed.collector;
  const server = await readServerMetrics(runDir);
  const serverMetrics = server.arms;
  const costs = runCosts(runDir, analysed.manifest, analysed.report);
  const report = withServerFigures(analysed.report, serverMetrics, costs);
  const regression = options.regression?.({ ...analysed, report }) ?? null;
  const divergence = divergenceRows(collector, report, await promptLookup(runDir, analysed.manifest, collector));
  const files: Record<(typeof ANALYZE_FILES)[number], string> = {
    'summary.csv': summaryCsv(report),
    'pairs.csv': pairsCsv(collector),
    'ttft_distribution.csv': ttftDistributionCsv(report),
    'summary.json': summaryJson(report),
    'divergence.csv': divergenceCsv(divergence),
  };
  const optional: Array<[string, string]> = [];
  if (server.csv !== null) optional.push([SERVER_METRICS_FILE, server.csv]);
  if (costs.length > 0) optional.push([COST_FILE, costCsv(costs)]);
  // Each export is written to a temporary file and renamed: a full disk leaves no 0-byte or half file.
  for (const [name, content] of [...Object.entries(files), ...optional]) writeFileAtomic(join(runDir, name), content);
  writeFileAtomic(
    join(runDir, REPORT_FILE),
    htmlReport({ report, charts: chartData(collector, report), assets: await readReportAssets(), serverMetrics, regression, divergence }),
  );
  // junit.xml and summary.md belong to an earlier gate run and may contradict this analysis (`gate` writes them anew after this).
  const stale = GATE_FILES.filter((name) => existsSync(join(runDir, name)));
  for (const name of stale) await rm(join(runDir, name), { force: true });
  if (!options.quiet) {
    process.stdout.write(terminalReport(report));
    process.stderr.write(
      `analysed ${collector.records.toLocaleString('en-US')} records in ${((performance.now() - started) / 1000).toFixed(1)} s; wrote ${[...ANALYZE_FILES, ...optional.map(([name]) => name), REPORT_FILE].join(', ')} to ${runDir}${stale.length > 0 ? ` (removed ${stale.join(' and ')} of an earlier gate run)` : ''}\n`,
    );
  }
  const verdict = report.verdict.decision;
  return { verdict, exitCode: verdict === 'PROCEED' ? 0 : 1, report, collector, manifest: analysed.manifest, serverMetrics, regression };
}

/**
 * The prompts of the pairs the divergence explorer shows, from the workload file run.json names (a
 * path relative to the run folder's parent working directory, as the load command was given it, or
 * absolute). Only the kept pairs' item ids are looked up; records never carry prompts. When the
 * workload cannot be read, `missing` says why and the explorer shows the item id instead.
 */
export async function promptLookup(runDir: string, manifest: Manifest | null, collector: RunCollector): Promise<PromptLookup> {
  const workload = manifest?.workload;
  if (workload === null || workload === undefined || typeof workload.path !== 'string')
    return { prompts: null, missing: manifest === null ? 'no run.json' : 'run.json names no workload file' };
  const wanted = new Set<string>();
  const base = collector.arms.get('baseline');
  for (const list of Object.values(collector.divergence.state())) for (const s of list) wanted.add(base?.itemId[s.index] ?? '');
  if (wanted.size === 0) return { prompts: new Map(), missing: '' };
  const path = existsSync(workload.path) ? workload.path : join(runDir, workload.path);
  if (!existsSync(path)) return { prompts: null, missing: `workload file ${workload.path} not found` };
  const config = manifest?.config ?? {};
  const format = WORKLOAD_FORMATS.includes(workload.format as WorkloadFormat) ? (workload.format as WorkloadFormat) : undefined;
  try {
    // Opened as the load opens it: a trace or Azure file is streamed and its items synthesised one at
    // a time until every wanted id is found (the eager parse held every prompt: ~1 GB for a 24k-line trace).
    const source = await openWorkload(path, {
      seed: typeof manifest?.seed === 'number' ? manifest.seed : 0,
      ...(format !== undefined && { format }),
      ...(typeof config.model === 'string' && { model: config.model }),
    });
    const prompts = new Map<string, string>();
    for (let i = 0; i < source.length && prompts.size < wanted.size; i++) {
      const item = source.item(i);
      if (wanted.has(item.id)) prompts.set(item.id, promptExcerpt(item.body));
    }
    return { prompts, missing: `item not in ${workload.path}` };
  } catch (error) {
    return { prompts: null, missing: `workload file ${workload.path} unreadable (${(error as Error).message.split('\n')[0]})` };
  }
}

/** What `gate` adds to a run folder (written by cli/gate.ts). */
export const GATE_FILES = ['junit.xml', 'summary.md'] as const;
