// What the converter knows about vLLM's command-line flags: which take no value (switches), which
// take several, how values are checked, which belong to vLLM's OpenAI HTTP server rather than to
// the engine, and which values are secrets. Everything not named here is an engine argument the
// converter carries through verbatim (vLLM has hundreds; a table of all of them would go stale).
//
// Sources: vLLM `vllm/entrypoints/openai/cli_args.py` (FrontendArgs / BaseFrontendArgs: the HTTP
// server's flags) and `vllm/engine/arg_utils.py` (EngineArgs / AsyncEngineArgs: engine flags).

export type Kind = 'string' | 'int' | 'float' | 'bool' | 'model-len' | 'strings';

export interface FlagSpec {
  kind: Kind;
  /** Short spellings vLLM accepts (`-tp`). */
  short?: string;
  /** A switch that is off unless given: an explicit "false" in a --config file is the default and is left out. */
  offByDefault?: boolean;
  choices?: readonly string[];
  min?: number;
  max?: number;
}

/** Engine flags whose values are checked (a bad value is refused, naming the flag), or whose arity matters. */
export const CHECKED_FLAGS: Record<string, FlagSpec> = {
  model: { kind: 'string' },
  'served-model-name': { kind: 'strings' },
  'trust-remote-code': { kind: 'bool', offByDefault: true },
  dtype: { kind: 'string', choices: ['auto', 'half', 'float16', 'bfloat16', 'float', 'float32'] },
  quantization: { kind: 'string', short: '-q' },
  'tensor-parallel-size': { kind: 'int', short: '-tp', min: 1 },
  'pipeline-parallel-size': { kind: 'int', short: '-pp', min: 1 },
  'data-parallel-size': { kind: 'int', short: '-dp', min: 1 },
  'data-parallel-size-local': { kind: 'int', short: '-dpl', min: 1 },
  'data-parallel-address': { kind: 'string', short: '-dpa' },
  'data-parallel-rpc-port': { kind: 'int', short: '-dpp', min: 1 },
  'compilation-config': { kind: 'string', short: '-O' },
  'gpu-memory-utilization': { kind: 'float', min: Number.MIN_VALUE, max: 1 },
  'max-model-len': { kind: 'model-len', min: 1 },
  'max-num-seqs': { kind: 'int', min: 1 },
  'max-num-batched-tokens': { kind: 'int', min: 1 },
  'block-size': { kind: 'int', min: 1 },
  seed: { kind: 'int', min: 0 },
  'max-loras': { kind: 'int', min: 1 },
  'max-lora-rank': { kind: 'int', min: 1 },
  // switches (take no value), so the next word is not swallowed as one
  'enable-prefix-caching': { kind: 'bool' },
  'enable-chunked-prefill': { kind: 'bool' },
  'enforce-eager': { kind: 'bool', offByDefault: true },
  'enable-expert-parallel': { kind: 'bool', offByDefault: true },
  'enable-eplb': { kind: 'bool', offByDefault: true },
  'async-scheduling': { kind: 'bool' },
  'enable-lora': { kind: 'bool', offByDefault: true },
  'fully-sharded-loras': { kind: 'bool', offByDefault: true },
  'disable-custom-all-reduce': { kind: 'bool', offByDefault: true },
  'disable-log-stats': { kind: 'bool', offByDefault: true },
  'disable-sliding-window': { kind: 'bool', offByDefault: true },
  'disable-cascade-attn': { kind: 'bool', offByDefault: true },
  'enable-sleep-mode': { kind: 'bool', offByDefault: true },
  'skip-tokenizer-init': { kind: 'bool', offByDefault: true },
  'enable-prompt-embeds': { kind: 'bool', offByDefault: true },
  'calculate-kv-scales': { kind: 'bool', offByDefault: true },
  'enable-dbo': { kind: 'bool', offByDefault: true },
  'enable-log-requests': { kind: 'bool', offByDefault: true },
  'disable-log-requests': { kind: 'bool', offByDefault: true },
};

/**
 * vLLM's OpenAI HTTP-server flags (FrontendArgs in vllm/entrypoints/openai/cli_args.py, plus the
 * `vllm serve` process flags). They are not engine arguments: `python3 -m dynamo.vllm` parses the
 * engine arguments only and exits on these ("unrecognized arguments"), and the Dynamo Frontend serves HTTP.
 * The reason is the one shown for Dynamo; llm-d keeps vLLM's own server, so it carries most of them.
 */
