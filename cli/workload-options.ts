// The workload-reading flags of `shadowbench load` (lengths, filters, output control, Azure prefix
// sharing; workloads/FORMATS.md), kept apart from cli/load.ts's run flags.
import { SHAREGPT_MODES } from '../core/workload/sharegpt.ts';
import { OUTPUT_CONTROLS } from '../core/workload/workload.ts';
import { TOKENIZER_CHOICES } from '../io/tokenizer.ts';
import type { OpenWorkloadOptions } from '../io/workload-file.ts';
import { bool, num, str, UsageError } from '../core/options.ts';

export const WORKLOAD_OPTIONS = {
  maxModelLen: num({
    integer: true,
    min: 2,
    meta: 'TOKENS',
    help: "skip workload items whose prompt + output tokens exceed this (the server's context length; counted in run.json's warnings)",
  }),
  maxOutputTokens: num({
    integer: true,
    min: 1,
    meta: 'TOKENS',
    help: 'cap every synthesised or ShareGPT max_tokens (and min_tokens) at this; applied before --max-model-len',
  }),
  outputControl: str({
    default: 'both',
    choices: OUTPUT_CONTROLS,
    help: 'trace/azure: how the output length is forced besides max_tokens: min_tokens and ignore_eos (vLLM, SGLang, Dynamo, TRT-LLM), one of them, or none (TGI, strict OpenAI servers)',
  }),
  tokenizer: str({
    default: 'o200k',
    choices: TOKENIZER_CHOICES,
    help: 'sharegpt: token counts from o200k_base (gpt-tokenizer, offline) or the CJK-aware estimate',
  }),
  sharegptMode: str({
    default: 'vllm',
    choices: SHAREGPT_MODES,
    help: "sharegpt: vllm (conversations[0] is the prompt, [1] the reply, whatever their roles: vLLM's sampler) or first-human",
  }),
  sharegptOutputLen: num({
    integer: true,
    min: 1,
    meta: 'TOKENS',
    help: 'sharegpt: max_tokens of every request (vLLM --sharegpt-output-len); skips the short-reply check',
  }),
  sharegptVllmLimits: bool({ help: "sharegpt: also apply vLLM's fixed limits (prompt ≤ 1024 tokens, prompt + output ≤ 2048)" }),
  minTokens: num({
    integer: true,
    min: 0,
    meta: 'TOKENS',
    help: 'sharegpt: skip prompts or replies shorter than this [default 4 in vllm mode, 0 in first-human]',
  }),
  prefixTokens: num({
    integer: true,
    min: 1,
    meta: 'TOKENS',
    help: 'azure: every prompt starts with the same TOKENS-word prefix (a system prompt; the trace has no prefix data) [default: no sharing]',
  }),
  prefixGroups: num({
    integer: true,
    min: 1,
    meta: 'N',
    help: 'azure: with --prefix-tokens, N different prefixes, each row in a seeded group',
  }),
};

type WorkloadValues = {
  [K in keyof typeof WORKLOAD_OPTIONS]: (typeof WORKLOAD_OPTIONS)[K] extends { default: infer T } ? T : never;
};

/** openWorkload's options from the flags. */
export function workloadOpenOptions(
  v: WorkloadValues & { seed: number; sample?: number | undefined; format?: string | undefined },
): OpenWorkloadOptions {
  if (v.prefixGroups !== undefined && v.prefixTokens === undefined)
    throw new UsageError('--prefix-groups needs --prefix-tokens (how long each group prefix is)');
  return {
    seed: v.seed,
    ...(v.format !== undefined && { format: v.format as OpenWorkloadOptions['format'] & string }),
    ...(v.sample !== undefined && { sample: v.sample }),
    tokenizer: v.tokenizer,
    sharegptMode: v.sharegptMode,
    outputControl: v.outputControl,
    ...(v.sharegptOutputLen !== undefined && { sharegptMaxTokens: v.sharegptOutputLen }),
    ...(v.sharegptVllmLimits && { sharegptVllmLimits: true }),
    ...(v.minTokens !== undefined && { minTokens: v.minTokens }),
    filters: {
      ...(v.maxModelLen !== undefined && { maxModelLen: v.maxModelLen }),
      ...(v.maxOutputTokens !== undefined && { maxOutputTokens: v.maxOutputTokens }),
    },
    ...(v.prefixTokens !== undefined && {
      prefix:
        v.prefixGroups === undefined
          ? { kind: 'shared' as const, tokens: v.prefixTokens }
          : { kind: 'groups' as const, tokens: v.prefixTokens, groups: v.prefixGroups },
    }),
  };
}

/** Flags that only one format reads are refused with the others (rather than silently ignored). */
export function checkWorkloadFlags(v: Partial<WorkloadValues>, format: string): void {
  const only: Array<[keyof WorkloadValues, string[]]> = [
    ['prefixTokens', ['azure']],
    ['prefixGroups', ['azure']],
    ['sharegptOutputLen', ['sharegpt']],
    ['sharegptVllmLimits', ['sharegpt']],
    ['minTokens', ['sharegpt']],
    ['maxModelLen', ['sharegpt', 'trace', 'azure']],
    ['maxOutputTokens', ['sharegpt', 'trace', 'azure']],
  ];
  for (const [key, formats] of only) {
    const value = v[key];
    if (value !== undefined && value !== false && !formats.includes(format))
      throw new UsageError(
        `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} applies to ${formats.join(', ')} workloads; this one is ${format}`,
      );
  }
}
