// Streaming reduction of records to what the analysis needs: per-request scalars in typed arrays
// indexed by request index, pooled ITL values, and outputs only until both arms of an index
// have arrived (then the pair is compared part by part, analysis/compare.ts, and the texts are
// dropped; the worst pairs are kept, bounded, for the divergence explorer).
// Memory is O(requests) numbers plus O(tokens) ITL values, never O(records) objects.
import { BASELINE, BASELINE_REPEAT, CANDIDATE, OUTCOME_KINDS, type OutcomeKind, type RequestRecord } from '../core/record.ts';
import {
  e2eMs,
  firstChunkMs,
  forEachItlMs,
  outputTokens,
  sendLagMs,
  tokensPerSecond,
  tpotMs,
  ttfaMs,
  ttfbMs,
  ttftMs,
} from '../core/metrics.ts';
import { Float64Column } from './stats/stats.ts';
import { comparePair, type OutputParts, type PairResult } from './compare.ts';
import { DEFAULT_DIVERGENCE_PAIRS, DivergenceSampler, type SamplerState } from './divergence-sample.ts';

/** Input that cannot be analysed (two runs mixed, duplicate requests): the CLI exits 2. */
export class AnalysisInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AnalysisInputError';
  }
}

/** The comparisons whose output similarity is measured: baseline vs candidate, and the A/A baseline vs its repeat. */
export type Comparison = 'candidate' | 'repeat';

/**
 * Per comparison, the part-by-part results beside the answer ratio (`similarity`), indexed by request
 * index (analysis/compare.ts PairResult; NaN / 0 = not compared).
 */
export interface PairColumns {
  reasoning: Float64Array;
  toolArgs: Float64Array;
  /** TOOLS_NONE / MATCH / NAME / ARGUMENTS; meaningful only where the answer ratio is set. */
  tools: Uint8Array;
  /** 0 not compared, FINISH_SAME, FINISH_DIFFERENT. */
  finish: Uint8Array;
  /** finishPairCode of the two finish reasons. */
  finishPair: Uint8Array;
}

export const PRESENT_MEASURED = 1;
export const PRESENT_WARMUP = 2;
export const OUTCOME_CODE: Record<OutcomeKind, number> = Object.fromEntries(OUTCOME_KINDS.map((k, i) => [k, i])) as Record<
  OutcomeKind,
  number
>;

/**
 * Frees a typed array's memory now instead of at some later garbage collection (its buffer is
 * detached, the array becomes empty): for columns copied into bigger ones, which on a
 * million-request run are tens of MB each.
 */
function release(a: { buffer: ArrayBufferLike }): void {
  const buffer = a.buffer as ArrayBuffer & { transfer?: (length: number) => ArrayBuffer; detached?: boolean };
  if (buffer instanceof ArrayBuffer && buffer.detached === false && typeof buffer.transfer === 'function') buffer.transfer(0);
}

const grownF64 = (a: Float64Array, n: number) => {
  const b = new Float64Array(n).fill(Number.NaN);
  b.set(a);
  release(a);
  return b;
};
const grownU8 = (a: Uint8Array, n: number) => {
  const b = new Uint8Array(n);
  b.set(a);
  release(a);
  return b;
};
const grownI32 = (a: Int32Array, n: number) => {
  const b = new Int32Array(n);
  b.set(a);
  release(a);
  return b;
};

/** Per-request columns of one arm, indexed by request index. NaN = not measured. */
export class ArmColumns {
  readonly arm: string;
  capacity = 0;
  /** 0 = no record, PRESENT_MEASURED, PRESENT_WARMUP. */
  present = new Uint8Array(0);
  /** Position of the record in the input (1-based), for duplicate messages. */
  ordinal = new Int32Array(0);
  outcome = new Uint8Array(0);
  ttft = new Float64Array(0);
  e2e = new Float64Array(0);
  ttfb = new Float64Array(0);
  firstChunk = new Float64Array(0);
  /** Time to first answer token (ms): after the reasoning, when the response reasoned first. */
  ttfa = new Float64Array(0);
  tpot = new Float64Array(0);
  tokens = new Float64Array(0);
  tokensPerS = new Float64Array(0);
  sendLag = new Float64Array(0);
  sentNs = new Float64Array(0);
  endNs = new Float64Array(0);
  itemId: string[] = [];
  instanceOf: string[] = [];
  itl = new Float64Column();
  /** Measured (non-warm-up) records, warm-up records, records without token timing. */
  requests = 0;
  warmup = 0;
  untimed = 0;
  tokensFromUsage = 0;
  tokensFromChunks = 0;
  /** Ok measured responses that carried reasoning / called a tool. */
  reasoningRequests = 0;
  toolCallRequests = 0;
  instances = new Set<string>();
  outputText: string[] | null = null;
  /** The `model` the arm's ok responses named, with counts (a validity warning when not one). */
  models = new Map<string, number>();

