// Reading a workload file under Node; parsing is core/workload/*'s job (shared with k6).
//
// openWorkload streams trace and Azure files: one pass keeps a compact index of the kept lines
// (byte offset, length, line number, timestamp, input and output tokens: 32 bytes a line, in
// SharedArrayBuffers) and item(i) synthesises request i when it is needed (a trace line's hash_ids
// are re-read from disk; an Azure row is whole in the index). Memory is the index, a bounded block
// cache and the requests in flight, not the file's prompts: a 24k-line Mooncake-shaped trace costs
// ~0.8 MB of index where the eager parse held ~1 GB of text. Filters (--max-model-len) and --sample
// work on the index, so no prompt is built for a line that is not sent. WorkloadSpec is the
// structured-cloneable form a worker thread rebuilds the same source from (sourceFromSpec), sharing
// the index without a copy. openai and ShareGPT files are read whole: their text is the payload.
import { createReadStream, closeSync, openSync, readSync } from 'node:fs';
import { open, readFile } from 'node:fs/promises';
import { azureItem, azureRow, checkPrefix, keepAzureRow, type AzureCursor, type AzurePrefix } from '../core/workload/azure.ts';
import {
  allSkippedError,
  emptyReport,
  isObject,
  parseJsonText,
  reportSummary,
  typeName,
  type WorkloadReport,
  type WorkloadSource,
} from '../core/workload/common.ts';
import { eagerSource, sampleIndices } from '../core/workload/source.ts';
import {
  BlockCache,
  keepLengths,
  resolveSynthesis,
  TRACE_LINE_SHAPE,
  traceItem,
  traceRow,
  type SynthesisOptions,
} from '../core/workload/trace.ts';
import {
  detectFormat,
  parseWorkload,
  WorkloadError,
  type ParseWorkloadOptions,
  type Workload,
  type WorkloadFormat,
  type WorkloadItem,
} from '../core/workload/workload.ts';
import { loadTokenCounter, type TokenizerChoice } from './tokenizer.ts';

export type LoadWorkloadOptions = Omit<ParseWorkloadOptions, 'file'>;

export interface OpenWorkloadOptions extends Omit<LoadWorkloadOptions, 'counter'> {
  /** sharegpt: o200k (default; gpt-tokenizer, loaded only for ShareGPT) or the CJK-aware estimate. */
  tokenizer?: TokenizerChoice;
  /** Characters of full prefix blocks cached per source (per thread); default 16 Mi. */
  blockCacheChars?: number;
}

function readError(path: string, error: unknown): WorkloadError {
  const code = (error as NodeJS.ErrnoException).code;
  const reason = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory, not a workload file' : (error as Error).message;
  return new WorkloadError(path, null, `cannot read the workload file: ${reason}`);
}

/** Reads and parses a whole workload file; a missing or unreadable file is a WorkloadError naming it. */
export async function loadWorkloadFile(path: string, options: LoadWorkloadOptions): Promise<Workload> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw readError(path, error);
  }
  return parseWorkload(text, { ...options, file: path });
}

/** Detection reads at most this much: a minified ShareGPT file is one line and is told by its `[`. */
const HEAD_LIMIT = 16 * 1024 * 1024;

/** The file's start up to the end of its first non-blank line (at most HEAD_LIMIT bytes), without reading the whole file. */
async function headText(path: string): Promise<string> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (error) {
    throw readError(path, error);
  }
  try {
    const chunks: Buffer[] = [];
    let position = 0;
    let content = false; // a non-blank byte has been seen
    while (position < HEAD_LIMIT) {
      const buffer = Buffer.alloc(64 * 1024);
      let bytesRead: number;
      try {
        ({ bytesRead } = await handle.read(buffer, 0, buffer.length, position));
      } catch (error) {
        throw readError(path, error);
      }
      if (bytesRead === 0) break;
      const chunk = buffer.subarray(0, bytesRead);
      chunks.push(chunk);
      position += bytesRead;
      let done = false;
      for (const byte of chunk) {
        if (content && byte === 0x0a) {
          done = true;
          break;
        }
        if (byte !== 0x20 && byte !== 0x0a && byte !== 0x0d && byte !== 0x09) content = true;
      }
      if (done) break;
    }
    return Buffer.concat(chunks).toString('utf8');
  } finally {
    await handle.close();
  }
}

