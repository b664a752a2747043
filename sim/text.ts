// What the simulated model "reads" and "says". One token ≈ one whitespace-separated word. The answer
// is a pure function of the prompt (never of the server's seed or profile), so a baseline and a
// candidate simulator answer identically unless a divergence rate is configured.
import { derivedRandom, hash32, seededRandom } from '../core/random.ts';

const VOCABULARY = (
  'the a of to and in is that for it as was with be by on not he this are or his from at which but ' +
  'have an they you were her she there been one all we their has would when if will more no out so ' +
  'said what up its about into than them can only other new some could time these two may then do ' +
  'first any my now such like our over man me even most made after also did many before must through ' +
  'back years where much your way well down should because each just those people how too little state ' +
  'good very make world still own see men work long get here between both life being under never day ' +
  'same another know while last might us great old year off come since against go came right used take ' +
  'three model request token latency cache prefix server answer system user value result number ' +
  'between during without again place around however home small found thought went say part once high ' +
  'general upon school every does got united left number course war until always away something fact ' +
  'though water less public put think almost hand enough far took head yet government system better set ' +
  'told nothing night end why called didn eyes find going look asked later knew point next program city ' +
  'business give group toward young days let room president side social given present several order ' +
  'national possible rather second face per among form important often things looked early white case ' +
  'john become large big need four within felt along children saw best church ever least power development'
).split(' ');

/** Template marker counted as one prompt token per chat message (like a chat template's role header). */
const roleToken = (role: string) => `<|${role}|>`;

function words(text: string): string[] {
  const out = text.split(/\s+/);
  if (out.length > 0 && out[0] === '') out.shift();
  if (out.length > 0 && out[out.length - 1] === '') out.pop();
  return out;
}

/** Text of an OpenAI message content: a string, or an array of parts whose `text` fields count. */
export function contentText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    return content
      .map((part) =>
        typeof part === 'object' && part !== null && typeof (part as { text?: unknown }).text === 'string'
          ? (part as { text: string }).text
          : '',
      )
      .join(' ');
  }
  return '';
}

/** Prompt tokens of a chat request: a role marker then the words of each message. */
export function chatPromptTokens(messages: ReadonlyArray<{ role: string; content: unknown }>): string[] {
  const out: string[] = [];
  for (const m of messages) {
    out.push(roleToken(m.role));
    for (const w of words(contentText(m.content))) out.push(w);
  }
  out.push(roleToken('assistant')); // generation prompt
  return out;
}

export function completionPromptTokens(prompt: string): string[] {
  return words(prompt);
}

/** Stable 32-bit key of a prompt: decides the answer text and length. */
export function promptKey(tokens: readonly string[]): number {
  return hash32(tokens.join(' '));
}

/** Length the model would choose by itself (before max_tokens), 16-272 tokens. */
export function naturalLength(key: number): number {
  return 16 + Math.floor(seededRandom(key ^ 0x5bd1e995)() * 257);
}

export interface LengthRequest {
  maxTokens: number;
  minTokens: number;
  ignoreEos: boolean;
}

/** Output tokens and why generation stopped. */
export function outputLength(key: number, req: LengthRequest): { tokens: number; finishReason: 'stop' | 'length' } {
  if (req.ignoreEos) return { tokens: req.maxTokens, finishReason: 'length' };
  const natural = Math.max(naturalLength(key), req.minTokens);
  return natural >= req.maxTokens ? { tokens: req.maxTokens, finishReason: 'length' } : { tokens: natural, finishReason: 'stop' };
}

/**
 * The answer's tokens, each with its leading space (the first without), joined they give the text.
 * Words come from a seeded walk over the vocabulary with sentence punctuation.
 */
export function answerTokens(key: number, count: number): string[] {
  const random = seededRandom(key);
  const out: string[] = new Array<string>(count);
  let capital = true;
  for (let i = 0; i < count; i++) {
    let w = VOCABULARY[Math.floor(random() * VOCABULARY.length)] as string;
    if (capital) w = w.charAt(0).toUpperCase() + w.slice(1);
    const r = random();
    capital = r < 0.08;
    if (capital) w += '.';
    else if (r < 0.12) w += ',';
    out[i] = i === 0 ? w : ' ' + w;
  }
  return out;
}