  constructor(arm: string) {
    this.arm = arm;
  }

  ensure(index: number): void {
    if (index < this.capacity) return;
    let n = Math.max(1024, this.capacity);
    while (n <= index) n *= 2;
    this.present = grownU8(this.present, n);
    this.ordinal = grownI32(this.ordinal, n);
    this.outcome = grownU8(this.outcome, n);
    for (const key of FLOAT_COLUMNS) this[key] = grownF64(this[key], n);
    // (a typed column added to TYPED_COLUMNS is grown here too)
    this.capacity = n;
  }

  /** The arm as plain data (for postMessage from a read worker), with the buffers to transfer (fields: ARM_TRANSFER). */
  exportState(transfer: Set<ArrayBuffer>): ArmState {
    const typed = {} as ArmState['typed'];
    for (const key of TYPED_COLUMNS) (typed as Record<TypedColumn, unknown>)[key] = this[key];
    const floats = {} as Record<FloatColumn, Float64Array<ArrayBuffer>>;
    for (const key of FLOAT_COLUMNS) floats[key] = this[key];
    const perIndex = {} as Record<PerIndexColumn, string[]>;
    for (const key of PER_INDEX_COLUMNS) perIndex[key] = this[key];
    const counters = {} as Record<Counter, number>;
    for (const key of COUNTERS) counters[key] = this[key];
    const itl = this.itl.chunks();
    for (const a of [...Object.values(typed), ...Object.values(floats), ...itl]) transfer.add(a.buffer as ArrayBuffer); // Float64Column blocks are plain ArrayBuffers
    return {
      arm: this.arm,
      capacity: this.capacity,
      typed,
      floats,
      perIndex,
      counters,
      itl,
      instances: [...this.instances],
      outputText: this.outputText,
      models: [...this.models],
    };
  }

  /**
   * Adds the records of a later byte range of the same file (read by another thread): `ordinalOffset`
   * records came before that range. Consumes `state` (its arrays are adopted or freed). False when a request appears in both (a duplicate: the caller
   * re-reads sequentially for the exact error message); the collector must then be discarded.
   */
  absorb(state: ArmState, ordinalOffset: number): boolean {
    if (state.itl.length > 0) {
      let itl = this.itl;
      if (!(itl instanceof AdoptingColumn)) {
        const adopting = new AdoptingColumn();
        adopting.adopt(itl.chunks());
        this.itl = itl = adopting;
      }
      (itl as AdoptingColumn).adopt(state.itl);
    }
    const { present, ordinal } = state.typed;
    if (this.capacity === 0) {
      // The arm's first range: take its arrays as they are (no copy), numbering its records globally.
      this.capacity = state.capacity;
      for (const key of TYPED_COLUMNS) (this as Record<TypedColumn, unknown>)[key] = state.typed[key];
      for (const key of FLOAT_COLUMNS) this[key] = state.floats[key];
      for (const key of PER_INDEX_COLUMNS) this[key] = state.perIndex[key];
      if (this.outputText && state.outputText) this.outputText = state.outputText;
      if (ordinalOffset !== 0)
        for (let i = 0; i < state.capacity; i++) if (present[i] !== 0) this.ordinal[i] = (ordinal[i] as number) + ordinalOffset;
    } else {
      if (state.capacity > 0) this.ensure(state.capacity - 1);
      for (let i = 0; i < state.capacity; i++) {
        if (present[i] === 0) continue;
        if (this.present[i] !== 0) return false;
        for (const key of TYPED_COLUMNS) this[key][i] = state.typed[key][i] as number;
        this.ordinal[i] = (ordinal[i] as number) + ordinalOffset;
        for (const key of FLOAT_COLUMNS) this[key][i] = state.floats[key][i] as number;
        for (const key of PER_INDEX_COLUMNS) this[key][i] = state.perIndex[key][i] as string;
        if (this.outputText && state.outputText && i in state.outputText) this.outputText[i] = state.outputText[i] as string;
      }
      for (const a of [...Object.values(state.typed), ...Object.values(state.floats)]) release(a);
    }
    for (const key of COUNTERS) this[key] += state.counters[key];
    for (const instance of state.instances) this.instances.add(instance);
    for (const [model, n] of state.models) this.models.set(model, (this.models.get(model) ?? 0) + n);
    return true;
  }
}

