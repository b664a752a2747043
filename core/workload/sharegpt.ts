// ShareGPT-style conversations, as used by `vllm bench serve --dataset-name sharegpt`:
//   [{"id": "...", "conversations": [{"from": "human", "value": "..."}, {"from": "gpt", "value": "..."}]}, ...]
// mode 'vllm' (default) does what vLLM's sampler does (vllm-project/vllm
// vllm/benchmarks/datasets/sharegpt.py + utils.py is_valid_sequence): entries with fewer than 2 turns
// are dropped; conversations[0].value is the prompt and conversations[1].value the completion,
// whatever their `from`; prompts or completions under 4 tokens are skipped (the completion check
// is skipped with a fixed output length). Unlike vLLM, every skip is counted by reason. mode
// 'first-human' is the older rule: the first non-empty human turn (after an opening system turn)
// and the first gpt reply after it. Lengths are counted by a TokenCounter (o200k under the CLI,
// the CJK-aware estimate otherwise). A JSON Lines file with one entry per line is accepted too.
import { ESTIMATE, type TokenCounter } from '../tokens.ts';
import {
  countSkip,
  DEFAULT_MODEL,
  emptyReport,
  reportSummary,
  type WorkloadFilterOptions,
  type WorkloadReport,
  isObject,
  isPositiveInteger,
  jsonObjectLines,
  lineColumn,
  parseJsonText,
  preview,
  stripBom,
  typeName,
  WorkloadError,
  type WorkloadItem,
} from './common.ts';

export interface ShareGptParseOptions {
  file: string;
  model?: string;
  /** 'reply' (default): max_tokens from the reply's token count; a number: that max_tokens for every request (vLLM --sharegpt-output-len). */
  maxTokens?: 'reply' | number;
  /** 'vllm' (default): conversations[0] and [1] whatever their roles; 'first-human': the first human turn and the gpt reply after it. */
  mode?: ShareGptMode;
  /** Counts prompt and reply tokens (default: the CJK-aware estimate). */
  counter?: TokenCounter;
  /** Skip prompts (and, with max_tokens from the reply, replies) under this many tokens (default 4 in vllm mode, 0 in first-human). */
  minTokens?: number;
  /** Also apply vLLM's fixed limits: prompt ≤ 1024 tokens and prompt + output ≤ 2048. */
  vllmLimits?: boolean;
  filters?: WorkloadFilterOptions;
}

export type ShareGptMode = 'vllm' | 'first-human';
export const SHAREGPT_MODES: readonly ShareGptMode[] = ['vllm', 'first-human'];
/** vLLM's is_valid_sequence defaults (vllm/benchmarks/datasets/utils.py). */
export const VLLM_MIN_LEN = 4;
export const VLLM_MAX_PROMPT_LEN = 1024;
export const VLLM_MAX_TOTAL_LEN = 2048;

/** max_tokens when the conversation has no gpt reply to measure. */
export const SHAREGPT_FALLBACK_MAX_TOKENS = 256;

const ENTRY_SHAPE = '{"id": ..., "conversations": [{"from": "human" | "gpt" | "system", "value": "..."}]}';
// ShareGPT dumps name the speakers in several ways; these are the ones seen in the wild.
const SPEAKERS: Record<string, 'user' | 'assistant' | 'system'> = {
  human: 'user',
  user: 'user',
  gpt: 'assistant',
  chatgpt: 'assistant',
  bing: 'assistant',
  assistant: 'assistant',
  system: 'system',
};

interface Entry {
  /** 1-based position in the file, for error messages. */
  ordinal: number;
  value: unknown;
  /** Line of the entry, computed only when an error needs it (scanning a big array costs a pass). */
  line: () => number;
}

