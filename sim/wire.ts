// vLLM's OpenAI-compatible wire format, as the simulator writes it: SSE chunks of chat and
// completions streams, whole responses and error bodies. Chunks are assembled from precomputed
// prefixes because the simulator writes up to a few hundred thousand of them per second.
import type { Api } from '../core/openai.ts';

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

/** A whole (non-streaming) response body. */
export function wholeResponse(identity: ResponseIdentity, text: string, finishReason: string, u: UsageCounts): string {
  const choice =
    identity.api === 'chat'
      ? `{"index":0,"message":{"role":"assistant","content":${JSON.stringify(text)},"tool_calls":[]},"logprobs":null,"finish_reason":"${finishReason}","stop_reason":null}`
      : `{"index":0,"text":${JSON.stringify(text)},"logprobs":null,"finish_reason":"${finishReason}","stop_reason":null}`;
  const object = identity.api === 'chat' ? 'chat.completion' : 'text_completion';
  return `{"id":${JSON.stringify(identity.id)},"object":"${object}","created":${identity.created},"model":${JSON.stringify(identity.model)},"choices":[${choice}],"usage":${usageJson(u)},"prompt_logprobs":null}`;
}

export type ErrorType = 'BadRequestError' | 'NotFoundError' | 'InternalServerError' | 'ServiceUnavailableError' | 'RateLimitError';

/** vLLM's error body (the newer `{"error": {...}}` shape). */
export function errorBody(message: string, type: ErrorType, code: number): string {
  return JSON.stringify({ error: { message, type, param: null, code } });
}
