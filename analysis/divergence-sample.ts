// The worst pairs of a run, kept with bounded memory while the records are read, for the divergence
// explorer (report/divergence.ts): per mismatch kind, the N pairs with the lowest score, with their
// outputs (each text cut to MAX_SAMPLE_CHARS). Like Diffy's bounded examples per differing field.
//
// Deterministic whatever the number of read threads: each kind keeps the N smallest keys
// (score, index) of a total order, so the N kept from the union of the ranges is the N smallest of
// the per-range lists merged (merge = offer every entry of the other list). Independent of the gates:
// the lowest ratios are kept whatever the threshold, and the report drops those the gates accept.
import type { OutputParts, PairResult } from './compare.ts';
import { FINISH_DIFFERENT, TOOLS_ARGUMENTS, TOOLS_NAME } from './compare.ts';

export const SAMPLE_KINDS = ['text', 'tool_name', 'tool_arguments', 'finish_reason', 'reasoning'] as const;
export type SampleKind = (typeof SAMPLE_KINDS)[number];

/** Worst pairs kept per kind unless the collector is told otherwise. */
export const DEFAULT_DIVERGENCE_PAIRS = 20;
/** Each kept text is cut to this many UTF-16 units (the original length is kept beside it). */
export const MAX_SAMPLE_CHARS = 4000;

/** OutputParts with texts cut to MAX_SAMPLE_CHARS and their original lengths. */
export interface SampledParts extends OutputParts {
  answerLength: number;
  reasoningLength: number;
}

export interface DivergenceSample {
  index: number;
  result: PairResult;
  base: SampledParts;
  cand: SampledParts;
  /** The baseline's A/A repeat of the same request and its answer ratio against the baseline; null without one. */
  repeat: SampledParts | null;
  repeatAnswer: number | null;
}

/** Plain data for postMessage: per kind, the kept samples worst first (a sample may appear under several kinds). */
export type SamplerState = Record<SampleKind, DivergenceSample[]>;

function cut(text: string): string {
  if (text.length <= MAX_SAMPLE_CHARS) return text;
  let end = MAX_SAMPLE_CHARS;
  const unit = text.charCodeAt(end - 1);
  if (unit >= 0xd800 && unit <= 0xdbff) end--; // do not split a surrogate pair
  return text.slice(0, end);
}

export function sampledParts(p: OutputParts): SampledParts {
  return {
    answer: cut(p.answer),
    reasoning: cut(p.reasoning),
    toolCalls: p.toolCalls.map((c) => ({ name: cut(c.name), arguments: cut(c.arguments), arguments_json: c.arguments_json })),
    finish: p.finish,
    answerLength: p.answer.length,
    reasoningLength: p.reasoning.length,
  };
}

/** The score a pair is ranked by under `kind` (lower = worse), or null when the pair is not of that kind. */
export function sampleScore(kind: SampleKind, r: PairResult): number | null {
  switch (kind) {
    case 'text':
      return r.answer < 1 ? r.answer : null;
    case 'tool_name':
      return r.tools === TOOLS_NAME ? r.answer : null;
    case 'tool_arguments':
      return r.tools === TOOLS_ARGUMENTS ? r.toolArgs : null;
    case 'finish_reason':
      return r.finish === FINISH_DIFFERENT ? r.answer : null;
    case 'reasoning':
      return r.reasoning === r.reasoning && r.reasoning < 1 ? r.reasoning : null;
  }
}

interface Kept {
  score: number;
  sample: DivergenceSample;
}

const before = (a: Kept, b: Kept): boolean => a.score < b.score || (a.score === b.score && a.sample.index < b.sample.index);

export class DivergenceSampler {
  readonly limit: number;
  readonly #kinds = Object.fromEntries(SAMPLE_KINDS.map((k) => [k, [] as Kept[]])) as Record<SampleKind, Kept[]>;
  /** The samples held under any kind, by index, with how many kinds hold each. */
  readonly #byIndex = new Map<number, { sample: DivergenceSample; holders: number }>();

  constructor(limit = DEFAULT_DIVERGENCE_PAIRS) {
    this.limit = Math.max(0, Math.floor(limit));
  }

  /** Offers a compared baseline/candidate pair; its outputs are copied (cut) only if it is kept. */
  offer(
    index: number,
    result: PairResult,
    base: OutputParts,
    cand: OutputParts,
    repeat: OutputParts | null,
    repeatAnswer: number | null,
  ): void {
    if (this.limit === 0) return;
    let sample: DivergenceSample | null = null;
    for (const kind of SAMPLE_KINDS) {
      const score = sampleScore(kind, result);
      if (score === null || !this.#wouldKeep(kind, score, index)) continue;
      sample ??= {
        index,
        result,
        base: sampledParts(base),
        cand: sampledParts(cand),
        repeat: repeat === null ? null : sampledParts(repeat),
        repeatAnswer,
      };
      this.#insert(kind, { score, sample });
    }
  }

  /** The A/A repeat of a request whose candidate pair was compared first: attached if the pair is kept. */
  attachRepeat(index: number, repeat: OutputParts, repeatAnswer: number): void {
    const held = this.#byIndex.get(index);
    if (held === undefined || held.sample.repeat !== null) return;
    held.sample.repeat = sampledParts(repeat);
    held.sample.repeatAnswer = repeatAnswer;
  }

  #wouldKeep(kind: SampleKind, score: number, index: number): boolean {
    const list = this.#kinds[kind];
    if (list.length < this.limit) return true;
    const last = list[list.length - 1] as Kept;
    return score < last.score || (score === last.score && index < last.sample.index);
  }

  #insert(kind: SampleKind, kept: Kept): void {
    const list = this.#kinds[kind];
    let lo = 0;
    let hi = list.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (before(list[mid] as Kept, kept)) lo = mid + 1;
      else hi = mid;
    }
    list.splice(lo, 0, kept);
    const held = this.#byIndex.get(kept.sample.index);
    if (held) held.holders++;
    else this.#byIndex.set(kept.sample.index, { sample: kept.sample, holders: 1 });
    if (list.length > this.limit) {
      const dropped = list.pop() as Kept;
      const h = this.#byIndex.get(dropped.sample.index);
      if (h && --h.holders === 0) this.#byIndex.delete(dropped.sample.index);
    }
  }

  /** The kept samples per kind, worst first. */
  state(): SamplerState {
    return Object.fromEntries(SAMPLE_KINDS.map((k) => [k, this.#kinds[k].map((kept) => kept.sample)])) as SamplerState;
  }

  /** Adds another sampler's samples (a later byte range read by another thread). */
  absorb(state: SamplerState): void {
    for (const kind of SAMPLE_KINDS) {
      for (const incoming of state[kind]) {
        const sample = this.#byIndex.get(incoming.index)?.sample ?? incoming;
        const score = sampleScore(kind, sample.result);
        if (score !== null && this.#wouldKeep(kind, score, sample.index)) this.#insert(kind, { score, sample });
      }
    }
  }
}
