// Whether a compared pair is consistent, and which parts made it not: the one rule the report, the
// verdict, the regression gate and the divergence explorer share (gates: proceed.similarity_threshold
// and the consistency section).
import { FINISH_DIFFERENT, TOOLS_ARGUMENTS, TOOLS_NAME } from './compare.ts';
import { DEFAULT_GATES, type Gates } from './gates.ts';

/** The parts of a pair that can fail, in the order the verdict names them. */
export const PARTS = ['text', 'tool_name', 'tool_arguments', 'finish_reason', 'reasoning'] as const;
export type Part = (typeof PARTS)[number];
export const PART_LABEL: Record<Part, string> = {
  text: 'text',
  tool_name: 'tool name',
  tool_arguments: 'tool arguments',
  finish_reason: 'finish reason',
  reasoning: 'reasoning',
};
export const PART_BIT: Record<Part, number> = { text: 1, tool_name: 2, tool_arguments: 4, finish_reason: 8, reasoning: 16 };

/** The gates that decide consistency, as plain data. */
export interface ComparePolicy {
  similarity_threshold: number;
  tool_arguments: 'exact' | 'similar';
  finish_reason: boolean;
  reasoning_threshold: number | null;
}

export function comparePolicy(gates: Gates): ComparePolicy {
  const consistency = gates.consistency ?? DEFAULT_GATES.consistency; // a summary.json of version 1 has no consistency section
  return {
    similarity_threshold: gates.proceed.similarity_threshold,
    tool_arguments: consistency.tool_arguments,
    finish_reason: consistency.finish_reason,
    reasoning_threshold: consistency.reasoning_threshold,
  };
}

/** Whether arguments that differ after canonicalisation still count as matching (policy `similar`). */
export function argumentsAccepted(toolArgs: number, policy: ComparePolicy): boolean {
  return policy.tool_arguments === 'similar' && toolArgs >= policy.similarity_threshold;
}

/**
 * The parts of one pair that fail the policy, as PART_BIT bits (0 = consistent). Inputs are the
 * stored pair columns (analysis/compare.ts PairResult); an answer ratio of NaN means "not compared".
 */
export function failedParts(
  answer: number,
  reasoning: number,
  tools: number,
  toolArgs: number,
  finish: number,
  policy: ComparePolicy,
): number {
  let bits = 0;
  if (!(answer >= policy.similarity_threshold)) bits |= PART_BIT.text;
  if (tools === TOOLS_NAME) bits |= PART_BIT.tool_name;
  else if (tools === TOOLS_ARGUMENTS && !argumentsAccepted(toolArgs, policy)) bits |= PART_BIT.tool_arguments;
  if (policy.finish_reason && finish === FINISH_DIFFERENT) bits |= PART_BIT.finish_reason;
  if (policy.reasoning_threshold !== null && reasoning === reasoning && reasoning < policy.reasoning_threshold) bits |= PART_BIT.reasoning;
  return bits;
}

/** The names of the parts in `bits`, in PARTS order. */
export const partsOf = (bits: number): Part[] => PARTS.filter((p) => (bits & PART_BIT[p]) !== 0);
