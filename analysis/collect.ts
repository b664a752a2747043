// Streaming reduction of records to what the analysis needs: per-request scalars in typed arrays
// indexed by request index, pooled ITL values, and output texts only until both arms of an index
// have arrived (then the pair goes to the similarity function and the texts are dropped).
// Memory is O(requests) numbers plus O(tokens) ITL values, never O(records) objects.
import { BASELINE, BASELINE_REPEAT, CANDIDATE, OUTCOME_KINDS, type OutcomeKind, type RequestRecord } from '../core/record.ts';
import { e2eMs, firstChunkMs, forEachItlMs, outputTokens, sendLagMs, tokensPerSecond, tpotMs, ttfbMs, ttftMs } from './metrics.ts';
import { Float64Column } from './stats.ts';

/** Input that cannot be analysed (two runs mixed, duplicate requests): the CLI exits 2. */
export class AnalysisInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AnalysisInputError';
  }
}

/** The comparisons whose output similarity is measured: baseline vs candidate, and the A/A baseline vs its repeat. */
export type Comparison = 'candidate' | 'repeat';

/** Where similarity work goes; `collector.setSimilarity` receives the answers (now or later). */
export type SimilaritySink = (comparison: Comparison, index: number, baselineText: string, otherText: string) => void;

export const PRESENT_MEASURED = 1;
export const PRESENT_WARMUP = 2;
export const OUTCOME_CODE: Record<OutcomeKind, number> = Object.fromEntries(OUTCOME_KINDS.map((k, i) => [k, i])) as Record<OutcomeKind, number>;

const grownF64 = (a: Float64Array, n: number) => {
  const b = new Float64Array(n).fill(Number.NaN);
  b.set(a);
  return b;
};
const grownU8 = (a: Uint8Array, n: number) => {
  const b = new Uint8Array(n);
  b.set(a);
  return b;
};
const grownI32 = (a: Int32Array, n: number) => {
  const b = new Int32Array(n);
  b.set(a);
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
  instances = new Set<string>();
  outputText: string[] | null = null;

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
    for (const key of ['ttft', 'e2e', 'ttfb', 'firstChunk', 'tpot', 'tokens', 'tokensPerS', 'sendLag', 'sentNs', 'endNs'] as const) {
      this[key] = grownF64(this[key], n);
    }
    this.capacity = n;
  }
}

interface PendingTexts {
  baseline?: string | null; // null = arrived but not ok (no similarity for this index)
  candidate?: string | null;
  repeat?: string | null;
  candidateDone?: boolean;
  repeatDone?: boolean;
}

export interface CollectorOptions {
  /** Whether a baseline_repeat arm may appear; when false, baseline texts are dropped as soon as the candidate's arrives. */
  expectRepeat: boolean;
  /** Keep output texts for pairs.csv (memory grows with the run). */
  keepText: boolean;
  sink: SimilaritySink;
}

export class RunCollector {
  runId: string | null = null;
  readonly arms = new Map<string, ArmColumns>();
  /** Highest request index seen + 1. */
  size = 0;
  records = 0;
  similarity: Record<Comparison, Float64Array> = { candidate: new Float64Array(0), repeat: new Float64Array(0) };
  readonly #pending = new Map<number, PendingTexts>();
  readonly #options: CollectorOptions;
  #firstRecord = '';

  constructor(options: CollectorOptions) {
    this.#options = options;
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
    }
    if (a.outputText) a.outputText[i] = r.output_text;
    if (r.arm === BASELINE || r.arm === CANDIDATE || r.arm === BASELINE_REPEAT) this.#pairText(r.arm, i, ok ? r.output_text : null);
  }

  /** Holds texts until both sides of a comparison are known, then hands the pair to the sink and forgets the texts. */
  #pairText(arm: string, index: number, text: string | null): void {
    let p = this.#pending.get(index);
    if (!p) {
      p = {};
      this.#pending.set(index, p);
    }
    if (arm === BASELINE) p.baseline = text;
    else if (arm === CANDIDATE) p.candidate = text;
    else p.repeat = text;
    if (p.baseline === undefined) return;
    if (!p.candidateDone && p.candidate !== undefined) {
      if (p.baseline !== null && p.candidate !== null) this.#options.sink('candidate', index, p.baseline, p.candidate);
      p.candidateDone = true;
      p.candidate = undefined;
    }
    if (!p.repeatDone && p.repeat !== undefined) {
      if (p.baseline !== null && p.repeat !== null) this.#options.sink('repeat', index, p.baseline, p.repeat);
      p.repeatDone = true;
      p.repeat = undefined;
    }
    if (p.candidateDone && (p.repeatDone || !this.#options.expectRepeat)) this.#pending.delete(index);
  }

  setSimilarity(comparison: Comparison, index: number, ratio: number): void {
    let column = this.similarity[comparison];
    if (index >= column.length) {
      let n = Math.max(1024, column.length);
      while (n <= index) n *= 2;
      column = grownF64(column, n);
      this.similarity[comparison] = column;
    }
    column[index] = ratio;
  }

  /** Texts still waiting for their other arm (for progress and memory reporting). */
  get pendingTexts(): number {
    return this.#pending.size;
  }
}