export const SERVER_FLAGS: Record<string, { kind: Kind; reason: string }> = {
  host: { kind: 'string', reason: 'HTTP server flag: the Dynamo Frontend serves HTTP (port 8000)' },
  port: {
    kind: 'int',
    reason: 'HTTP server flag: the Dynamo Frontend listens on 8000; map another port in its Service if clients need it',
  },
  uds: { kind: 'string', reason: 'HTTP server flag: the Dynamo Frontend serves HTTP' },
  'api-key': {
    kind: 'strings',
    reason: 'secret, and an HTTP server flag: the Dynamo Frontend has no API-key check; authenticate in the gateway in front of it',
  },
  'uvicorn-log-level': { kind: 'string', reason: 'HTTP server flag: the Dynamo Frontend serves HTTP' },
  'disable-uvicorn-access-log': { kind: 'bool', reason: 'HTTP server flag: the Dynamo Frontend serves HTTP' },
  'disable-access-log-for-endpoints': { kind: 'string', reason: 'HTTP server flag: the Dynamo Frontend serves HTTP' },
  'allow-credentials': { kind: 'bool', reason: 'HTTP server flag (CORS): configure it on the gateway in front of the Frontend' },
  'allowed-origins': { kind: 'string', reason: 'HTTP server flag (CORS): configure it on the gateway in front of the Frontend' },
  'allowed-methods': { kind: 'string', reason: 'HTTP server flag (CORS): configure it on the gateway in front of the Frontend' },
  'allowed-headers': { kind: 'string', reason: 'HTTP server flag (CORS): configure it on the gateway in front of the Frontend' },
  'ssl-keyfile': { kind: 'string', reason: 'TLS belongs to the gateway / ingress in front of the Frontend' },
  'ssl-certfile': { kind: 'string', reason: 'TLS belongs to the gateway / ingress in front of the Frontend' },
  'ssl-ca-certs': { kind: 'string', reason: 'TLS belongs to the gateway / ingress in front of the Frontend' },
  'ssl-cert-reqs': { kind: 'int', reason: 'TLS belongs to the gateway / ingress in front of the Frontend' },
  'ssl-ciphers': { kind: 'string', reason: 'TLS belongs to the gateway / ingress in front of the Frontend' },
  'enable-ssl-refresh': { kind: 'bool', reason: 'TLS belongs to the gateway / ingress in front of the Frontend' },
  'root-path': { kind: 'string', reason: 'HTTP server flag: the Dynamo Frontend serves HTTP' },
  middleware: { kind: 'string', reason: 'HTTP server flag (ASGI middleware): the Dynamo Frontend is not a Python ASGI app' },
  'enable-request-id-headers': { kind: 'bool', reason: 'HTTP server flag: the Dynamo Frontend serves HTTP' },
  'disable-fastapi-docs': { kind: 'bool', reason: 'HTTP server flag: the Dynamo Frontend serves HTTP' },
  'enable-offline-docs': { kind: 'bool', reason: 'HTTP server flag: the Dynamo Frontend serves HTTP' },
  'h11-max-incomplete-event-size': { kind: 'int', reason: 'HTTP server flag: the Dynamo Frontend serves HTTP' },
  'h11-max-header-count': { kind: 'int', reason: 'HTTP server flag: the Dynamo Frontend serves HTTP' },
  'lora-modules': {
    kind: 'strings',
    reason:
      'HTTP server flag: Dynamo loads LoRA adapters at run time (examples/backends/vllm/deploy/lora/agg_lora.yaml); register each adapter after deploy. --enable-lora and the other LoRA engine flags are kept',
  },
  'chat-template': {
    kind: 'string',
    reason:
      "HTTP server flag: Dynamo applies the model's own chat template; to keep a custom one, put the file in the image or on the model cache volume and add --custom-jinja-template PATH to the worker. Until then replies can differ from the baseline's",
  },
  'chat-template-content-format': { kind: 'string', reason: 'HTTP server flag: the Dynamo Frontend renders chat templates itself' },
  'trust-request-chat-template': { kind: 'bool', reason: 'HTTP server flag: the Dynamo Frontend renders chat templates itself' },
  'default-chat-template-kwargs': {
    kind: 'string',
    reason:
      'HTTP server flag: send chat_template_kwargs in the requests, or set --dyn-default-thinking-mode on the worker for thinking on/off',
  },
  'response-role': { kind: 'string', reason: 'HTTP server flag with no Dynamo equivalent' },
  'return-tokens-as-token-ids': { kind: 'bool', reason: 'HTTP server flag with no Dynamo equivalent' },
  'enable-auto-tool-choice': {
    kind: 'bool',
    reason: 'Dynamo enables tool calling when the worker has --dyn-tool-call-parser',
  },
  'exclude-tools-when-tool-choice-none': { kind: 'bool', reason: 'HTTP server flag: tool handling is done by the Dynamo Frontend' },
  'tool-call-parser': { kind: 'string', reason: 'translated to the worker flag --dyn-tool-call-parser' },
  'tool-parser-plugin': { kind: 'string', reason: 'vLLM Python plugin: Dynamo parses tool calls in its Rust frontend and cannot load it' },
  'tool-server': { kind: 'string', reason: 'HTTP server flag with no Dynamo equivalent' },
  'log-config-file': { kind: 'string', reason: 'HTTP server logging: Dynamo logging is set with DYN_LOG' },
  'max-log-len': { kind: 'int', reason: 'HTTP server logging: Dynamo logging is set with DYN_LOG' },
  'enable-log-outputs': { kind: 'bool', reason: 'HTTP server logging: Dynamo logging is set with DYN_LOG' },
  'log-error-stack': { kind: 'bool', reason: 'HTTP server logging: Dynamo logging is set with DYN_LOG' },
  'enable-prompt-tokens-details': { kind: 'bool', reason: 'HTTP server flag: usage details come from the Dynamo Frontend' },
  'enable-per-request-metrics': { kind: 'bool', reason: 'HTTP server flag: the Dynamo Frontend serves HTTP' },
  'enable-server-load-tracking': { kind: 'bool', reason: 'HTTP server flag: the Dynamo Frontend serves HTTP' },
  'enable-force-include-usage': { kind: 'bool', reason: 'HTTP server flag: usage reporting comes from the Dynamo Frontend' },
  'enable-tokenizer-info-endpoint': { kind: 'bool', reason: 'HTTP server flag: the Dynamo Frontend serves HTTP' },
  'fingerprint-mode': { kind: 'string', reason: 'HTTP server flag: the Dynamo Frontend serves HTTP' },
  'fingerprint-value': { kind: 'string', reason: 'HTTP server flag: the Dynamo Frontend serves HTTP' },
  'disable-frontend-multiprocessing': { kind: 'bool', reason: 'vLLM API-server process flag: the Dynamo Frontend is a separate component' },
  'api-server-count': { kind: 'int', reason: 'vLLM API-server process flag: scale the Dynamo Frontend with its replicas instead' },
  headless: { kind: 'bool', reason: 'vLLM API-server process flag: multi-node workers are set up by the operator (multinode.nodeCount)' },
};