const FLOAT_COLUMNS = ['ttft', 'e2e', 'ttfb', 'firstChunk', 'ttfa', 'tpot', 'tokens', 'tokensPerS', 'sendLag', 'sentNs', 'endNs'] as const;
type FloatColumn = (typeof FLOAT_COLUMNS)[number];
const TYPED_COLUMNS = ['present', 'ordinal', 'outcome'] as const;
type TypedColumn = (typeof TYPED_COLUMNS)[number];
const PER_INDEX_COLUMNS = ['itemId', 'instanceOf'] as const;
type PerIndexColumn = (typeof PER_INDEX_COLUMNS)[number];
const COUNTERS = ['requests', 'warmup', 'untimed', 'tokensFromUsage', 'tokensFromChunks', 'reasoningRequests', 'toolCallRequests'] as const;
type Counter = (typeof COUNTERS)[number];

/**
 * Every ArmColumns field by how a parallel read carries it from a read worker to the main thread
 * (exportState / absorb loop over these lists). test/record-fields.test.ts fails when ArmColumns has
 * a field listed nowhere here.
 */
export const ARM_TRANSFER = {
  /** Typed arrays indexed by request, transferred. */
  typed: TYPED_COLUMNS,
  /** Float64 columns indexed by request, transferred (state.floats). */
  floats: FLOAT_COLUMNS,
  /** Plain arrays indexed by request. */
  perIndex: PER_INDEX_COLUMNS,
  /** Summed across ranges. */
  counters: COUNTERS,
  /** Carried by hand: the name, the size, pooled ITL blocks (adopted), the instance set, texts for pairs.csv. */
  other: ['arm', 'capacity', 'itl', 'instances', 'outputText', 'models'] as const,
};

/**
 * ArmColumns as plain data, to move a read worker's columns to the main thread (typed arrays are
 * transferred, not copied). Built from ARM_TRANSFER; test/record-fields.test.ts checks that every
 * ArmColumns field is listed there, and test/analysis-read.test.ts compares every field of a
 * parallel read with a sequential one.
 */
export interface ArmState {
  arm: string;
  capacity: number;
  typed: { present: Uint8Array<ArrayBuffer>; ordinal: Int32Array<ArrayBuffer>; outcome: Uint8Array<ArrayBuffer> };
  floats: Record<FloatColumn, Float64Array<ArrayBuffer>>;
  perIndex: Record<PerIndexColumn, string[]>;
  counters: Record<Counter, number>;
  itl: Float64Array[];
  instances: string[];
  outputText: string[] | null;
  models: Array<[string, number]>;
}

/** A RunCollector as plain data (see ArmState). */
export interface CollectorState {
  runId: string | null;
  firstRecord: string;
  size: number;
  records: number;
  arms: ArmState[];
  similarity: Record<Comparison, Float64Array>;
  pairs: Record<Comparison, PairColumns>;
  divergence: SamplerState;
  pending: Array<[number, PendingTexts]>;
}

