// Real wire shapes of streamed chat completions, as SSE text (see /work/notes/issue13.md part A for
// where each comes from; test/stream-recorder-v2.test.ts names the sources).
const line = (o: unknown) => `data: ${JSON.stringify(o)}\n\n`;
const DONE = 'data: [DONE]\n\n';

const vllm = (
  id: string,
  model: string,
  delta: Record<string, unknown>,
  finish: string | null = null,
  extra: Record<string, unknown> = {},
) =>
  line({
    id,
    object: 'chat.completion.chunk',
    created: 1764979200,
    model,
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finish, ...extra }],
  });

/**
 * vLLM (hermes tool parser, include_usage): role chunk, a name-only first delta, then index + arguments
 * fragments with json.dumps spacing, the finish on the last fragment, a usage chunk, [DONE].
 * vllm-project/vllm vllm/entrypoints/openai/chat_completion/serving.py, tool_parsers/hermes_tool_parser.py.
 */
export const VLLM_TOOL_STREAM = (city: string): string => {
  const id = 'chatcmpl-4f1c2b7e9a';
  const model = 'Qwen/Qwen3-8B';
  return (
    vllm(id, model, { role: 'assistant', content: '' }) +
    vllm(id, model, { tool_calls: [{ id: 'chatcmpl-tool-8d0e3c1a2b4f', type: 'function', index: 0, function: { name: 'get_weather' } }] }) +
    vllm(id, model, { tool_calls: [{ index: 0, function: { arguments: '{"city": "' } }] }) +
    vllm(id, model, { tool_calls: [{ index: 0, function: { arguments: city } }] }) +
    vllm(id, model, { tool_calls: [{ index: 0, function: { arguments: '"}' } }] }, 'tool_calls', { stop_reason: null }) +
    line({
      id,
      object: 'chat.completion.chunk',
      created: 1764979200,
      model,
      choices: [],
      usage: { prompt_tokens: 312, total_tokens: 338, completion_tokens: 26 },
    }) +
    DONE
  );
};

/** OpenAI gpt-4o, two parallel calls (zanetworker/llama-stack tests/integration/responses/recordings/f2e35fd6….json). */
export const OPENAI_PARALLEL_STREAM = ((): string => {
  const base = {
    id: 'chatcmpl-B9x',
    object: 'chat.completion.chunk',
    created: 1764979200,
    model: 'gpt-4o-2024-08-06',
    service_tier: 'default',
    system_fingerprint: 'fp_f64f290af2',
  };
  const c = (delta: Record<string, unknown>, finish: string | null = null) =>
    line({ ...base, choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }], usage: null, obfuscation: 'hNvF' });
  return (
    c({ role: 'assistant', content: null, refusal: null }) +
    c({
      tool_calls: [{ index: 0, id: 'call_VeQ0JBvrjUPMx6FVQliYseD6', type: 'function', function: { name: 'get_weather', arguments: '' } }],
    }) +
    c({ tool_calls: [{ index: 0, function: { arguments: '{"location": "San Francisco, USA"}' } }] }) +
    c({
      tool_calls: [{ index: 1, id: 'call_vEJqxX6A5y5ITfKlklzI3ia9', type: 'function', function: { name: 'get_weather', arguments: '' } }],
    }) +
    c({ tool_calls: [{ index: 1, function: { arguments: '{"location": "Los Angeles, USA"}' } }] }) +
    c({}, 'tool_calls') +
    line({
      ...base,
      choices: [],
      usage: { prompt_tokens: 80, completion_tokens: 45, total_tokens: 125, prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 } },
    }) +
    DONE
  );
})();

/** vLLM now: `delta.reasoning`, then the answer (vllm/entrypoints/generate/base/protocol.py DeltaMessage). */
export const VLLM_REASONING_STREAM =
  vllm('chatcmpl-a1', 'Qwen/Qwen3-8B', { role: 'assistant', content: '' }) +
  vllm('chatcmpl-a1', 'Qwen/Qwen3-8B', { reasoning: 'The user asks' }) +
  vllm('chatcmpl-a1', 'Qwen/Qwen3-8B', { reasoning: ' for the capital.' }) +
  vllm('chatcmpl-a1', 'Qwen/Qwen3-8B', { content: 'Paris' }) +
  vllm('chatcmpl-a1', 'Qwen/Qwen3-8B', { content: '.' }, 'stop', { stop_reason: null }) +
  line({
    id: 'chatcmpl-a1',
    object: 'chat.completion.chunk',
    created: 1764979200,
    model: 'Qwen/Qwen3-8B',
    choices: [],
    usage: { prompt_tokens: 20, total_tokens: 31, completion_tokens: 11 },
  }) +
  DONE;

/** vLLM in the rename's transition: both keys with the same text, reasoning_content null on content chunks. */
export const VLLM_TRANSITION_STREAM =
  vllm('chatcmpl-a2', 'Qwen/Qwen3-8B', { reasoning: 'The user asks', reasoning_content: 'The user asks' }) +
  vllm('chatcmpl-a2', 'Qwen/Qwen3-8B', { content: 'Paris', reasoning_content: null }) +
  DONE;

/** Dynamo / DeepSeek: reasoning_content, usage on every chunk (ai-dynamo/dynamo …/chat_completions/delta.rs). */
export const DYNAMO_REASONING_STREAM =
  line({
    id: 'chatcmpl-a3',
    object: 'chat.completion.chunk',
    created: 1764979200,
    model: 'deepseek-ai/DeepSeek-R1-Distill-Llama-8B',
    choices: [{ index: 0, delta: { role: 'assistant', reasoning_content: 'Okay, so' }, finish_reason: null }],
    usage: { prompt_tokens: 20, completion_tokens: 2, total_tokens: 22 },
  }) +
  line({
    id: 'chatcmpl-a3',
    object: 'chat.completion.chunk',
    created: 1764979200,
    model: 'deepseek-ai/DeepSeek-R1-Distill-Llama-8B',
    choices: [{ index: 0, delta: { content: 'Paris' }, finish_reason: null }],
    usage: { prompt_tokens: 20, completion_tokens: 9, total_tokens: 29 },
  }) +
  DONE;