/** Reasons for engine flags a Dynamo worker is given another way. */
export const DYNAMO_SERVES: Record<string, string> = {
  'disable-log-requests': 'Dynamo sets request logging itself (enable_log_requests=False in dynamo.vllm)',
  'enable-log-requests': 'Dynamo sets request logging itself (enable_log_requests=False in dynamo.vllm)',
  'download-dir':
    'a path on the old host: use --model-cache-pvc NAME (a PersistentVolumeClaim mounted at /model-store with HF_HOME set) instead',
  'hf-token': 'secret on the command line: the worker reads HF_TOKEN from the Secret hf-token-secret',
};

/** A flag whose value is a secret: `--api-key`, `--hf-token`, `*-password`, `*-secret`, `*-credentials`. Not tokenizer or *-tokens flags. */
export function isSecretFlag(name: string): boolean {
  if (name === 'api-key' || name === 'hf-token') return true;
  if (/(^|-)(password|passwd|secret|credentials?|private-key)$/.test(name)) return true;
  return /(^|-)token$/.test(name) && !name.startsWith('tokenizer');
}

/** An environment variable holding a secret: HF_TOKEN, HUGGING_FACE_HUB_TOKEN, OPENAI_API_KEY, AWS_SECRET_ACCESS_KEY, … (not VLLM_*_TOKENS). */
export function isSecretEnv(name: string): boolean {
  return /(^|_)(TOKEN|API_KEY|SECRET|PASSWORD|PASSWD|CREDENTIALS?|PRIVATE_KEY|ACCESS_KEY)($|_)/i.test(name);
}

/**
 * vLLM tool-call parser names → Dynamo's (`--dyn-tool-call-parser`; Dynamo's names are in
 * ai-dynamo/dynamo lib/parsers/src/tool_calling/parsers.rs PARSER_MAP; only names present in
 * Dynamo 0.6 and 1.x are listed). vLLM's `openai` parser (gpt-oss) is Dynamo's `harmony`.
 */
export const TOOL_PARSERS: Record<string, string> = {
  hermes: 'hermes',
  llama3_json: 'llama3_json',
  mistral: 'mistral',
  phi4_mini_json: 'phi4',
  pythonic: 'pythonic',
  openai: 'harmony',
  deepseek_v3: 'deepseek_v3',
  deepseek_v31: 'deepseek_v3_1',
  qwen3_coder: 'qwen3_coder',
  nemotron_deci: 'nemotron_deci',
};

/**
 * vLLM reasoning parser names (vllm/reasoning/__init__.py) → Dynamo's (`--dyn-reasoning-parser`;
 * ai-dynamo/dynamo lib/parsers/src/reasoning/mod.rs REASONING_PARSER_MAP). vLLM's gpt-oss parser is
 * `openai_gptoss`, Dynamo's `gpt_oss`.
 */
export const REASONING_PARSERS: Record<string, string> = {
  deepseek_r1: 'deepseek_r1',
  qwen3: 'qwen3',
  openai_gptoss: 'gpt_oss',
  granite: 'granite',
  step3: 'step3',
  mistral: 'mistral',
};
