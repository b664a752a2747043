// Gathers the figures `assess` needs from a baseline run folder: summary.json (the analysis),
// metrics/<arm>.jsonl (server scrapes), run.json (workload, seed, arms) and records.jsonl (send
// times). Everything missing is reported as "not measured" with what would provide it.
import { readFile } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import { BASELINE } from '../core/record.ts';
import type { StoredRunManifest } from '../core/run.ts';
import { readRunManifest, RunFolderError } from '../io/run-folder.ts';
import { WorkloadError, type WorkloadFormat, type WorkloadItem, type WorkloadSource } from '../core/workload/workload.ts';
import { forEachRecord } from '../io/records-file.ts';
import { openWorkload } from '../io/workload-file.ts';
import { readMetricsDir } from '../io/prometheus-scrape.ts';
import { deriveServerMetrics } from '../analysis/server-metrics.ts';
import { modelsOf, peakToAverage, prefixReuseRate, promptText, type AssessInputs, type AssessThresholds } from './assess.ts';

export class AssessInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AssessInputError';
  }
}

async function readJson(file: string, missing: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new AssessInputError(`${file}: not found; ${missing}`);
    throw new AssessInputError(`${file}: ${(error as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new AssessInputError(`${file}: not valid JSON (${(error as Error).message})`);
  }
}

/** run.json through the one validated reader (io/run-folder.ts); its errors become AssessInputError. */
function readManifestForAssess(runDir: string): StoredRunManifest {
  let manifest: StoredRunManifest | null;
  try {
    manifest = readRunManifest(runDir);
  } catch (error) {
    if (error instanceof RunFolderError) throw new AssessInputError(error.message);
    throw error;
  }
  if (manifest === null) throw new AssessInputError(`${join(runDir, 'run.json')}: not found; is this a run folder (results/<run-id>/)?`);
  return manifest;
}

const record = (v: unknown): Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
const numberOrNull = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

/** TTFT P99 and the SLO of the baseline arm, read from summary.json (shadowbench.summary v1). */
export function ttftFromSummary(summary: unknown, arm: string): { p99: number | null; slo: number | null; note: string } {
  const s = record(summary);
  if (s.schema !== 'shadowbench.summary') return { p99: null, slo: null, note: 'summary.json is not a shadowbench summary' };
  const arms = Array.isArray(s.arms) ? s.arms.map(record) : [];
  const a = arms.find((x) => x.arm === arm);
  if (!a) return { p99: null, slo: null, note: `summary.json has no "${arm}" arm` };
  const check = record(record(a.slo).ttft_p99_ms);
  const p99 = numberOrNull(check.value) ?? numberOrNull(record(record(a.metrics).ttft_ms).p99);
  return {
    p99,
    slo: numberOrNull(check.limit),
    note: p99 === null ? `no TTFT was measured on the ${arm} arm (no successful streamed request)` : 'from summary.json',
  };
}

export interface GatherOptions {
  /** Workload file to use instead of the one named in run.json. */
  workload?: string;
  thresholds: AssessThresholds;
  /** Told when an input named in the run folder cannot be used (the criteria it feeds are not scored). */
  onWarning?(message: string): void;
}

export async function gatherAssessInputs(runDir: string, options: GatherOptions): Promise<AssessInputs> {
  const manifest = readManifestForAssess(runDir);
  const summary = await readJson(join(runDir, 'summary.json'), `analyse the run first: npm run analyze -- ${runDir}`);
  const baseline =
    typeof record(record(summary).comparison).baseline === 'string' ? (record(record(summary).comparison).baseline as string) : BASELINE;
  const ttft = ttftFromSummary(summary, baseline);

  // Server metrics of the baseline arm
  const { byArm } = await readMetricsDir(runDir);
  const entries = byArm.get(baseline);
  let gpu: number | null = null;
  let gpuNote: string;
  let serverHitRate: number | null = null;
  if (entries === undefined) {
    gpuNote = `no metrics/${baseline}.jsonl: run the load with --baseline-metrics URL (vLLM /metrics plus a DCGM exporter)`;
  } else {
    const server = deriveServerMetrics(baseline, entries);
    serverHitRate = server.prefix_cache?.hit_rate ?? null;
    gpu = server.gpu_utilization_pct?.mean ?? null;
    gpuNote =
      gpu !== null
        ? `mean of ${server.gpu_utilization_pct?.samples} scrapes over ${server.gpu_utilization_pct?.gpus} GPU(s) (DCGM${
            server.targets?.some((x) => x.roles.includes('dcgm') && x.selector !== '')
              ? `, selector ${server.targets
                  .filter((x) => x.roles.includes('dcgm'))
                  .map((x) => x.selector || '(none)')
                  .join(' ')}`
              : ', no selector'
          })${server.warnings && server.warnings.length > 0 ? `; ${server.warnings.join('; ')}` : ''}`
        : server.scrapes === 0
          ? `all ${server.gaps} scrapes of the ${baseline} metrics failed (${server.gap_list[0]?.error ?? 'no scrape'})`
          : 'the metrics endpoint does not expose DCGM_FI_DEV_GPU_UTIL (scrape a DCGM exporter too)';
  }

  // The workload: models, prefix reuse, arrival timestamps. Opened as the load opens it (trace and
  // Azure files streamed: an index, each prompt synthesised in turn and dropped), so a production
  // trace is assessed in bounded memory; one pass over the items gives the models and the prompts.
  let workload: WorkloadSource | null = null;
  let workloadNote = '';
  const workloadPath = options.workload ?? record(manifest.workload).path;
  if (typeof workloadPath !== 'string') {
    workloadNote = 'run.json names no workload file (give one with --workload FILE)';
  } else {
    const format = record(manifest.workload).format;
    try {
      workload = await openWorkload(workloadPath, {
        seed: typeof manifest.seed === 'number' ? manifest.seed : 0,
        ...(options.workload === undefined && typeof format === 'string' ? { format: format as WorkloadFormat } : {}),
      });
    } catch (error) {
      if (!(error instanceof WorkloadError)) throw error;
      // Given explicitly: an error, not a criterion quietly scored 0.
      if (options.workload !== undefined) throw new AssessInputError(`--workload: ${error.message}`);
      workloadNote = `${error.message} (give the workload with --workload FILE)`;
      const relative = isAbsolute(workloadPath) ? '' : ' (a path relative to the folder the load ran in)';
      options.onWarning?.(
        `the workload named in run.json, ${workloadPath}${relative}, cannot be read: ${error.message}; ` +
          'models and prefix reuse are not scored without it: give it with --workload FILE',
      );
    }
  }

  let models: string[] | null = null;
  let modelsNote = workloadNote;
  let prefixReuse: number | null = null;
  let prefixNote = workloadNote;
  if (workload) {
    const source = workload;
    const modelOf: Array<Pick<WorkloadItem, 'body'>> = [];
    function* prompts(): Generator<string> {
      for (let i = 0; i < source.length; i++) {
        const item = source.item(i);
        modelOf.push({ body: { model: item.body.model } });
        yield promptText(item);
      }
    }
    const reuse = prefixReuseRate(prompts(), options.thresholds.prefix_block_chars);
    models = modelsOf(modelOf);
    modelsNote = `from ${source.length} workload requests`;
    prefixReuse = reuse?.rate ?? null;
    prefixNote = reuse
      ? `${options.thresholds.prefix_block_chars}-character blocks over ${reuse.chars.toLocaleString('en-US')} prompt characters`
      : 'the workload prompts are empty';
  } else if (Array.isArray(manifest.arms)) {
    const armModel = manifest.arms.find((a) => a.arm === baseline)?.model;
    if (typeof armModel === 'string') {
      models = [armModel];
      modelsNote = `the ${baseline} arm's model in run.json (workload unavailable: ${workloadNote})`;
    }
  }

  // Arrivals: the workload's own timestamps when it has them (production traffic), else the run's send times.
  let arrivals: number[] = [];
  let arrivalSource = '';
  let arrivalsMissing = 'the workload has no timestamps and records.jsonl has no sent baseline request';
  const stamps = workload?.timestamps ?? null;
  if (stamps !== null && stamps.length > 1) {
    arrivals = Array.from(stamps);
    arrivalSource = 'workload timestamps';
  } else {
    try {
      await forEachRecord(join(runDir, 'records.jsonl'), (r) => {
        if (r.arm === baseline && !r.warmup && r.sent_ns !== null) arrivals.push(r.sent_ns / 1e6);
      });
      arrivalSource = "the run's send times: the load you generated, not production traffic (use a workload with timestamps)";
    } catch (error) {
      arrivalsMissing = `the workload has no timestamps and records.jsonl is unreadable (${(error as Error).message})`;
    }
  }
  const burst = arrivals.length > 0 ? peakToAverage(arrivals, options.thresholds.arrival_bin_s) : null;

  return {
    run_id: typeof manifest.run_id === 'string' ? manifest.run_id : runDir,
    gpu_utilization_pct: gpu,
    gpu_note: gpuNote,
    ttft_p99_ms: ttft.p99,
    ttft_slo_ms: ttft.slo,
    ttft_note: ttft.note,
    models,
    models_note: modelsNote,
    peak_to_average: burst?.ratio ?? null,
    peak_to_average_note: burst
      ? `${burst.bins} bins of ${options.thresholds.arrival_bin_s} s, ${arrivalSource}`
      : arrivals.length === 0
        ? arrivalsMissing
        : `arrivals span less than two ${options.thresholds.arrival_bin_s} s bins (${arrivalSource})`,
    prefix_reuse: prefixReuse,
    prefix_reuse_note: prefixNote,
    server_prefix_cache_hit_rate: serverHitRate,
  };
}
