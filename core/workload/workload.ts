// Workloads: the requests a run replays, parsed from one of the formats in workloads/FORMATS.md.
// Pure and runtime-agnostic (k6 calls parseWorkload on text it read with open()); io/workload-file.ts
// reads files under Node.
import type { Api } from '../openai.ts';
import type { TokenCounter } from '../tokens.ts';
import { isAzureHeader, looksLikeCsvHeader, AZURE_HEADER, parseAzureCsv, type AzurePrefix } from './azure.ts';
import {
  firstContentLine,
  isObject,
  parseJsonText,
  isPositiveInteger,
  stripBom,
  allSkippedError,
  reportSummary,
  WORKLOAD_FORMATS,
  WorkloadError,
  type OutputControl,
  type Workload,
  type WorkloadFilterOptions,
  type WorkloadFormat,
} from './common.ts';
import { parseOpenAiJsonl } from './openai.ts';
import { parseShareGpt, type ShareGptMode } from './sharegpt.ts';
import { parseTrace } from './trace.ts';
import { sampleIndices } from './source.ts';

export {
  DEFAULT_MODEL,
  OUTPUT_CONTROLS,
  WORKLOAD_FORMATS,
  WorkloadError,
  type OutputControl,
  type Workload,
  type WorkloadFormat,
  type WorkloadItem,
  type WorkloadReport,
  type WorkloadSource,
} from './common.ts';
export { eagerSource, isWorkloadSource } from './source.ts';

export interface ParseWorkloadOptions {
  /** Name used in error messages and as the workload's source. */
  file: string;
  /** Overrides detection. */
  format?: WorkloadFormat;
  /** Seeds trace prompt synthesis and sampling. */
  seed: number;
  /** openai: filled into bodies without a model; sharegpt/trace: the model of every synthesised body (default DEFAULT_MODEL). */
  model?: string;
  /** Keep a seeded random subset of this many items, in file order (like vLLM's --num-prompts). */
  sample?: number;
  /** trace: tokens per hash id (default 512). */
  blockSize?: number;
  /** trace: endpoint of the synthesised requests (default chat). */
  traceApi?: Api;
  /** sharegpt: 'reply' (default) sets max_tokens from the reply's token count; a number fixes it (vLLM --sharegpt-output-len). */
  sharegptMaxTokens?: 'reply' | number;
  /** sharegpt: 'vllm' (default, vLLM's sampler) or 'first-human'. */
  sharegptMode?: ShareGptMode;
  /** sharegpt: skip prompts/replies under this many tokens (default 4 in vllm mode). */
  minTokens?: number;
  /** sharegpt: also vLLM's fixed limits (prompt ≤ 1024 tokens, prompt + output ≤ 2048). */
  sharegptVllmLimits?: boolean;
  /** sharegpt: counts tokens (default the CJK-aware estimate; the CLI passes o200k). */
  counter?: TokenCounter;
  /** trace, azure: how the output length is forced (default both: min_tokens + ignore_eos). */
  outputControl?: OutputControl;
  /** azure: invented prefix sharing (default none). */
  prefix?: AzurePrefix;
  /** --max-model-len and --max-output-tokens (every format but openai). */
  filters?: WorkloadFilterOptions;
}

const SHAPES =
  'openai JSONL lines {"messages": [...]} or {"prompt": ...}, ShareGPT [{"conversations": [...]}], ' +
  'trace JSONL lines {"timestamp", "input_length", "output_length", "hash_ids"}, ' +
  `or an Azure LLM trace CSV with the header ${AZURE_HEADER}`;

/**
 * Decides the format from the content: a leading `[` (or a .json name whose first line is not a whole
 * JSON object) is ShareGPT; otherwise the first line's keys say it (`conversations` → sharegpt,
 * `input_length`/`output_length`/`hash_ids` → trace, `messages`/`prompt`/`body` → openai); a first
 * line that is exactly the Azure trace header is azure. Only the first line is read.
 */
