// One pair of outputs compared part by part: the answer, the reasoning, the tool calls and the
// finish reason. The result is independent of any threshold (the gates decide later what counts as
// consistent, analysis/consistency.ts), so it can be computed on whichever read thread holds both
// records and stored in typed columns.
import type { ToolCall } from '../core/record.ts';
import { similarityRatio } from './stats/similarity.ts';

/** What of a response is compared (record v2 fields; v1 records have no reasoning and no tool calls). */
export interface OutputParts {
  answer: string;
  reasoning: string;
  toolCalls: ToolCall[];
  finish: string | null;
}

/** Tool-call comparison of a pair, as stored in the Uint8 `tools` column. */
export const TOOLS_NONE = 0; // neither side called a tool
export const TOOLS_MATCH = 1; // same names in the same order, arguments equal after canonicalisation
export const TOOLS_NAME = 2; // the count, a name or the order differs
export const TOOLS_ARGUMENTS = 3; // same names, some arguments differ (see toolArgs for how much)

/** Finish-reason comparison, as stored in the Uint8 `finish` column (0 = not compared). */
export const FINISH_SAME = 1;
export const FINISH_DIFFERENT = 2;

/** Finish reasons named in the mismatch table (the values vLLM and OpenAI send); any other is "other". */
export const FINISH_NAMES = ['none', 'stop', 'length', 'tool_calls', 'content_filter', 'function_call', 'abort', 'error', 'other'] as const;
const finishCode = (f: string | null): number => {
  if (f === null) return 0;
  const k = FINISH_NAMES.indexOf(f as (typeof FINISH_NAMES)[number]);
  return k <= 0 ? FINISH_NAMES.length - 1 : k;
};
/** The pair's two finish reasons in one byte (baseline × 9 + other), as stored in the `finishPair` column. */
export const finishPairCode = (base: string | null, other: string | null): number =>
  finishCode(base) * FINISH_NAMES.length + finishCode(other);
/** "stop→length" from a finishPairCode. */
export const finishPairName = (code: number): string =>
  `${FINISH_NAMES[Math.floor(code / FINISH_NAMES.length)] ?? 'other'}→${FINISH_NAMES[code % FINISH_NAMES.length] ?? 'other'}`;

export interface PairResult {
  /** difflib ratio of the answers (1 for two empty answers: a tool-call-only pair). */
  answer: number;
  /** difflib ratio of the reasoning texts; NaN when neither side reasoned. */
  reasoning: number;
  tools: typeof TOOLS_NONE | typeof TOOLS_MATCH | typeof TOOLS_NAME | typeof TOOLS_ARGUMENTS;
  /** See toolArgumentsScore; NaN unless tools is TOOLS_MATCH (1) or TOOLS_ARGUMENTS. */
  toolArgs: number;
  finish: typeof FINISH_SAME | typeof FINISH_DIFFERENT;
  /** finishPairCode(base.finish, other.finish). */
  finishPair: number;
}

export function comparePair(base: OutputParts, other: OutputParts): PairResult {
  const answer = similarityRatio(base.answer, other.answer);
  const reasoning = base.reasoning === '' && other.reasoning === '' ? Number.NaN : similarityRatio(base.reasoning, other.reasoning);
  const finish = base.finish === other.finish ? FINISH_SAME : FINISH_DIFFERENT;
  const finishPair = finishPairCode(base.finish, other.finish);
  const a = base.toolCalls;
  const b = other.toolCalls;
  if (a.length === 0 && b.length === 0) return { answer, reasoning, tools: TOOLS_NONE, toolArgs: Number.NaN, finish, finishPair };
  if (a.length !== b.length || a.some((call, k) => call.name !== (b[k] as ToolCall).name))
    return { answer, reasoning, tools: TOOLS_NAME, toolArgs: Number.NaN, finish, finishPair };
  let score = 1;
  for (let k = 0; k < a.length; k++) score = Math.min(score, toolArgumentsScore(a[k] as ToolCall, b[k] as ToolCall));
  const equal = a.every((c, k) => sameArguments(c, b[k] as ToolCall));
  return {
    answer,
    reasoning,
    tools: equal ? TOOLS_MATCH : TOOLS_ARGUMENTS,
    toolArgs: equal ? 1 : Math.min(score, 1 - Number.EPSILON),
    finish,
    finishPair,
  };
}

const sameArguments = (a: ToolCall, b: ToolCall): boolean => a.arguments === b.arguments && a.arguments_json === b.arguments_json;

/**
 * How alike two calls' arguments are, from 0 to 1:
 *  - 1 when equal after canonicalisation (the record holds canonical JSON);
 *  - both JSON with the same structure (same keys, same array lengths, equal non-string values):
 *    the lowest difflib ratio over the string values that differ, so {"city":"Paris"} against
 *    {"city":"London"} scores ratio("Paris", "London") = 0, not the 0.67 of the whole strings;
 *  - both invalid JSON: the ratio of the raw texts;
 *  - otherwise (different structure, one side invalid JSON) 0.
 */
export function toolArgumentsScore(a: ToolCall, b: ToolCall): number {
  if (sameArguments(a, b)) return 1;
  if (!a.arguments_json && !b.arguments_json) return similarityRatio(a.arguments, b.arguments);
  if (a.arguments_json !== b.arguments_json) return 0;
  let x: unknown;
  let y: unknown;
  try {
    x = JSON.parse(a.arguments);
    y = JSON.parse(b.arguments);
  } catch {
    return similarityRatio(a.arguments, b.arguments); // not canonical JSON after all: compare as text
  }
  return structureScore(x, y);
}

function structureScore(x: unknown, y: unknown): number {
  if (typeof x === 'string' && typeof y === 'string') return x === y ? 1 : similarityRatio(x, y);
  if (Array.isArray(x) || Array.isArray(y)) {
    if (!Array.isArray(x) || !Array.isArray(y) || x.length !== y.length) return 0;
    let score = 1;
    for (let k = 0; k < x.length && score > 0; k++) score = Math.min(score, structureScore(x[k], y[k]));
    return score;
  }
  if (typeof x === 'object' && x !== null && typeof y === 'object' && y !== null) {
    const kx = Object.keys(x);
    const ky = Object.keys(y);
    if (kx.length !== ky.length) return 0;
    let score = 1;
    for (const key of kx) {
      if (!Object.prototype.hasOwnProperty.call(y, key)) return 0;
      score = Math.min(score, structureScore((x as Record<string, unknown>)[key], (y as Record<string, unknown>)[key]));
      if (score === 0) return 0;
    }
    return score;
  }
  return x === y ? 1 : 0; // numbers, booleans, null: equal or not
}

/** A tool call as one line of text: name(canonical arguments). */
export const toolCallText = (c: ToolCall): string => `${c.name}(${c.arguments})`;
