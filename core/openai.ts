// The OpenAI-compatible wire format shared by every engine: building a request body for an arm
// and interpreting streamed chunks and whole responses. Runtime-agnostic (Node and k6).
import type { Usage } from './record.ts';

export type Api = 'chat' | 'completions';

export const API_PATH: Record<Api, string> = {
  chat: '/v1/chat/completions',
  completions: '/v1/completions',
};

export interface ArmRequestOptions {
  /** Replaces the body's model when set (each arm may serve the model under its own name). */
  model: string | null;
  stream: boolean;
}

/**
 * The workload body replayed verbatim, except: the arm's model name when given, `stream`, and
 * `stream_options.include_usage` so the server reports completion tokens (the design's token count).
 */
export function buildRequestBody(body: Readonly<Record<string, unknown>>, options: ArmRequestOptions): Record<string, unknown> {
  const out: Record<string, unknown> = { ...body, stream: options.stream };
  if (options.model !== null) out.model = options.model;
  if (options.stream) {
    const existing = typeof body.stream_options === 'object' && body.stream_options !== null ? body.stream_options : {};
    out.stream_options = { ...existing, include_usage: true };
  } else {
    delete out.stream_options;
  }
  return out;
}

/** What one streamed chunk carried (choice 0 only: with `n` > 1 the other choices' chunks are ignored). */
export interface ChunkContent {
  /** Answer text of this chunk: `delta.content` (chat) or `text` (completions); '' when absent or null. */
  content: string;
  /** Reasoning text: `delta.reasoning_content` or else `delta.reasoning` (one of them, never both: some vLLM versions send both with the same text). */
  reasoning: string;
  /** `delta.tool_calls` when a non-empty array, else null: fragments, joined per index by the recorder. */
  toolCalls: readonly unknown[] | null;
  /** The `model` the chunk names (null when none). */
  model: string | null;
  finishReason: string | null;
  usage: Usage | null;
}

export type Interpreted<T> = { ok: true; value: T } | { ok: false; error: string };

function readUsage(value: unknown): Usage | null {
  if (typeof value !== 'object' || value === null) return null;
  const u = value as Record<string, unknown>;
  const count = (v: unknown) => (typeof v === 'number' && Number.isInteger(v) && v >= 0 ? v : null);
  const details = u.prompt_tokens_details as Record<string, unknown> | null | undefined;
  return {
    prompt_tokens: count(u.prompt_tokens),
    completion_tokens: count(u.completion_tokens),
    cached_prompt_tokens: details && typeof details === 'object' ? count(details.cached_tokens) : null,
  };
}

/** An error object a server put in a 200 stream or body (vLLM sends {"error": {...}} or {"object": "error"}). */
function serverError(p: Record<string, unknown>): string | null {
  if (p.object === 'error') return String(p.message ?? 'server reported an error');
  if (typeof p.error === 'object' && p.error !== null) {
    const e = p.error as Record<string, unknown>;
    return String(e.message ?? JSON.stringify(e));
  }
  if (typeof p.error === 'string') return p.error;
  return null;
}

const str = (v: unknown): string => (typeof v === 'string' ? v : '');

/** Reasoning text of a delta or message: reasoning_content (vLLM before the rename, Dynamo, DeepSeek) or reasoning (vLLM now). */
function reasoningOf(d: Record<string, unknown>): string {
  return typeof d.reasoning_content === 'string' ? d.reasoning_content : str(d.reasoning);
}

const modelOf = (p: Record<string, unknown>): string | null => (typeof p.model === 'string' && p.model !== '' ? p.model : null);

/** choices[k] is choice 0: its `index` is 0 or absent. With n > 1 other choices arrive in their own chunks. */
function firstChoice(choices: unknown[]): unknown {
  for (const c of choices) {
    if (typeof c !== 'object' || c === null) return c;
    const index = (c as Record<string, unknown>).index;
    if (index === undefined || index === null || index === 0) return c;
  }
  return undefined;
}