/** Whether this request diverges (a `rate` share of prompts, chosen by seed and prompt). */
export function diverges(seed: number, key: number, rate: number): boolean {
  return rate > 0 && derivedRandom(seed, `divergence:${key}`)() < rate;
}

/** Replaces about 40 % of the words by others, so the answer's similarity ratio falls well below 0.9. */
export function perturb(tokens: string[], seed: number, key: number): string[] {
  const random = derivedRandom(seed, `perturb:${key}`);
  return tokens.map((t, i) => {
    if (random() >= 0.4) return t;
    const w = VOCABULARY[Math.floor(random() * VOCABULARY.length)] as string;
    return i === 0 ? w : ' ' + w;
  });
}

// --- tool calls and reasoning (issue 13) -------------------------------------------------------

/** Which key reasoning deltas use: vLLM now (`reasoning`), vLLM before the rename / Dynamo (`reasoning_content`), or both (the transition). */
export type ReasoningField = 'reasoning' | 'reasoning_content' | 'both';
export const REASONING_FIELDS: readonly ReasoningField[] = ['reasoning', 'reasoning_content', 'both'];

/**
 * One streamed chunk's payload: answer text (a string), reasoning text, the first delta of a tool call
 * (id, type, index, name: vLLM's hermes parser sends no arguments there) or an arguments fragment.
 */
export type Piece =
  string | { reasoning: string; field: ReasoningField } | { tool: number; id: string; name: string } | { tool: number; args: string };

export interface OutputRequest {
  /** The request body (chat: `tools`, `tool_choice`, `parallel_tool_calls` are read). */
  body: Record<string, unknown>;
  chat: boolean;
  key: number;
  seed: number;
  divergenceRate: number;
  length: LengthRequest;
  tokensPerChunk: number;
  /** Reasoning deltas before the answer (chat only), or null. */
  reasoning: ReasoningField | null;
}

export interface OutputPlan {
  pieces: Piece[];
  completionTokens: number;
  /** The engine's reason; on the wire a `stop` after tool calls reads `tool_calls` (as vLLM rewrites it). */
  finishReason: 'stop' | 'length';
}

/** Characters of tool-call arguments per streamed fragment (per token in the chunk). */
const ARGUMENT_CHARS_PER_TOKEN = 6;
const CITIES = ['Paris', 'London', 'Tokyo', 'New York', 'Berlin', 'Madrid', 'Rome', 'Sydney', 'Toronto', 'Mumbai'];
const PLACE = /city|location|place|town|country/i;

/** Share of tool requests answered with two parallel calls (when allowed and there are two tools). */
const PARALLEL_SHARE = 0.25;

interface ToolSpec {
  name: string;
  properties: Array<[string, Record<string, unknown>]>;
}

/** The tools a chat request offers and may be answered with ([] = answer with text). */
function offeredTools(body: Record<string, unknown>): ToolSpec[] {
  if (!Array.isArray(body.tools) || body.tools.length === 0 || body.tool_choice === 'none') return [];
  const specs: ToolSpec[] = [];
  for (const t of body.tools) {
    const f = typeof t === 'object' && t !== null ? (t as Record<string, unknown>).function : null;
    if (typeof f !== 'object' || f === null) continue;
    const fn = f as Record<string, unknown>;
    if (typeof fn.name !== 'string' || fn.name === '') continue;
    const params = fn.parameters as { properties?: unknown } | undefined;
    const props = typeof params?.properties === 'object' && params.properties !== null ? params.properties : {};
    specs.push({
      name: fn.name,
      properties: Object.entries(props as Record<string, unknown>).map(([k, v]) => [
        k,
        typeof v === 'object' && v !== null ? (v as Record<string, unknown>) : {},
      ]),
    });
  }
  const choice = body.tool_choice as { function?: { name?: unknown } } | undefined;
  const named = typeof choice === 'object' && choice !== null ? choice.function?.name : undefined;
  if (typeof named === 'string') return specs.filter((s) => s.name === named);
  return specs;
}

