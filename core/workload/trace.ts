// Trace JSONL (Mooncake / AIPerf style): one request per line with its arrival time and lengths,
//   {"timestamp": 27482, "input_length": 6955, "output_length": 52, "hash_ids": [46, 47, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 2353, 2354]}
// and no text: prompts are synthesised. Each hash id stands for one block of `blockSize` tokens
// (512 in Mooncake traces); a block's words are a function of (seed, hash id) only, so requests that
// share hash ids share that prefix exactly and a prefix cache can hit as it did in production. The
// tokens after the hashed blocks are drawn from (seed, line). Words come from a list of common
// English words that are one token each in Llama-3-style tokenizers, so 1 word ≈ 1 token; the
// chat template and word boundaries make the server's count differ by a few tokens.
// The server is asked for exactly output_length tokens: max_tokens = min_tokens = output_length and
// ignore_eos = true by default (vLLM extensions, also understood by Dynamo's and SGLang's OpenAI
// frontends; OutputControl switches them off). Prompts are built on demand, one row at a time
// (traceItem); io/workload-file.ts streams a file into a compact index and calls it per request.
import type { Api } from '../openai.ts';
import { derivedRandom } from '../random.ts';
import {
  countSkip,
  DEFAULT_MODEL,
  emptyReport,
  isNonNegativeInteger,
  isPositiveInteger,
  jsonObjectLines,
  outputLimits,
  preview,
  WorkloadError,
  type OutputControl,
  type WorkloadFilterOptions,
  type WorkloadItem,
  type WorkloadReport,
} from './common.ts';

export interface TraceParseOptions {
  file: string;
  seed: number;
  model?: string;
  /** Tokens per hash id (default 512, Mooncake's block size). */
  blockSize?: number;
  /** Endpoint the synthesised requests go to (default chat: the prompt is one user message). */
  api?: Api;
  /** How the output length is forced (default both: min_tokens and ignore_eos). */
  output?: OutputControl;
  filters?: WorkloadFilterOptions;
}

export const DEFAULT_TRACE_BLOCK_SIZE = 512;

export const TRACE_LINE_SHAPE = '{"timestamp": ms, "input_length": tokens, "output_length": tokens, "hash_ids"?: [int, ...]}';

// Common English words, each a single token (with its leading space) in Llama-3 / GPT-4-style BPE vocabularies.
export const WORDS: readonly string[] = (
  'the of and to in is was that for it with as on be at by this had not are but from or have an they which one you were ' +
  'her all she there would their we him been has when who will more no if out so said what up its about into than them ' +
  'can only other new some could time these two may then do first any my now such like our over man me even most made ' +
  'after also did many before must through back years where much your way well down should because each just those ' +
  'people how too little state good very make world still own see men work long get here between both life being under ' +
  'never day same another know while last might us great old year off come since against go came right used take three ' +
  'house use during without again place around however home small found thought went say part once general high upon ' +
  'school every does got united left number course war until always away something fact though water less public put ' +
  'think almost hand enough far took head yet government system better set told nothing night end why called eyes ' +
  'find going look asked later knew point next city business give group toward young let room president side social ' +
  'given present several order national second possible rather per face among form important often things looked early ' +
  'white case become large big need four within felt along children saw best church ever least power development light ' +
  'thing family interest want members mind country area others done turned although open problem service certain kind ' +
  'began different thus help means door sense whole matter perhaps itself york times human law line above name example ' +
  'action company hands local show whether five history gave either today act feet across taken past quite anything ' +
  'seen having death experience body word half really week field money words change order short value care report ' +
  'clear story paper plan test data model table music color river north south east west green blue red black water ' +
  'stone tree bird fish road hill lake sea sun moon star rain snow wind fire earth air food bread milk tea coffee fruit ' +
  'apple garden flower grass leaf wood iron gold silver glass metal cloth paper book letter card map picture window ' +
  'wall floor roof chair bed box bag cup plate bottle key lock phone clock watch train car ship boat plane bridge tower ' +
  'market shop bank office hospital station street village town island valley forest desert coast mountain ocean ' +
  'doctor teacher student worker farmer driver writer player friend mother father brother sister child baby king queen ' +
  'team game match season price cost rate level size speed weight length number total amount average range limit ' +
  'simple strong quick slow early late happy free full empty warm cold hot dry wet soft hard heavy easy ready sure ' +
  'true real main final basic common single double special recent modern ancient natural physical central private ' +
  'write read speak listen watch learn teach build break bring carry catch choose close cover cut draw drive eat fall ' +
  'fill fly follow grow hold hope hurt keep kill laugh lead leave lose love meet move pay play pull push reach remember ' +
  'return run sell send share sing sit sleep stand start stay stop study talk travel try turn visit wait walk wash win'
)
  .split(' ')
  // First occurrences through a Set: the k6 script evaluates this module in every VU it initialises, and
  // the indexOf form (O(n²), ~180k comparisons in Sobek) was most of a VU's init CPU (issue 16).
  .filter(function (this: Set<string>, w) {
    return !this.has(w) && this.add(w) !== undefined;
  }, new Set<string>())
  .map((w) => ` ${w}`);

