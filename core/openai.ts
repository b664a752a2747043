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

/** What one streamed chunk carried. */
export interface ChunkContent {
  /** Content plus reasoning text of this chunk ('' for role-only / empty chunks). */
  text: string;
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

function choiceText(api: Api, choice: Record<string, unknown>, key: 'delta' | 'message'): string | null {
  if (api === 'completions') return typeof choice.text === 'string' ? choice.text : null;
  const part = choice[key];
  if (typeof part !== 'object' || part === null) return null;
  const d = part as Record<string, unknown>;
  // Reasoning models stream thoughts in reasoning_content (vLLM) or reasoning (newer servers); both count as output.
  const reasoning = typeof d.reasoning_content === 'string' ? d.reasoning_content : typeof d.reasoning === 'string' ? d.reasoning : '';
  const content = typeof d.content === 'string' ? d.content : '';
  return reasoning + content;
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
  const choice = p.choices[0] as Record<string, unknown> | undefined;
  if (choice === undefined) return { ok: true, value: { text: '', finishReason: null, usage } }; // the trailing usage-only chunk
  if (typeof choice !== 'object' || choice === null) return { ok: false, error: 'choices[0] is not an object' };
  const text = choiceText(api, choice, 'delta');
  if (text === null && api === 'completions') return { ok: false, error: 'completions chunk has no "text"' };
  const finishReason = typeof choice.finish_reason === 'string' ? choice.finish_reason : null;
  return { ok: true, value: { text: text ?? '', finishReason, usage } };
}

export interface WholeResponse {
  text: string;
  finishReason: string | null;
  usage: Usage | null;
}

/** Interprets a non-streaming response body (already JSON-parsed). */
export function interpretResponse(api: Api, payload: unknown): Interpreted<WholeResponse> {
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) {
    return { ok: false, error: 'response is not a JSON object' };
  }
  const p = payload as Record<string, unknown>;
  const error = serverError(p);
  if (error !== null) return { ok: false, error: `server error: ${error}` };
  const choice = Array.isArray(p.choices) ? (p.choices[0] as Record<string, unknown> | undefined) : undefined;
  if (typeof choice !== 'object' || choice === null)
    return { ok: false, error: 'response has no choices[0] (not an OpenAI-compatible response?)' };
  const text = choiceText(api, choice, 'message');
  if (text === null) return { ok: false, error: api === 'chat' ? 'choices[0].message is missing' : 'choices[0].text is missing' };
  return {
    ok: true,
    value: { text, finishReason: typeof choice.finish_reason === 'string' ? choice.finish_reason : null, usage: readUsage(p.usage) },
  };
}

/** The SSE end-of-stream sentinel. */
export const DONE = '[DONE]';
