// ShareGPT-style conversations, as used by `vllm bench serve --dataset-name sharegpt`:
//   [{"id": "...", "conversations": [{"from": "human", "value": "..."}, {"from": "gpt", "value": "..."}]}, ...]
// Each entry becomes one chat request: the first human turn is the prompt (preceded by a system turn
// if the conversation opens with one); the first gpt reply after it sets max_tokens, estimated as
// ceil(characters / 4) — a rough English tokens≈chars/4 rule, since no tokenizer is available here.
// A JSON Lines file with one entry per line is accepted too.
import {
  DEFAULT_MODEL,
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
  /** 'reply' (default): max_tokens from the first gpt reply's length; a number: that max_tokens for every request. */
  maxTokens?: 'reply' | number;
}

/** max_tokens when the conversation has no gpt reply to measure. */
export const SHAREGPT_FALLBACK_MAX_TOKENS = 256;
/** Rough characters per token of English text, for max_tokens from a reply's length. */
export const CHARS_PER_TOKEN = 4;

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

export function parseShareGpt(text: string, options: ShareGptParseOptions): { items: WorkloadItem[]; notes: string[] } {
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
    const promptAt = turns.findIndex((t) => t.role === 'user' && t.value.trim() !== '');
    const prompt = turns[promptAt];
    if (prompt === undefined) {
      // ShareGPT dumps hold empty and assistant-only conversations; vLLM skips them too.
      withoutPrompt++;
      continue;
    }
    const system = turns.slice(0, promptAt).find((t) => t.role === 'system');
    const reply = turns.slice(promptAt + 1).find((t) => t.role === 'assistant');
    const messages = system
      ? [
          { role: 'system', content: system.value },
          { role: 'user', content: prompt.value },
        ]
      : [{ role: 'user', content: prompt.value }];
    let max: number;
    if (maxTokens !== 'reply') max = maxTokens;
    else if (reply !== undefined) max = Math.max(1, Math.ceil(reply.value.length / CHARS_PER_TOKEN));
    else {
      withoutReply++;
      max = SHAREGPT_FALLBACK_MAX_TOKENS;
    }
    items.push({ id, api: 'chat', body: { model, messages, max_tokens: max }, timestamp_ms: null });
  }
  const notes: string[] = [];
  if (withoutPrompt > 0) notes.push(`${file}: skipped ${withoutPrompt} of ${entries.length} conversations with no non-empty human turn`);
  if (withoutReply > 0)
    notes.push(`${file}: ${withoutReply} conversations have no gpt reply; their max_tokens is ${SHAREGPT_FALLBACK_MAX_TOKENS}`);
  if (items.length === 0)
    throw new WorkloadError(file, 1, `no conversation has a non-empty human turn (${entries.length} entries; expected ${ENTRY_SHAPE})`);
  return { items, notes };
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