export function parseShareGpt(
  text: string,
  options: ShareGptParseOptions,
): { items: WorkloadItem[]; notes: string[]; report: WorkloadReport } {
  const { file } = options;
  const body = stripBom(text);
  const entries: Entry[] = [];
  if (body.trimStart().startsWith('[')) {
    const array = parseJsonText(body, file, 1, `expected an array of ${ENTRY_SHAPE}`) as unknown[];
    if (array.length === 0) throw new WorkloadError(file, 1, `the array is empty (expected an array of ${ENTRY_SHAPE})`);
    array.forEach((value, i) => entries.push({ ordinal: i + 1, value, line: () => lineColumn(body, arrayElementOffset(body, i)).line }));
  } else {
    let ordinal = 0;
    for (const { line, value } of jsonObjectLines(body, file, ENTRY_SHAPE)) entries.push({ ordinal: ++ordinal, value, line: () => line });
  }

  const model = options.model ?? DEFAULT_MODEL;
  const maxTokens = options.maxTokens ?? 'reply';
  if (maxTokens !== 'reply' && !isPositiveInteger(maxTokens))
    throw new WorkloadError(file, null, `maxTokens ${preview(maxTokens)} must be "reply" or a positive integer`);
  const mode = options.mode ?? 'vllm';
  const counter = options.counter ?? ESTIMATE;
  const minTokens = options.minTokens ?? (mode === 'vllm' ? VLLM_MIN_LEN : 0);
  const { maxModelLen, maxOutputTokens } = options.filters ?? {};
  const report = emptyReport();
  report.tokenizer = counter.name;
  const items: WorkloadItem[] = [];
  let withoutPrompt = 0;
  let withoutReply = 0;
  for (const entry of entries) {
    const fail = (message: string): never => {
      throw new WorkloadError(file, entry.line(), `entry ${entry.ordinal}: ${message}`);
    };
    const e = entry.value;
    if (!isObject(e)) return fail(`expected an object ${ENTRY_SHAPE}, got ${typeName(e)}`);
    if (!('conversations' in e)) return fail(`missing "conversations" (expected ${ENTRY_SHAPE})`);
    if (!Array.isArray(e.conversations)) return fail(`"conversations" must be an array of {from, value}, got ${typeName(e.conversations)}`);
    let id = `entry-${entry.ordinal}`;
    if ('id' in e) {
      if (!(typeof e.id === 'string' || (typeof e.id === 'number' && Number.isSafeInteger(e.id))))
        return fail(`"id" is ${preview(e.id)} (expected a string or an integer)`);
      id = String(e.id);
    }
    const turns = e.conversations.map((turn: unknown, t: number) => {
      if (!isObject(turn)) return fail(`conversations[${t}] must be an object {from, value}, got ${typeName(turn)}`);
      const role = typeof turn.from === 'string' ? SPEAKERS[turn.from] : undefined;
      if (role === undefined) return fail(`conversations[${t}].from is ${preview(turn.from)} (expected "human", "gpt" or "system")`);
      if (typeof turn.value !== 'string') return fail(`conversations[${t}].value must be a string, got ${typeName(turn.value)}`);
      return { role, value: turn.value };
    });
    report.examined++;
    let messages: Array<{ role: string; content: string }>;
    let reply: string | undefined;
    if (mode === 'vllm') {
      // vLLM keeps entries with ≥ 2 turns and takes [0] as the prompt, [1] as the completion, whatever their roles.
      if (turns.length < 2) {
        countSkip(report, 'fewer than 2 turns');
        continue;
      }
      messages = [{ role: 'user', content: turns[0]!.value }];
      reply = turns[1]!.value;
    } else {
      const promptAt = turns.findIndex((t) => t.role === 'user' && t.value.trim() !== '');
      const prompt = turns[promptAt];
      if (prompt === undefined) {
        withoutPrompt++;
        countSkip(report, 'no non-empty human turn');
        continue;
      }
      const system = turns.slice(0, promptAt).find((t) => t.role === 'system');
      reply = turns.slice(promptAt + 1).find((t) => t.role === 'assistant')?.value;
      messages = system
        ? [
            { role: 'system', content: system.value },
            { role: 'user', content: prompt.value },
          ]
        : [{ role: 'user', content: prompt.value }];
    }
    const promptTokens = messages.reduce((sum, m) => sum + counter.count(m.content), 0);
    let output: number;
    if (maxTokens !== 'reply') output = maxTokens;
    else if (reply !== undefined) output = counter.count(reply);
    else {
      withoutReply++;
      output = SHAREGPT_FALLBACK_MAX_TOKENS;
    }
    if (promptTokens < minTokens) {
      countSkip(report, `prompt under ${minTokens} tokens`);
      continue;
    }
    if (maxTokens === 'reply' && reply !== undefined && output < minTokens) {
      countSkip(report, `output under ${minTokens} tokens`);
      continue;
    }
    if (options.vllmLimits === true && promptTokens > VLLM_MAX_PROMPT_LEN) {
      countSkip(report, `prompt over ${VLLM_MAX_PROMPT_LEN} tokens`);
      continue;
    }
    if (options.vllmLimits === true && promptTokens + output > VLLM_MAX_TOTAL_LEN) {
      countSkip(report, `prompt+output over ${VLLM_MAX_TOTAL_LEN} tokens`);
      continue;
    }
    // The output cap comes before the context check: a long reply the cap shortens keeps its item.
    const max = Math.max(1, maxOutputTokens !== undefined ? Math.min(output, maxOutputTokens) : output);
    if (maxModelLen !== undefined && promptTokens + max > maxModelLen) {
      countSkip(report, `prompt+output over --max-model-len ${maxModelLen}`);
      continue;
    }
    if (max < Math.max(1, output)) report.capped++;
    report.kept++;
    items.push({ id, api: 'chat', body: { model, messages, max_tokens: max }, timestamp_ms: null });
  }
  const notes: string[] = [];
  if (withoutPrompt > 0) notes.push(`${file}: skipped ${withoutPrompt} of ${entries.length} conversations with no non-empty human turn`);
  if (withoutReply > 0)
    notes.push(`${file}: ${withoutReply} conversations have no gpt reply; their max_tokens is ${SHAREGPT_FALLBACK_MAX_TOKENS}`);
  if (mode === 'vllm') {
    const summary = reportSummary(file, report);
    if (summary !== null) notes.push(summary);
  }
  if (items.length === 0) {
    if (mode === 'first-human' && withoutPrompt === entries.length)
      throw new WorkloadError(file, 1, `no conversation has a non-empty human turn (${entries.length} entries; expected ${ENTRY_SHAPE})`);
    const top = Object.entries(report.skipped).sort((a, b) => b[1] - a[1])[0];
    throw new WorkloadError(
      file,
      1,
      `every one of the ${entries.length} conversations was skipped${top === undefined ? '' : `, mostly for ${top[0]} (${top[1]})`} (expected ${ENTRY_SHAPE})`,
    );
  }
  return { items, notes, report };
}

/**
 * Character offset where the index-th element of the top-level JSON array starts. The text is
 * known to be valid JSON; strings are skipped so brackets inside them do not count.
 */
export function arrayElementOffset(text: string, index: number): number {
  let depth = 0;
  let seen = -1;
  let expecting = false; // at depth 1, waiting for the next element to start
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) continue;
    if (depth === 1 && expecting && c !== 0x5d /* ] */) {
      expecting = false;
      if (++seen === index) return i;
    }
    if (c === 0x22 /* " */) {
      for (i++; i < text.length && text.charCodeAt(i) !== 0x22; i++) if (text.charCodeAt(i) === 0x5c /* \ */) i++;
    } else if (c === 0x5b /* [ */ || c === 0x7b /* { */) {
      if (++depth === 1) expecting = true;
    } else if (c === 0x5d || c === 0x7d) {
      depth--;
    } else if (c === 0x2c /* , */ && depth === 1) {
      expecting = true;
    }
  }
  return text.length;
}