/** The index columns of the kept lines of a streamed file. */
interface Columns {
  /** Byte offset of the line (trace: re-read for its hash_ids). */
  offsets: Float64Array;
  lengths: Uint32Array;
  /** 1-based line numbers: ids, prompts' seeds and error messages. */
  lines: Uint32Array;
  /** trace: the timestamp (ms); azure: ms after the first row. */
  timestamps: Float64Array;
  inputs: Uint32Array;
  outputs: Uint32Array;
}

const COLUMN_TYPES = {
  offsets: Float64Array,
  lengths: Uint32Array,
  lines: Uint32Array,
  timestamps: Float64Array,
  inputs: Uint32Array,
  outputs: Uint32Array,
} as const;
type ColumnName = keyof typeof COLUMN_TYPES;
const COLUMN_NAMES = Object.keys(COLUMN_TYPES) as ColumnName[];

/** Columns over SharedArrayBuffers, so worker threads read the same memory. */
function sharedColumns(n: number): Columns {
  const out = {} as Record<ColumnName, Float64Array | Uint32Array>;
  for (const name of COLUMN_NAMES) {
    const Type = COLUMN_TYPES[name];
    const buffer = new SharedArrayBuffer(Math.max(1, n) * Type.BYTES_PER_ELEMENT);
    out[name] = Type === Float64Array ? new Float64Array(buffer, 0, n) : new Uint32Array(buffer, 0, n);
  }
  return out as unknown as Columns;
}