/** `count` words drawn from `random`, each with its leading space. */
export function words(random: () => number, count: number): string {
  const out: string[] = [];
  for (let i = 0; i < count; i++) out.push(WORDS[Math.floor(random() * WORDS.length)]!);
  return out.join('');
}

/**
 * The first `count` words of a prefix block: a function of (seed, hash id) only. A partial block is
 * the start of the full one, since both come from the same generator.
 */
export function blockText(seed: number, hashId: number, count: number): string {
  return words(derivedRandom(seed, `trace:block:${hashId}`), count);
}

/** Where full blocks' text is kept between prompts (a Map, or the bounded BlockCache). */
export interface BlockStore {
  get(hashId: number): string | undefined;
  set(hashId: number, text: string): void;
}

/**
 * Least-recently-used full blocks, bounded by characters (≈ bytes: the words are ASCII). The default
 * 32 MiB holds about 10,000 blocks of 512 words, so a trace's hot shared prefixes stay cached while
 * memory does not grow with the file.
 */
export class BlockCache implements BlockStore {
  readonly #map = new Map<number, string>();
  readonly #max: number;
  #size = 0;
  constructor(maxChars = 32 * 1024 * 1024) {
    this.#max = maxChars;
  }
  get(hashId: number): string | undefined {
    const text = this.#map.get(hashId);
    if (text !== undefined) {
      this.#map.delete(hashId);
      this.#map.set(hashId, text); // most recent last
    }
    return text;
  }
  set(hashId: number, text: string): void {
    if (this.#map.has(hashId) || text.length > this.#max) return;
    this.#map.set(hashId, text);
    this.#size += text.length;
    for (const [id, old] of this.#map) {
      if (this.#size <= this.#max) break;
      this.#map.delete(id);
      this.#size -= old.length;
    }
  }
  get size(): number {
    return this.#map.size;
  }
}

/**
 * A synthetic prompt of `inputLength` words: one block per hash id (at most `hashedTokens` words of
 * them), then words drawn from (seed, line).
 */
export function synthesisePrompt(
  seed: number,
  line: number,
  inputLength: number,
  hashIds: readonly number[],
  blockSize: number,
  fullBlocks?: BlockStore,
  hashedTokens = Infinity,
): string {
  const parts: string[] = [];
  let covered = 0;
  const hashedEnd = Math.min(inputLength, hashedTokens);
  for (const hashId of hashIds) {
    if (covered >= hashedEnd) break;
    const take = Math.min(blockSize, hashedEnd - covered);
    let block = take < blockSize ? undefined : fullBlocks?.get(hashId);
    if (block === undefined) {
      block = blockText(seed, hashId, take);
      if (take === blockSize) fullBlocks?.set(hashId, block);
    }
    parts.push(block);
    covered += take;
  }
  if (covered < inputLength) parts.push(words(derivedRandom(seed, `trace:line:${line}`), inputLength - covered));
  return parts.join('').slice(1); // drop the leading space of the first word
}

/** One validated trace line. */
export interface TraceRow {
  /** 1-based line in the file: seeds the prompt's unhashed tail. */
  line: number;
  id: string;
  timestamp: number;
  inputLength: number;
  outputLength: number;
  hashIds: readonly number[];
}

/**
 * Validates one parsed trace line (`previousMs`: the line before's timestamp, to check time order);
 * a bad line throws WorkloadError naming file:line.
 */
export function traceRow(
  value: Record<string, unknown>,
  line: number,
  file: string,
  blockSize: number,
  previous: { line: number; ms: number } | null,
): TraceRow {
  const fail = (message: string): never => {
    throw new WorkloadError(file, line, message);
  };
  const { timestamp, input_length: inputLength, output_length: outputLength, hash_ids: hashIds } = value;
  if (timestamp === undefined) fail(`missing "timestamp" (expected ${TRACE_LINE_SHAPE})`);
  if (typeof timestamp !== 'number' || !Number.isFinite(timestamp) || timestamp < 0)
    return fail(`"timestamp" is ${preview(timestamp)} (expected a number of milliseconds ≥ 0)`);
  if (previous !== null && timestamp < previous.ms)
    fail(`"timestamp" ${timestamp} is earlier than line ${previous.line}'s ${previous.ms} (a trace must be in time order)`);
  if (!isPositiveInteger(inputLength))
    return fail(
      `"input_length" is ${inputLength === undefined ? 'missing' : preview(inputLength)} (expected a positive integer number of tokens)`,
    );
  if (!isPositiveInteger(outputLength))
    return fail(
      `"output_length" is ${outputLength === undefined ? 'missing' : preview(outputLength)} (expected a positive integer number of tokens)`,
    );
  let ids: number[] = [];
  if (hashIds !== undefined) {
    if (!Array.isArray(hashIds) || !hashIds.every(isNonNegativeInteger))
      return fail(`"hash_ids" is ${preview(hashIds)} (expected an array of non-negative integers)`);
    const needed = Math.ceil(inputLength / blockSize);
    if (hashIds.length > needed) {
      fail(
        `"hash_ids" has ${hashIds.length} blocks but input_length ${inputLength} fills only ${needed} of ${blockSize} tokens (is the block size right? it is ${blockSize})`,
      );
    }
    ids = hashIds;
  }
  let id = `line-${line}`;
  if (value.id !== undefined) {
    if (!(typeof value.id === 'string' || (typeof value.id === 'number' && Number.isSafeInteger(value.id))))
      return fail(`"id" is ${preview(value.id)} (expected a string or an integer)`);
    id = String(value.id);
  }
  return { line, id, timestamp, inputLength, outputLength, hashIds: ids };
}

/** How synthesised items (trace, azure) are built. */
export interface SynthesisOptions {
  seed: number;
  model: string;
  api: Api;
  blockSize: number;
  output: OutputControl;
  /** Caps max_tokens (and min_tokens). */
  maxOutputTokens?: number;
}

/** The request body of a synthesised prompt asking for `outputTokens` tokens. */
export function synthesisedBody(prompt: string, outputTokens: number, o: SynthesisOptions): Record<string, unknown> {
  const tokens = o.maxOutputTokens === undefined ? outputTokens : Math.min(outputTokens, o.maxOutputTokens);
  const limits = outputLimits(tokens, o.output);
  return o.api === 'chat'
    ? { model: o.model, messages: [{ role: 'user', content: prompt }], ...limits }
    : { model: o.model, prompt, ...limits };
}

/** The request of one trace row, synthesised: a pure function of (row, options). */
export function traceItem(row: TraceRow, o: SynthesisOptions, blocks?: BlockStore): WorkloadItem {
  const prompt = synthesisePrompt(o.seed, row.line, row.inputLength, row.hashIds, o.blockSize, blocks);
  return { id: row.id, api: o.api, body: synthesisedBody(prompt, row.outputLength, o), timestamp_ms: row.timestamp };
}

/**
 * Whether a row of `input` prompt and `output` output tokens passes the filters; counts a skip
 * (reason → count) or a cap in the report. The output cap is applied before the length check, so a
 * long reply the cap shortens does not drop the item.
 */
export function keepLengths(input: number, output: number, filters: WorkloadFilterOptions, report: WorkloadReport): boolean {
  report.examined++;
  const capped = filters.maxOutputTokens !== undefined && output > filters.maxOutputTokens ? filters.maxOutputTokens : output;
  if (filters.maxModelLen !== undefined && input + capped > filters.maxModelLen) {
    countSkip(report, `prompt+output over --max-model-len ${filters.maxModelLen}`);
    return false;
  }
  if (capped < output) report.capped++;
  report.kept++;
  return true;
}

export function resolveSynthesis(options: {
  seed: number;
  model?: string;
  api?: Api;
  blockSize?: number;
  output?: OutputControl;
  filters?: WorkloadFilterOptions;
  file: string;
}): SynthesisOptions {
  const blockSize = options.blockSize ?? DEFAULT_TRACE_BLOCK_SIZE;
  if (!isPositiveInteger(blockSize))
    throw new WorkloadError(options.file, null, `blockSize ${preview(blockSize)} must be a positive integer (tokens per hash id)`);
  return {
    seed: options.seed,
    model: options.model ?? DEFAULT_MODEL,
    api: options.api ?? 'chat',
    blockSize,
    output: options.output ?? 'both',
    ...(options.filters?.maxOutputTokens !== undefined && { maxOutputTokens: options.filters.maxOutputTokens }),
  };
}

/** Every line of a trace text, synthesised now: for tests and small files (io/workload-file.ts streams big ones). */
export function parseTraceJsonl(text: string, options: TraceParseOptions): WorkloadItem[] {
  return parseTrace(text, options).items;
}

export function parseTrace(text: string, options: TraceParseOptions): { items: WorkloadItem[]; report: WorkloadReport } {
  const { file } = options;
  const o = resolveSynthesis(options);
  const filters = options.filters ?? {};
  const report = emptyReport();
  const fullBlocks = new BlockCache();
  const items: WorkloadItem[] = [];
  let previous: { line: number; ms: number } | null = null;
  for (const { line, value } of jsonObjectLines(text, file, TRACE_LINE_SHAPE)) {
    const row = traceRow(value, line, file, o.blockSize, previous);
    previous = { line, ms: row.timestamp };
    if (!keepLengths(row.inputLength, row.outputLength, filters, report)) continue;
    items.push(traceItem(row, o, fullBlocks));
  }
  return { items, report };
}
