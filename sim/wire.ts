// vLLM's OpenAI-compatible wire format, as the simulator writes it: SSE chunks of chat and
// completions streams, whole responses and error bodies. Chunks are assembled from precomputed
// prefixes because the simulator writes up to a few hundred thousand of them per second.
import type { Api } from '../core/openai.ts';
import type { Piece } from './text.ts';

export interface ResponseIdentity {
  api: Api;
  /** `chatcmpl-...` or `cmpl-...` */
  id: string;
  /** Unix seconds. */
  created: number;
  model: string;
}

export interface UsageCounts {
  prompt: number;
  completion: number;
  cached: number;
}

/** Writes the SSE events of one stream. */
export class ChunkWriter {
  private readonly head: string;
  private readonly textOpen: string;
  private readonly object: string;
  readonly identity: ResponseIdentity;

  constructor(identity: ResponseIdentity) {
    this.identity = identity;
    this.object = identity.api === 'chat' ? 'chat.completion.chunk' : 'text_completion';
    this.head = `data: {"id":${JSON.stringify(identity.id)},"object":"${this.object}","created":${identity.created},"model":${JSON.stringify(identity.model)},"choices":[`;
    this.textOpen = identity.api === 'chat' ? `${this.head}{"index":0,"delta":{"content":` : `${this.head}{"index":0,"text":`;
  }

  /** Chat only: the first event, role with empty content. */
  role(): string {
    return `${this.head}{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]}\n\n`;
  }

  /** A content event; the last one carries the finish reason. */
  content(text: string, finishReason: string | null): string {
    const finish = finishReason === null ? 'null' : `"${finishReason}"`;
    const close = this.identity.api === 'chat' ? '}' : '';
    const stop = this.identity.api === 'chat' ? '' : ',"stop_reason":null';
    return `${this.textOpen}${JSON.stringify(text)}${close},"logprobs":null,"finish_reason":${finish}${stop}}]}\n\n`;
  }

  /**
   * Any piece (sim/text.ts planOutput): answer text as content(); reasoning as `{"reasoning": …}`,
   * `{"reasoning_content": …}` or both keys; a tool call's first delta with id, type, index and name
   * only, then `{index, function: {arguments}}` fragments (vLLM's hermes tool parser). A `stop` on a
   * tool-call chunk is written `tool_calls`, as vLLM's serving layer rewrites it.
   * Source: vllm-project/vllm vllm/entrypoints/openai/chat_completion/serving.py, tool_parsers/hermes_tool_parser.py.
   */
  piece(p: Piece, finishReason: string | null): string {
    if (typeof p === 'string') return this.content(p, finishReason);
    let delta: string;
    let wireFinish = finishReason;
    if ('reasoning' in p) {
      const text = JSON.stringify(p.reasoning);
      delta = p.field === 'both' ? `{"reasoning":${text},"reasoning_content":${text}}` : `{"${p.field}":${text}}`;
    } else {
      if (finishReason === 'stop') wireFinish = 'tool_calls';
      delta =
        'name' in p
          ? `{"tool_calls":[{"id":${JSON.stringify(p.id)},"type":"function","index":${p.tool},"function":{"name":${JSON.stringify(p.name)}}}]}`
          : `{"tool_calls":[{"index":${p.tool},"function":{"arguments":${JSON.stringify(p.args)}}}]}`;
    }
    const finish = wireFinish === null ? 'null' : `"${wireFinish}","stop_reason":null`;
    return `${this.head}{"index":0,"delta":${delta},"logprobs":null,"finish_reason":${finish}}]}\n\n`;
  }

  /** The trailing usage-only event (`stream_options.include_usage`). */
  usage(u: UsageCounts): string {
    return `${this.head}],"usage":${usageJson(u)}}\n\n`;
  }

  /** An event whose data is not valid JSON (fault injection). */
  malformed(): string {
    return `${this.textOpen}"unterminated, "finish_reason":nul\n\n`;
  }

  static done(): string {
    return 'data: [DONE]\n\n';
  }
}

export function usageJson(u: UsageCounts): string {
  return `{"prompt_tokens":${u.prompt},"total_tokens":${u.prompt + u.completion},"completion_tokens":${u.completion},"prompt_tokens_details":{"cached_tokens":${u.cached}}}`;
}

/**
 * A whole (non-streaming) response body; `pieces` as streamed (answer text, reasoning, tool calls).
 * Chat: `message.reasoning` when there was reasoning, `content: null` and `finish_reason: "tool_calls"`
 * (for a `stop`) when there were tool calls (vLLM chat_completion_full_generator).
 */
export function wholeResponse(identity: ResponseIdentity, pieces: readonly Piece[], finishReason: string, u: UsageCounts): string {
  let text = '';
  let reasoning = '';
  let reasoningField: string | null = null;
  const calls: Array<{ id: string; name: string; args: string }> = [];
  for (const p of pieces) {
    if (typeof p === 'string') text += p;
    else if ('reasoning' in p) {
      reasoning += p.reasoning;
      reasoningField = p.field === 'both' ? 'reasoning' : p.field;
    } else if ('name' in p) calls[p.tool] = { id: p.id, name: p.name, args: '' };
    else if (calls[p.tool]) (calls[p.tool] as { args: string }).args += p.args;
  }
  let choice: string;
  if (identity.api === 'chat') {
    const toolCalls = calls
      .filter((c) => c !== undefined)
      .map(
        (c) =>
          `{"id":${JSON.stringify(c.id)},"type":"function","function":{"name":${JSON.stringify(c.name)},"arguments":${JSON.stringify(c.args)}}}`,
      );
    const content = toolCalls.length > 0 && text === '' ? 'null' : JSON.stringify(text);
    const thinking = reasoningField === null ? '' : `,"${reasoningField}":${JSON.stringify(reasoning)}`;
    const finish = toolCalls.length > 0 && finishReason === 'stop' ? 'tool_calls' : finishReason;
    choice = `{"index":0,"message":{"role":"assistant","content":${content}${thinking},"tool_calls":[${toolCalls.join(',')}]},"logprobs":null,"finish_reason":"${finish}","stop_reason":null}`;
  } else {
    choice = `{"index":0,"text":${JSON.stringify(text)},"logprobs":null,"finish_reason":"${finishReason}","stop_reason":null}`;
  }
  const object = identity.api === 'chat' ? 'chat.completion' : 'text_completion';
  return `{"id":${JSON.stringify(identity.id)},"object":"${object}","created":${identity.created},"model":${JSON.stringify(identity.model)},"choices":[${choice}],"usage":${usageJson(u)},"prompt_logprobs":null}`;
}

export type ErrorType = 'BadRequestError' | 'NotFoundError' | 'InternalServerError' | 'ServiceUnavailableError' | 'RateLimitError';

/** vLLM's error body (the newer `{"error": {...}}` shape). */
export function errorBody(message: string, type: ErrorType, code: number): string {
  return JSON.stringify({ error: { message, type, param: null, code } });
}