/** A Float64Column that takes whole filled blocks from other columns (a worker's ITL values) without copying them. */
class AdoptingColumn extends Float64Column {
  readonly #parts: Array<{ block: Float64Array; used: number; growable: boolean }> = [];
  #length = 0;
  override get length(): number {
    return this.#length;
  }
  override push(value: number): void {
    let last = this.#parts[this.#parts.length - 1];
    if (!last || !last.growable || last.used === last.block.length) {
      last = { block: new Float64Array(this.blockSize), used: 0, growable: true };
      this.#parts.push(last);
    }
    last.block[last.used++] = value;
    this.#length++;
  }
  override chunks(): Float64Array[] {
    return this.#parts.map((part) => (part.used === part.block.length ? part.block : part.block.subarray(0, part.used)));
  }
  /** Appends the values of `chunks`, in order. */
  adopt(chunks: Float64Array[]): void {
    for (const block of chunks) {
      if (block.length === 0) continue;
      this.#parts.push({ block, used: block.length, growable: false });
      this.#length += block.length;
    }
  }
}

export interface PendingTexts {
  baseline?: OutputParts | null; // null = arrived but not ok (no similarity for this index)
  candidate?: OutputParts | null;
  /** Kept after its comparison until the candidate's is done, to show beside it in the divergence explorer. */
  repeat?: OutputParts | null;
  candidateDone?: boolean;
  repeatDone?: boolean;
}

export interface CollectorOptions {
  /** Whether a baseline_repeat arm may appear; when false, baseline texts are dropped as soon as the candidate's arrives. */
  expectRepeat: boolean;
  /** Keep output texts for pairs.csv (memory grows with the run). */
  keepText: boolean;
  /** Worst pairs kept per mismatch kind for the divergence explorer (default DEFAULT_DIVERGENCE_PAIRS; 0: none). */
  divergencePairs?: number;
}

const newPairColumns = (): PairColumns => ({
  reasoning: new Float64Array(0),
  toolArgs: new Float64Array(0),
  tools: new Uint8Array(0),
  finish: new Uint8Array(0),
  finishPair: new Uint8Array(0),
});

export class RunCollector {
  runId: string | null = null;
  readonly arms = new Map<string, ArmColumns>();
  /** Highest request index seen + 1. */
  size = 0;
  records = 0;
  similarity: Record<Comparison, Float64Array> = { candidate: new Float64Array(0), repeat: new Float64Array(0) };
  /** Part-by-part results beside `similarity` (the answer ratio). */
  pairs: Record<Comparison, PairColumns> = { candidate: newPairColumns(), repeat: newPairColumns() };
  /** The worst baseline/candidate pairs per mismatch kind (bounded), for the divergence explorer. */
  readonly divergence: DivergenceSampler;
  readonly #pending = new Map<number, PendingTexts>();
  readonly #options: CollectorOptions;
  #firstRecord = '';

  constructor(options: CollectorOptions) {
    this.#options = options;
    this.divergence = new DivergenceSampler(options.divergencePairs ?? DEFAULT_DIVERGENCE_PAIRS);
  }