/** Interprets one parsed SSE `data:` payload of a chat or completions stream. */
export function interpretChunk(api: Api, payload: unknown): Interpreted<ChunkContent> {
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) {
    return { ok: false, error: `chunk is not a JSON object: ${JSON.stringify(payload)?.slice(0, 80)}` };
  }
  const p = payload as Record<string, unknown>;
  const error = serverError(p);
  if (error !== null) return { ok: false, error: `server error in stream: ${error}` };
  if (!Array.isArray(p.choices)) return { ok: false, error: 'chunk has no "choices" array (not an OpenAI-compatible stream?)' };
  const usage = readUsage(p.usage);
  const model = modelOf(p);
  const choice = firstChoice(p.choices) as Record<string, unknown> | undefined;
  if (choice === undefined) return { ok: true, value: { content: '', reasoning: '', toolCalls: null, model, finishReason: null, usage } }; // the trailing usage-only chunk (or another choice's)
  if (typeof choice !== 'object' || choice === null) return { ok: false, error: 'choices[0] is not an object' };
  const finishReason = typeof choice.finish_reason === 'string' ? choice.finish_reason : null;
  if (api === 'completions') {
    if (typeof choice.text !== 'string') return { ok: false, error: 'completions chunk has no "text"' };
    return { ok: true, value: { content: choice.text, reasoning: '', toolCalls: null, model, finishReason, usage } };
  }
  const d = choice.delta;
  if (typeof d !== 'object' || d === null)
    return { ok: true, value: { content: '', reasoning: '', toolCalls: null, model, finishReason, usage } };
  const delta = d as Record<string, unknown>;
  const tools = delta.tool_calls;
  return {
    ok: true,
    value: {
      content: str(delta.content),
      reasoning: reasoningOf(delta),
      toolCalls: Array.isArray(tools) && tools.length > 0 ? tools : null,
      model,
      finishReason,
      usage,
    },
  };
}

export interface WholeResponse {
  content: string;
  reasoning: string;
  /** `message.tool_calls[]`, arguments not yet canonical (the recorder does that, under its byte cap). */
  toolCalls: Array<{ name: string; arguments: string }>;
  model: string | null;
  finishReason: string | null;
  usage: Usage | null;
}

/** Interprets a non-streaming response body (already JSON-parsed): choice 0 (index 0 or absent). */
export function interpretResponse(api: Api, payload: unknown): Interpreted<WholeResponse> {
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) {
    return { ok: false, error: 'response is not a JSON object' };
  }
  const p = payload as Record<string, unknown>;
  const error = serverError(p);
  if (error !== null) return { ok: false, error: `server error: ${error}` };
  const choice = Array.isArray(p.choices) ? (firstChoice(p.choices) as Record<string, unknown> | undefined) : undefined;
  if (typeof choice !== 'object' || choice === null)
    return { ok: false, error: 'response has no choices[0] (not an OpenAI-compatible response?)' };
  const finishReason = typeof choice.finish_reason === 'string' ? choice.finish_reason : null;
  const base = { model: modelOf(p), finishReason, usage: readUsage(p.usage) };
  if (api === 'completions') {
    if (typeof choice.text !== 'string') return { ok: false, error: 'choices[0].text is missing' };
    return { ok: true, value: { content: choice.text, reasoning: '', toolCalls: [], ...base } };
  }
  const m = choice.message;
  if (typeof m !== 'object' || m === null) return { ok: false, error: 'choices[0].message is missing' };
  const message = m as Record<string, unknown>;
  const toolCalls: WholeResponse['toolCalls'] = [];
  if (Array.isArray(message.tool_calls)) {
    for (const call of message.tool_calls) {
      const f = typeof call === 'object' && call !== null ? (call as Record<string, unknown>).function : null;
      const fn = typeof f === 'object' && f !== null ? (f as Record<string, unknown>) : {};
      toolCalls.push({ name: str(fn.name), arguments: str(fn.arguments) });
    }
  }
  return { ok: true, value: { content: str(message.content), reasoning: reasoningOf(message), toolCalls, ...base } };
}

/** The SSE end-of-stream sentinel. */
export const DONE = '[DONE]';