export function detectFormat(text: string, file: string): WorkloadFormat {
  const first = firstContentLine(text);
  if (first === null) throw new WorkloadError(file, 1, `file is empty (expected ${SHAPES})`);
  if (isAzureHeader(first.text)) return 'azure';
  if (looksLikeCsvHeader(first.text))
    throw new WorkloadError(
      file,
      first.line,
      `a CSV header ${JSON.stringify(stripBom(first.text).trim())} is not the Azure LLM trace header ${AZURE_HEADER} (expected ${SHAPES})`,
    );
  if (first.text.trimStart().startsWith('[')) return 'sharegpt';
  let value: unknown;
  try {
    value = JSON.parse(first.text);
  } catch {
    if (/\.json$/i.test(file)) return 'sharegpt';
    value = parseJsonText(first.text, file, first.line, `expected ${SHAPES}`); // throws, naming line and column
  }
  if (isObject(value)) {
    if ('conversations' in value) return 'sharegpt';
    if ('input_length' in value || 'output_length' in value || 'hash_ids' in value) return 'trace';
    if ('messages' in value || 'prompt' in value || 'body' in value) return 'openai';
  }
  const keys = isObject(value) ? `an object with keys ${Object.keys(value).slice(0, 6).join(', ') || '(none)'}` : `not an object`;
  throw new WorkloadError(
    file,
    first.line,
    `cannot tell the workload format: the first line is ${keys} (expected ${SHAPES}; or name the format: ${WORKLOAD_FORMATS.join(', ')})`,
  );
}

export function parseWorkload(text: string, options: ParseWorkloadOptions): Workload {
  const { file } = options;
  if (options.format !== undefined && !WORKLOAD_FORMATS.includes(options.format)) {
    throw new WorkloadError(
      file,
      null,
      `unknown workload format ${JSON.stringify(options.format)} (expected ${WORKLOAD_FORMATS.join(', ')})`,
    );
  }
  if (stripBom(text).trim() === '') throw new WorkloadError(file, 1, `file is empty (expected ${SHAPES})`);
  const format = options.format ?? detectFormat(text, file);
  const model = options.model;
  const synth = {
    file,
    seed: options.seed,
    ...(model !== undefined && { model }),
    ...(options.blockSize !== undefined && { blockSize: options.blockSize }),
    ...(options.traceApi !== undefined && { api: options.traceApi }),
    ...(options.outputControl !== undefined && { output: options.outputControl }),
    ...(options.filters !== undefined && { filters: options.filters }),
  };
  let workload: Workload;
  switch (format) {
    case 'openai':
      workload = { source: file, format, items: parseOpenAiJsonl(text, { file, ...(model !== undefined && { model }) }) };
      break;
    case 'sharegpt': {
      const { items, notes, report } = parseShareGpt(text, {
        file,
        ...(model !== undefined && { model }),
        ...(options.sharegptMaxTokens !== undefined && { maxTokens: options.sharegptMaxTokens }),
        ...(options.sharegptMode !== undefined && { mode: options.sharegptMode }),
        ...(options.minTokens !== undefined && { minTokens: options.minTokens }),
        ...(options.sharegptVllmLimits !== undefined && { vllmLimits: options.sharegptVllmLimits }),
        ...(options.counter !== undefined && { counter: options.counter }),
        ...(options.filters !== undefined && { filters: options.filters }),
      });
      workload = { source: file, format, items, notes, report };
      break;
    }
    case 'trace':
    case 'azure': {
      const { items, report } =
        format === 'trace'
          ? parseTrace(text, synth)
          : parseAzureCsv(text, { ...synth, ...(options.prefix !== undefined && { prefix: options.prefix }) });
      const summary = reportSummary(file, report);
      if (items.length === 0) throw allSkippedError(file, report);
      workload = { source: file, format, items, report, notes: [...report.notes, ...(summary === null ? [] : [summary])] };
      break;
    }
  }
  return options.sample === undefined ? workload : sampleWorkload(workload, options.sample, options.seed);
}

/**
 * A seeded random subset of `count` items, kept in file order (so a trace stays in time order).
 * Repetition and reordering are the plan's job (core/plan.ts), so count may not exceed the items.
 */
export function sampleWorkload(workload: Workload, count: number, seed: number): Workload {
  const n = workload.items.length;
  if (!isPositiveInteger(count) || count > n) {
    throw new WorkloadError(
      workload.source,
      null,
      `sample ${count} must be an integer from 1 to the ${n} items in the file (a plan longer than the workload repeats items)`,
    );
  }
  const chosen = sampleIndices(n, count, seed);
  const notes = [...(workload.notes ?? []), `${workload.source}: sampled ${count} of ${n} items (seed ${seed})`];
  return { ...workload, items: Array.from(chosen, (i) => workload.items[i]!), notes };
}