  arm(name: string): ArmColumns {
    let a = this.arms.get(name);
    if (!a) {
      a = new ArmColumns(name);
      if (this.#options.keepText) a.outputText = [];
      this.arms.set(name, a);
    }
    return a;
  }

  add(r: RequestRecord): void {
    this.records++;
    if (this.runId === null) {
      this.runId = r.run_id;
      this.#firstRecord = `record ${this.records} (${r.arm} #${r.index})`;
    } else if (r.run_id !== this.runId) {
      throw new AnalysisInputError(
        `records from two different runs: "${this.runId}" (first seen at ${this.#firstRecord}) and "${r.run_id}" (record ${this.records}, ${r.arm} #${r.index}); analyse one run per folder`,
      );
    }
    const a = this.arm(r.arm);
    const i = r.index;
    a.ensure(i);
    if (i >= this.size) this.size = i + 1;
    if (a.present[i] !== 0) {
      throw new AnalysisInputError(
        `duplicate request: ${r.arm} #${i} of run "${r.run_id}" appears twice, as record ${a.ordinal[i]} (instance "${a.instanceOf[i] ?? ''}") and record ${this.records} (instance "${r.instance}")`,
      );
    }
    a.ordinal[i] = this.records;
    a.instanceOf[i] = r.instance;
    a.itemId[i] = r.item_id;
    a.instances.add(r.instance);
    a.outcome[i] = OUTCOME_CODE[r.outcome.kind];
    if (r.sent_ns !== null) a.sentNs[i] = r.sent_ns;
    if (r.warmup) {
      a.present[i] = PRESENT_WARMUP;
      a.warmup++;
      return;
    }
    a.present[i] = PRESENT_MEASURED;
    a.requests++;
    if (!r.token_timing) a.untimed++;
    if (r.end_ns !== null) a.endNs[i] = r.end_ns;
    const lag = sendLagMs(r);
    if (lag !== null) a.sendLag[i] = lag;
    const ok = r.outcome.kind === 'ok';
    if (ok && r.model !== null) a.models.set(r.model, (a.models.get(r.model) ?? 0) + 1);
    if (ok) {
      const ttft = ttftMs(r);
      const e2e = e2eMs(r);
      const { tokens, fromUsage } = outputTokens(r);
      if (fromUsage) a.tokensFromUsage++;
      else a.tokensFromChunks++;
      a.tokens[i] = tokens;
      if (ttft !== null) a.ttft[i] = ttft;
      if (e2e !== null) a.e2e[i] = e2e;
      const ttfb = ttfbMs(r);
      if (ttfb !== null) a.ttfb[i] = ttfb;
      const firstChunk = firstChunkMs(r);
      if (firstChunk !== null) a.firstChunk[i] = firstChunk;
      const tpot = tpotMs(e2e, ttft, tokens);
      if (tpot !== null) a.tpot[i] = tpot;
      const tps = tokensPerSecond(tokens, e2e);
      if (tps !== null) a.tokensPerS[i] = tps;
      const itl = a.itl;
      forEachItlMs(r, (v) => itl.push(v));
      this.#addOutputFigures(a, r);
    }
    if (a.outputText) a.outputText[i] = r.output_text;
    if (r.arm === BASELINE || r.arm === CANDIDATE || r.arm === BASELINE_REPEAT) this.#pairText(r.arm, i, ok ? outputParts(r) : null);
  }

  /** Per-arm figures of an ok response's structured output (record v2): time to first answer token, reasoning and tool-call counts. */
  #addOutputFigures(a: ArmColumns, r: RequestRecord): void {
    const ttfa = ttfaMs(r);
    if (ttfa !== null) a.ttfa[r.index] = ttfa;
    if (r.reasoning_text !== '') a.reasoningRequests++;
    if (r.tool_calls.length > 0) a.toolCallRequests++;
  }