/** Arguments for a tool, from its declared properties, as Python's json.dumps writes them (`{"city": "Paris"}`). */
function toolArguments(spec: ToolSpec, random: () => number, pick: (list: readonly string[]) => string): string {
  const parts: string[] = [];
  for (const [name, schema] of spec.properties) {
    let value: unknown;
    if (Array.isArray(schema.enum) && schema.enum.length > 0) value = pick(schema.enum.map(String));
    else if (schema.type === 'integer' || schema.type === 'number') value = Math.floor(random() * 100);
    else if (schema.type === 'boolean') value = random() < 0.5;
    else if (schema.type === 'array') value = [];
    else if (schema.type === 'object') value = {};
    else if (PLACE.test(name)) value = pick(CITIES);
    else value = pick([answerTokens((random() * 2 ** 32) >>> 0, 1 + Math.floor(random() * 3)).join('')]);
    parts.push(`${JSON.stringify(name)}: ${JSON.stringify(value)}`);
  }
  return `{${parts.join(', ')}}`;
}

/**
 * What the simulated model answers, as streamed pieces: reasoning (when on) then either tool calls
 * (a chat request offering `tools`, unless tool_choice is "none") or the answer text. All of it a pure
 * function of the prompt, except a diverging prompt (seed + prompt), whose answer, reasoning and tool
 * arguments are perturbed (a string argument becomes another pick from its list: Paris → London).
 * Without tools and reasoning the pieces are exactly the text chunks of answerTokens.
 */
export function planOutput(r: OutputRequest): OutputPlan {
  const per = Math.max(1, Math.floor(r.tokensPerChunk));
  const diverging = diverges(r.seed, r.key, r.divergenceRate);
  const pieces: Piece[] = [];
  let budget = r.length.maxTokens;
  let reasoningTokens = 0;
  if (r.reasoning !== null && r.chat) {
    const rKey = (r.key ^ 0x9e3779b9) >>> 0;
    reasoningTokens = Math.min(Math.floor(naturalLength(rKey) / 2), Math.max(0, budget - 1));
    let words = answerTokens(rKey, reasoningTokens);
    if (diverging) words = perturb(words, r.seed, rKey);
    for (let i = 0; i < words.length; i += per) pieces.push({ reasoning: words.slice(i, i + per).join(''), field: r.reasoning });
    budget -= reasoningTokens;
  }
  const tools = r.chat ? offeredTools(r.body) : [];
  if (tools.length > 0) {
    const random = seededRandom((r.key ^ 0x27d4eb2f) >>> 0);
    const divergent = derivedRandom(r.seed, `tool-divergence:${r.key}`);
    const pick = (list: readonly string[]) => {
      const k = Math.floor(random() * list.length);
      if (!diverging || list.length < 2) return list[k] as string;
      return list[(k + 1 + Math.floor(divergent() * (list.length - 1))) % list.length] as string; // another item of the list
    };
    const calls = r.body.parallel_tool_calls !== false && tools.length >= 2 && random() < PARALLEL_SHARE ? 2 : 1;
    let tokens = 0;
    let finish: 'stop' | 'length' = 'stop';
    for (let c = 0; c < calls && finish === 'stop'; c++) {
      const spec = tools[(r.key + c) % tools.length] as ToolSpec;
      const id = `chatcmpl-tool-${(hash32(`${r.key}:${c}`) >>> 0).toString(16).padStart(8, '0')}`;
      pieces.push({ tool: c, id, name: spec.name });
      tokens++;
      const args = toolArguments(spec, random, pick);
      const step = ARGUMENT_CHARS_PER_TOKEN * per;
      for (let i = 0; i < args.length; i += step) {
        if (tokens + per > budget) {
          finish = 'length';
          break;
        }
        pieces.push({ tool: c, args: args.slice(i, i + step) });
        tokens += Math.min(per, Math.ceil((args.length - i) / ARGUMENT_CHARS_PER_TOKEN));
      }
    }
    return { pieces, completionTokens: reasoningTokens + tokens, finishReason: finish };
  }
  const length = outputLength(r.key, { ...r.length, maxTokens: Math.max(1, budget) });
  let words = answerTokens(r.key, length.tokens);
  if (diverging) words = perturb(words, r.seed, r.key);
  for (let i = 0; i < words.length; i += per) pieces.push(words.slice(i, i + per).join(''));
  return { pieces, completionTokens: reasoningTokens + words.length, finishReason: length.finishReason };
}