/** Growable columns for the index pass. */
class ColumnBuilder {
  length = 0;
  #cap = 1024;
  #cols: Columns = this.#alloc(this.#cap);
  #alloc(cap: number): Columns {
    const out = {} as Record<ColumnName, Float64Array | Uint32Array>;
    for (const name of COLUMN_NAMES) out[name] = new COLUMN_TYPES[name](cap);
    return out as unknown as Columns;
  }
  push(row: Record<ColumnName, number>): void {
    if (this.length === this.#cap) {
      const next = this.#alloc((this.#cap *= 2));
      for (const name of COLUMN_NAMES) next[name].set(this.#cols[name]);
      this.#cols = next;
    }
    for (const name of COLUMN_NAMES) this.#cols[name][this.length] = row[name];
    this.length++;
  }
  /** The rows `keep` (all when null), copied into shared columns. */
  finish(keep: Uint32Array | null): Columns {
    const n = keep === null ? this.length : keep.length;
    const out = sharedColumns(n);
    for (const name of COLUMN_NAMES) {
      if (keep === null) out[name].set(this.#cols[name].subarray(0, n));
      else for (let k = 0; k < n; k++) out[name][k] = this.#cols[name][keep[k]!]!;
    }
    return out;
  }
}

/** The structured-cloneable options a streamed source synthesises with. */
export interface FileSynthesis extends SynthesisOptions {
  prefix: AzurePrefix;
}

/** A workload as a worker thread receives it (structured-cloneable; the index columns are shared, not copied). */
export type WorkloadSpec =
  | { kind: 'inline'; workload: Workload }
  | {
      kind: 'file';
      path: string;
      format: 'trace' | 'azure';
      synthesis: FileSynthesis;
      columns: Columns;
      report: WorkloadReport;
      blockCacheChars: number;
    };

const DEFAULT_BLOCK_CACHE_CHARS = 16 * 1024 * 1024;

/** A streamed trace or Azure file: items synthesised on demand from the index. */
class FileSource implements WorkloadSource {
  readonly source: string;
  readonly format: WorkloadFormat;
  readonly length: number;
  readonly timestamps: Float64Array;
  readonly apis: readonly WorkloadItem['api'][];
  readonly models: readonly string[];
  readonly report: WorkloadReport;
  readonly spec: WorkloadSpec & { kind: 'file' };
  readonly #blocks: BlockCache;
  #buffer = Buffer.alloc(64 * 1024);

  constructor(spec: WorkloadSpec & { kind: 'file' }) {
    this.spec = spec;
    this.source = spec.path;
    this.format = spec.format;
    this.length = spec.columns.lines.length;
    this.timestamps = spec.columns.timestamps;
    this.apis = [spec.synthesis.api];
    this.models = [spec.synthesis.model];
    this.report = spec.report;
    this.#blocks = new BlockCache(spec.blockCacheChars);
  }

  item(index: number): WorkloadItem {
    if (!Number.isSafeInteger(index) || index < 0 || index >= this.length)
      throw new RangeError(`item ${index} is outside the workload (0 .. ${this.length - 1})`);
    const { columns: c, synthesis: o } = this.spec;
    const line = c.lines[index]!;
    if (this.format === 'azure') {
      const row = { line, offsetMs: c.timestamps[index]!, contextTokens: c.inputs[index]!, generatedTokens: c.outputs[index]! };
      return azureItem(row, o, this.#blocks);
    }
    const text = this.#readLine(c.offsets[index]!, c.lengths[index]!);
    const value = parseJsonText(text, this.source, line, TRACE_LINE_SHAPE);
    if (!isObject(value)) throw new WorkloadError(this.source, line, `expected a JSON object, got ${typeName(value)}`);
    return traceItem(traceRow(value, line, this.source, o.blockSize, null), o, this.#blocks);
  }

  #readLine(offset: number, length: number): string {
    if (this.#buffer.length < length) this.#buffer = Buffer.alloc(length);
    // Opened per read: no descriptor outlives the call, on any thread (≈ 20 µs; a prompt takes ~1 ms to build).
    const fd = openSync(this.source, 'r');
    try {
      const n = readSync(fd, this.#buffer, 0, length, offset);
      if (n !== length) throw new WorkloadError(this.source, null, 'the workload file changed while the run was reading it');
    } finally {
      closeSync(fd);
    }
    let text = this.#buffer.toString('utf8', 0, length);
    if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    return text;
  }
}

/** Rebuilds a source from its spec (in a worker thread: same items as the main thread's). */
export function sourceFromSpec(spec: WorkloadSpec): WorkloadSource {
  return spec.kind === 'inline' ? eagerSource(spec.workload) : new FileSource(spec);
}

/** The spec a worker rebuilds `source` from. */
export function workloadSpec(source: WorkloadSource): WorkloadSpec {
  if (source instanceof FileSource) return source.spec;
  const items: WorkloadItem[] = Array.from({ length: source.length }, (_, i) => source.item(i));
  return {
    kind: 'inline',
    workload: { source: source.source, format: source.format, items, report: source.report, notes: source.report.notes },
  };
}

/** Calls onLine for every line of a file (1-based number, byte offset and length, text without `\r`), streaming. */
async function eachLine(path: string, onLine: (line: number, offset: number, length: number, text: string) => void): Promise<void> {
  let carry: Buffer | null = null;
  let carryOffset = 0;
  let position = 0;
  let line = 0;
  const emit = (bytes: Buffer, offset: number) => {
    line++;
    let length = bytes.length;
    if (length > 0 && bytes[length - 1] === 0x0d) length--;
    let text = bytes.toString('utf8', 0, length);
    if (line === 1 && text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    onLine(line, offset, length, text);
  };
  try {
    for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
      let start = 0;
      for (let nl = chunk.indexOf(0x0a); nl !== -1; nl = chunk.indexOf(0x0a, start)) {
        if (carry === null) emit(chunk.subarray(start, nl), position + start);
        else {
          emit(Buffer.concat([carry, chunk.subarray(0, nl)]), carryOffset);
          carry = null;
        }
        start = nl + 1;
      }
      if (start < chunk.length) {
        if (carry === null) {
          carry = Buffer.from(chunk.subarray(start));
          carryOffset = position + start;
        } else carry = Buffer.concat([carry, chunk.subarray(start)]);
      }
      position += chunk.length;
    }
  } catch (error) {
    if (error instanceof WorkloadError) throw error;
    throw readError(path, error);
  }
  if (carry !== null) emit(carry, carryOffset);
}

/**
 * Opens a workload for a run: trace and Azure files are streamed into an index and synthesised on
 * demand; openai and ShareGPT files are parsed whole (ShareGPT lengths counted by the tokenizer).
 * Filters and --sample are applied; what they skipped is in source.report.
 */
export async function openWorkload(path: string, options: OpenWorkloadOptions): Promise<WorkloadSource> {
  const format = options.format ?? detectFormat(await headText(path), path);
  if (format === 'openai' || format === 'sharegpt') {
    const { tokenizer, blockCacheChars: _, ...rest } = options;
    let counterOption = {};
    let note: string | null = null;
    if (format === 'sharegpt') {
      const loaded = await loadTokenCounter(tokenizer ?? 'o200k');
      counterOption = { counter: loaded.counter };
      note = loaded.note;
    }
    const workload = await loadWorkloadFile(path, { ...rest, format, ...counterOption });
    const source = eagerSource(workload);
    if (note !== null) source.report.notes.unshift(note);
    return source;
  }
  const synthesis: FileSynthesis = {
    ...resolveSynthesis({
      file: path,
      seed: options.seed,
      ...(options.model !== undefined && { model: options.model }),
      ...(options.traceApi !== undefined && { api: options.traceApi }),
      ...(options.blockSize !== undefined && { blockSize: options.blockSize }),
      ...(options.outputControl !== undefined && { output: options.outputControl }),
      ...(options.filters !== undefined && { filters: options.filters }),
    }),
    prefix: checkPrefix(options.prefix ?? { kind: 'none' }, path),
  };
  const filters = options.filters ?? {};
  const report = emptyReport();
  const builder = new ColumnBuilder();
  let sawHeader = false;
  let previous: { line: number; ms: number } | null = null;
  const cursor: AzureCursor = { first: null, previous: null };
  await eachLine(path, (line, offset, length, text) => {
    if (text.trim() === '') return;
    if (format === 'azure') {
      if (!sawHeader) {
        sawHeader = true;
        if (detectFormat(text, path) !== 'azure')
          throw new WorkloadError(path, line, `the first line must be the Azure trace header TIMESTAMP,ContextTokens,GeneratedTokens`);
        return;
      }
      const row = azureRow(text, line, path, cursor);
      if (!keepAzureRow(row, filters, report)) return;
      builder.push({
        offsets: offset,
        lengths: length,
        lines: line,
        timestamps: row.offsetMs,
        inputs: row.contextTokens,
        outputs: row.generatedTokens,
      });
      return;
    }
    const value = parseJsonText(text, path, line, `each line must be one JSON object: ${TRACE_LINE_SHAPE}`);
    if (!isObject(value))
      throw new WorkloadError(
        path,
        line,
        `expected a JSON object, got ${typeName(value)} (each line must be one JSON object: ${TRACE_LINE_SHAPE})`,
      );
    const row = traceRow(value, line, path, synthesis.blockSize, previous);
    previous = { line, ms: row.timestamp };
    if (!keepLengths(row.inputLength, row.outputLength, filters, report)) return;
    builder.push({
      offsets: offset,
      lengths: length,
      lines: line,
      timestamps: row.timestamp,
      inputs: row.inputLength,
      outputs: row.outputLength,
    });
  });
  if (report.examined === 0)
    throw new WorkloadError(path, null, `no ${format === 'azure' ? 'rows after the header' : 'lines'} in the file`);
  if (builder.length === 0) throw allSkippedError(path, report);
  let keep: Uint32Array | null = null;
  if (options.sample !== undefined) {
    const n = builder.length;
    if (!Number.isSafeInteger(options.sample) || options.sample < 1 || options.sample > n)
      throw new WorkloadError(
        path,
        null,
        `sample ${options.sample} must be an integer from 1 to the ${n} items in the file (a plan longer than the workload repeats items)`,
      );
    keep = sampleIndices(n, options.sample, options.seed);
    report.notes.push(`${path}: sampled ${options.sample} of ${n} items (seed ${options.seed})`);
  }
  const summary = reportSummary(path, report);
  if (summary !== null) report.notes.unshift(summary);
  return new FileSource({
    kind: 'file',
    path,
    format,
    synthesis,
    columns: builder.finish(keep),
    report,
    blockCacheChars: options.blockCacheChars ?? DEFAULT_BLOCK_CACHE_CHARS,
  });
}