  /**
   * Holds outputs until both sides of a comparison are known, then compares the pair and forgets the
   * texts. A repeat compared before the candidate is held until the candidate's comparison (to go
   * beside it in the divergence explorer); one compared after is attached there if the pair was kept.
   */
  #pairText(arm: string, index: number, parts: OutputParts | null): void {
    let p = this.#pending.get(index);
    if (!p) {
      p = {};
      this.#pending.set(index, p);
    }
    if (arm === BASELINE) p.baseline = parts;
    else if (arm === CANDIDATE) p.candidate = parts;
    else p.repeat = parts;
    const base = p.baseline;
    if (base === undefined) return;
    if (!p.repeatDone && p.repeat !== undefined) {
      const repeat = p.repeat;
      if (base !== null && repeat !== null) {
        const result = comparePair(base, repeat);
        this.setPair('repeat', index, result);
        if (p.candidateDone) this.divergence.attachRepeat(index, repeat, result.answer);
      }
      p.repeatDone = true;
      if (p.candidateDone) p.repeat = undefined;
    }
    if (!p.candidateDone && p.candidate !== undefined) {
      const cand = p.candidate;
      if (base !== null && cand !== null) {
        const result = comparePair(base, cand);
        this.setPair('candidate', index, result);
        const repeat = p.repeatDone && p.repeat ? p.repeat : null;
        this.divergence.offer(index, result, base, cand, repeat, repeat ? (this.similarity.repeat[index] as number) : null);
      }
      p.candidateDone = true;
      p.candidate = undefined;
      p.repeat = undefined;
    }
    if (p.candidateDone && (p.repeatDone || !this.#options.expectRepeat)) this.#pending.delete(index);
  }

  /** The collector as plain data (for postMessage from a read worker), with the buffers to transfer. */
  exportState(): { state: CollectorState; transfer: ArrayBuffer[] } {
    const transfer = new Set<ArrayBuffer>();
    const arms = [...this.arms.values()].map((a) => a.exportState(transfer));
    for (const column of Object.values(this.similarity)) transfer.add(column.buffer as ArrayBuffer);
    for (const columns of Object.values(this.pairs))
      for (const column of Object.values(columns)) transfer.add(column.buffer as ArrayBuffer);
    return {
      state: {
        runId: this.runId,
        firstRecord: this.#firstRecord,
        size: this.size,
        records: this.records,
        arms,
        similarity: this.similarity,
        pairs: this.pairs,
        divergence: this.divergence.state(),
        pending: [...this.#pending],
      },
      transfer: [...transfer],
    };
  }

  /**
   * Adds what another collector gathered from a later byte range of the same file, as if its
   * records had been added here: `state.records` records of that range follow this collector's.
   * Texts still waiting for their other arm are paired across the ranges (through the sink).
   * False when the ranges conflict — two run ids, a request in both, or a baseline_repeat arm the
   * options did not expect (pairing would then depend on record order): the caller reads the file
   * sequentially instead, for the exact error or result; this collector must be discarded.
   */
  absorb(state: CollectorState): boolean {
    if (state.records === 0) return true;
    if (this.runId === null) {
      this.runId = state.runId;
      this.#firstRecord = state.firstRecord; // no record came before it, so its ordinal is global
    } else if (state.runId !== this.runId) {
      return false;
    }
    const offset = this.records;
    for (const armState of state.arms) {
      if (armState.arm === BASELINE_REPEAT && !this.#options.expectRepeat) return false;
      if (!this.arm(armState.arm).absorb(armState, offset)) return false;
    }
    if (state.size > this.size) this.size = state.size;
    this.records += state.records;
    this.#absorbPairs(state);
    for (const [index, texts] of state.pending) {
      const p = this.#pending.get(index);
      if (!p) {
        this.#pending.set(index, texts); // nothing here to pair it with (yet)
        continue;
      }
      if (texts.candidateDone) p.candidateDone = true;
      if (texts.repeatDone) {
        p.repeatDone = true;
        if (texts.repeat && !p.candidateDone) p.repeat = texts.repeat; // held for the candidate's comparison
        texts.repeat = undefined;
      }
      if (texts.baseline !== undefined) this.#pairText(BASELINE, index, texts.baseline);
      if (texts.candidate !== undefined) this.#pairText(CANDIDATE, index, texts.candidate);
      if (texts.repeat !== undefined) this.#pairText(BASELINE_REPEAT, index, texts.repeat);
    }
    return true;
  }

  /** Another range's pair results and worst pairs (absorb), before its pending outputs are paired here. */
  #absorbPairs(state: CollectorState): void {
    for (const comparison of ['candidate', 'repeat'] as const) {
      const column = state.similarity[comparison];
      const other = state.pairs[comparison];
      for (let i = 0; i < column.length; i++) {
        if (column[i] !== column[i]) continue;
        this.setPair(comparison, i, {
          answer: column[i] as number,
          reasoning: other.reasoning[i] as number,
          tools: other.tools[i] as PairResult['tools'],
          toolArgs: other.toolArgs[i] as number,
          finish: other.finish[i] as PairResult['finish'],
          finishPair: other.finishPair[i] as number,
        });
      }
      release(column);
      for (const c of Object.values(other)) release(c);
    }
    this.divergence.absorb(state.divergence);
  }

  /** Stores one comparison's result in the columns of `comparison`, growing them together. */
  setPair(comparison: Comparison, index: number, result: PairResult): void {
    let column = this.similarity[comparison];
    const pairs = this.pairs[comparison];
    if (index >= column.length) {
      let n = Math.max(1024, column.length);
      while (n <= index) n *= 2;
      column = grownF64(column, n);
      this.similarity[comparison] = column;
      pairs.reasoning = grownF64(pairs.reasoning, n);
      pairs.toolArgs = grownF64(pairs.toolArgs, n);
      pairs.tools = grownU8(pairs.tools, n);
      pairs.finish = grownU8(pairs.finish, n);
      pairs.finishPair = grownU8(pairs.finishPair, n);
    }
    column[index] = result.answer;
    pairs.reasoning[index] = result.reasoning;
    pairs.toolArgs[index] = result.toolArgs;
    pairs.tools[index] = result.tools;
    pairs.finish[index] = result.finish;
    pairs.finishPair[index] = result.finishPair;
  }

  /** Texts still waiting for their other arm (for progress and memory reporting). */
  get pendingTexts(): number {
    return this.#pending.size;
  }
}

/**
 * Two names of the same model: equal ignoring case and an organisation prefix (a server may answer
 * "Llama-3.1-8B-Instruct" to "meta-llama/Llama-3.1-8B-Instruct"), or one a dated snapshot of the
 * other (an alias resolved by the server: "gpt-4o" → "gpt-4o-2024-08-06", "gpt-4" → "gpt-4-0613",
 * "claude-3-5-sonnet-latest" → "claude-3-5-sonnet-20241022").
 */
export function sameModel(a: string, b: string): boolean {
  const base = (m: string) => (m.trim().toLowerCase().split('/').at(-1) as string).trim();
  const [x, y] = [base(a), base(b)];
  if (x === y) return true;
  const snapshotOf = (alias: string, full: string) => {
    const stem = alias.endsWith('-latest') ? alias.slice(0, -'-latest'.length) : alias;
    return full.startsWith(`${stem}-`) && /^(\d{4}-\d{2}-\d{2}|\d{8}|\d{4})$/.test(full.slice(stem.length + 1));
  };
  return snapshotOf(x, y) || snapshotOf(y, x);
}

/**
 * Validity warnings about the models responses named (record.model): an arm answered under more than
 * one model; an arm's responses named a model it was not asked for (`asked`: per arm, the models its
 * requests named, from run.json; unknown arms are not checked); two arms asked the same model (the
 * baseline's repeat always, the candidate when run.json says so) answered under different ones.
 * Names are compared with sameModel.
 */
export function modelWarnings(
  arms: ReadonlyMap<string, ArmColumns>,
  asked: ReadonlyMap<string, readonly string[]> | null = null,
): string[] {
  const named = (a: ArmColumns) => [...a.models.entries()].map(([m, n]) => `${m} (${n})`).join(', ');
  const out: string[] = [];
  for (const a of arms.values()) if (a.models.size > 1) out.push(`${a.arm} responses named ${a.models.size} models: ${named(a)}`);
  for (const a of arms.values()) {
    const wanted = asked?.get(a.arm) ?? [];
    if (wanted.length === 0) continue;
    const others = [...a.models].filter(([m]) => !wanted.some((w) => sameModel(w, m)));
    if (others.length === 0) continue;
    const count = others.reduce((sum, [, n]) => sum + n, 0);
    const total = [...a.models.values()].reduce((sum, n) => sum + n, 0);
    out.push(
      `${a.arm}: ${count} of ${total} responses named a model it was not asked for: ${others.map(([m, n]) => `${m} (${n})`).join(', ')}; asked for ${wanted.join(', ')}`,
    );
  }
  const base = arms.get(BASELINE);
  if (base === undefined || base.models.size === 0) return out;
  const askedKey = (arm: string) => {
    const models = asked?.get(arm);
    return models === undefined || models.length === 0 ? null : [...models].sort().join('\n');
  };
  const covers = (p: ArmColumns, q: ArmColumns) => [...p.models.keys()].every((m) => [...q.models.keys()].some((n) => sameModel(m, n)));
  for (const other of arms.values()) {
    if (other === base || other.models.size === 0) continue;
    const sameAsked = other.arm === BASELINE_REPEAT || (askedKey(BASELINE) !== null && askedKey(BASELINE) === askedKey(other.arm));
    if (sameAsked && !(covers(base, other) && covers(other, base)))
      out.push(`baseline and ${other.arm} were asked the same model but answered as ${named(base)} vs ${named(other)}`);
  }
  return out;
}

/** What of a record is compared with the other arm's. */
export function outputParts(r: RequestRecord): OutputParts {
  return { answer: r.output_text, reasoning: r.reasoning_text, toolCalls: r.tool_calls, finish: r.finish_reason };
}
