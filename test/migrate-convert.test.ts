// convert: vLLM serving command → Dynamo 1.x / 0.6 DynamoGraphDeployment or llm-d values.
// Real shapes these assertions rely on, by source:
// - dynamo.vllm worker flags (--disaggregation-mode, --kv-transfer-config required on prefill,
//   one served name, --dyn-tool-call-parser / --dyn-reasoning-parser): ai-dynamo/dynamo
//   components/src/dynamo/vllm/{args,backend_args}.py; 0.6: --is-prefill-worker, --connector nixl
//   by default and refused next to --kv-transfer-config (same file at 0.6).
// - v1beta1 shape, workingDir, NIXL JSON, ephemeral-storage 2Gi: ../shared/specs/dynamo-1.4-vllm-*.yaml.
// - KV routing: ai-dynamo/dynamo examples/backends/vllm/deploy/v1beta1/agg_router.yaml.
// - model cache at /model-store with HF_HOME: ai-dynamo/dynamo recipes/*/model-cache.
// - vLLM HTTP-server flags vs engine flags: vllm-project/vllm vllm/entrypoints/openai/cli_args.py.
// - llm-d chart flags written from values: llm-d-incubation/llm-d-modelservice templates/_helpers.tpl.
import test from 'ava';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { parse as parseYaml } from 'yaml';
import { convert, deploymentName, type ConvertOptions, type Strategy } from '../migrate/convert.ts';
import { ConvertError, parseVllmCommand } from '../migrate/vllm-command.ts';
import { isSecretEnv, isSecretFlag } from '../migrate/vllm-flags.ts';
import { estimateModelSize } from '../migrate/model-size.ts';
import { checkName, nameFromModel } from '../migrate/k8s-names.ts';
import { splitShellWords } from '../migrate/shell-words.ts';
import { readVllmConfig, splitArgv } from '../cli/convert.ts';

const FIXTURES = 'test/fixtures/vllm-commands';
const GOLDEN = 'test/golden/convert';
const UPDATE = process.env.UPDATE_GOLDEN === '1';

// Golden YAML in test/golden/convert/: every fixture for Dynamo 1.x colocated; the multi-GPU ones
// disaggregated too; a few for Dynamo 0.6 and for llm-d. <fixture>.<strategy>[.<flavour>].yaml
type Flavour = 'dynamo-0.6' | 'llm-d' | null;
interface Case {
  fixture: string;
  strategy: Strategy;
  flavour: Flavour;
}
const colocated = (fixture: string, flavour: Flavour = null): Case => ({ fixture, strategy: 'colocated', flavour });
const disaggregated = (fixture: string, flavour: Flavour = null): Case => ({ fixture, strategy: 'disaggregated', flavour });
const CASES: Case[] = [
  ...readdirSync(FIXTURES)
    .sort()
    .map((fixture) => colocated(fixture)),
  ...['llama-3.1-70b-tp4-fp8.sh', 'deepseek-v3-pp2.sh', 'qwen3-32b-dp2-parsers.sh'].map((fixture) => disaggregated(fixture)),
  colocated('llama-3.1-70b-tp4-fp8.sh', 'dynamo-0.6'),
  disaggregated('llama-3.1-70b-tp4-fp8.sh', 'dynamo-0.6'),
  disaggregated('deepseek-v3-pp2.sh', 'dynamo-0.6'),
  colocated('llama-3.1-70b-tp4-fp8.sh', 'llm-d'),
  disaggregated('qwen3-32b-dp2-parsers.sh', 'llm-d'),
  colocated('qwen3-235b-a22b-ep.sh', 'llm-d'),
];

const optionsFor = (flavour: Flavour): Partial<ConvertOptions> =>
  flavour === 'dynamo-0.6' ? { dynamoVersion: '0.6' } : flavour === 'llm-d' ? { target: 'llm-d' } : {};

for (const { fixture, strategy, flavour } of CASES) {
  test(`golden: ${fixture} (${strategy}${flavour ? ', ' + flavour : ''})`, (t) => {
    const { yaml } = convert(readVllmConfig([join(FIXTURES, fixture)]), { strategy, ...optionsFor(flavour) });
    const golden = join(GOLDEN, `${fixture.replace(/\.[^.]+$/, '')}.${strategy}${flavour ? '.' + flavour : ''}.yaml`);
    if (UPDATE) writeFileSync(golden, yaml);
    t.is(yaml, readFileSync(golden, 'utf8'));
  });
}

type Container = {
  name: string;
  args: string[];
  env?: Array<{ name: string; value: string }>;
  volumeMounts?: Array<{ name: string; mountPath: string }>;
  resources: { limits: Record<string, string>; requests?: Record<string, string> };
};
type Component = {
  name: string;
  type: string;
  replicas: number;
  multinode?: { nodeCount: number };
  podTemplate: { spec: { containers: Container[]; volumes?: unknown[] } };
};
const dgd = (fixtureOrCommand: string, options: Partial<ConvertOptions> = {}) => {
  const config = readVllmConfig(fixtureOrCommand.includes(' ') ? [fixtureOrCommand] : [join(FIXTURES, fixtureOrCommand)]);
  const conversion = convert(config, { strategy: 'colocated', ...options });
  const doc = parseYaml(conversion.yaml) as { spec: { components: Component[] } };
  const byName = (name: string) => doc.spec.components.find((c) => c.name === name) as Component;
  const main = (name: string) => byName(name).podTemplate.spec.containers[0] as Container;
  return { conversion, doc, byName, main };
};

test('70B TP4 FP8: GPUs = tp × pp, every engine flag carried in order, only the first served name, batched tokens shown', (t) => {
  const { main, conversion } = dgd('llama-3.1-70b-tp4-fp8.sh');
  t.is(main('VllmDecodeWorker').resources.limits['nvidia.com/gpu'], '4');
  t.deepEqual(main('VllmDecodeWorker').args, [
    '--model',
    'meta-llama/Llama-3.1-70B-Instruct',
    '--tensor-parallel-size',
    '4',
    '--quantization',
    'fp8',
    '--kv-cache-dtype',
    'fp8',
    '--max-model-len',
    '16384',
    '--max-num-seqs',
    '256',
    '--max-num-batched-tokens',
    '16384',
    '--enable-chunked-prefill',
    '--enable-prefix-caching',
    '--served-model-name',
    'llama-70b',
  ]);
  t.is(conversion.servedModelName, 'llama-70b');
  t.true(
    conversion.warnings.some((w) => w.startsWith('changed: --served-model-name llama-70b llama-3.1-70b -> --served-model-name llama-70b')),
  );
  t.regex(conversion.yaml, /# Source: .*--max-num-batched-tokens 16384 /);
});

test('disaggregated on Dynamo 1.x: --disaggregation-mode and the NIXL kv-transfer config, no --is-prefill-worker; 0.6 keeps --is-prefill-worker', (t) => {
  const v14 = dgd('llama-3.1-70b-tp4-fp8.sh', { strategy: 'disaggregated' });
  const decode = v14.main('VllmDecodeWorker').args;
  const prefill = v14.main('VllmPrefillWorker').args;
  t.is(v14.byName('VllmDecodeWorker').type, 'decode');
  t.is(v14.byName('VllmPrefillWorker').type, 'prefill');
  t.deepEqual(decode.slice(-4), [
    '--disaggregation-mode',
    'decode',
    '--kv-transfer-config',
    '{"kv_connector":"NixlConnector","kv_role":"kv_both"}',
  ]);
  t.deepEqual(prefill.slice(-4), [
    '--disaggregation-mode',
    'prefill',
    '--kv-transfer-config',
    '{"kv_connector":"NixlConnector","kv_role":"kv_both"}',
  ]);
  t.false([...decode, ...prefill].includes('--is-prefill-worker'));
  // one replica each: nothing to route between, so no KV router (as in Dynamo's disagg example)
  t.is(v14.main('Frontend').env, undefined);

  const v06 = convert(readVllmConfig([join(FIXTURES, 'llama-3.1-70b-tp4-fp8.sh')]), { strategy: 'disaggregated', dynamoVersion: '0.6' });
  const services = parseYaml(v06.yaml) as {
    apiVersion: string;
    spec: { services: Record<string, { extraPodSpec: { mainContainer: { args: string[]; workingDir: string; image: string } } }> };
  };
  t.is(services.apiVersion, 'nvidia.com/v1alpha1');
  const prefill06 = services.spec.services.VllmPrefillWorker?.extraPodSpec.mainContainer;
  t.is(prefill06?.args.at(-1), '--is-prefill-worker');
  t.false(prefill06?.args.includes('--disaggregation-mode'));
  t.is(prefill06?.workingDir, '/workspace/components/backends/vllm');
  t.is(prefill06?.image, 'nvcr.io/nvidia/ai-dynamo/vllm-runtime:0.6.1');
});

test('a user --kv-transfer-config is kept, not doubled; on 0.6 it comes with --connector none', (t) => {
  const cmd = `vllm serve Qwen/Qwen3-8B --kv-transfer-config '{"kv_connector":"LMCacheConnectorV1","kv_role":"kv_both"}'`;
  const { main } = dgd(cmd, { strategy: 'disaggregated' });
  const args = main('VllmPrefillWorker').args;
  t.is(args.filter((a) => a === '--kv-transfer-config').length, 1);
  t.true(args.includes('{"kv_connector":"LMCacheConnectorV1","kv_role":"kv_both"}'));
  const v06 = parseYaml(convert(readVllmConfig([cmd]), { strategy: 'disaggregated', dynamoVersion: '0.6' }).yaml) as {
    spec: { services: { VllmPrefillWorker: { extraPodSpec: { mainContainer: { args: string[] } } } } };
  };
  const args06 = v06.spec.services.VllmPrefillWorker.extraPodSpec.mainContainer.args;
  t.deepEqual(args06.slice(-3), ['--connector', 'none', '--is-prefill-worker']);
});

test('DeepSeek TP8 × PP2 spans two nodes; env carried except the secret; speculative config carried', (t) => {
  const { main, byName, conversion } = dgd('deepseek-v3-pp2.sh', { strategy: 'disaggregated' });
  t.is(conversion.gpusPerWorker, 16);
  t.deepEqual(byName('VllmDecodeWorker').multinode, { nodeCount: 2 });
  t.is(main('VllmDecodeWorker').resources.limits['nvidia.com/gpu'], '8');
  t.deepEqual(main('VllmDecodeWorker').env, [
    { name: 'VLLM_USE_V1', value: '1' },
    { name: 'NCCL_DEBUG', value: 'WARN' },
  ]);
  t.false(conversion.yaml.includes('hf_abcdefSECRET'));
  t.false(conversion.warnings.join('\n').includes('hf_abcdefSECRET'));
  t.true(conversion.warnings.some((w) => w.startsWith('dropped: HF_TOKEN=<redacted>')));
  const args = main('VllmPrefillWorker').args;
  t.is(args[args.indexOf('--speculative-config') + 1], '{"method": "deepseek_mtp", "num_speculative_tokens": 1}');
  // no parameter count in "DeepSeek-V3": the size cannot be estimated, so the cache warning says so
  t.true(conversion.warnings.some((w) => w.includes('cannot be estimated from its name')));
});

test('python -m form with environment: = forms, 32k = 32000, API key and HF_TOKEN redacted everywhere, tool parser translated', (t) => {
  const { main, conversion } = dgd('qwen-trust-remote-code.sh');
  t.deepEqual(main('VllmDecodeWorker').args, [
    '--model',
    'Qwen/Qwen2.5-7B-Instruct',
    '--trust-remote-code',
    '--max-model-len',
    '32000',
    '--dtype',
    'bfloat16',
    '--dyn-tool-call-parser',
    'hermes',
  ]);
  t.deepEqual(main('VllmDecodeWorker').env, [
    { name: 'VLLM_ATTENTION_BACKEND', value: 'FLASHINFER' },
    { name: 'VLLM_LOGGING_LEVEL', value: 'INFO' },
  ]);
  for (const secret of ['sk-live', 'hf_liveSECRET']) {
    t.false(conversion.yaml.includes(secret));
    t.false(conversion.warnings.join('\n').includes(secret));
  }
  t.regex(conversion.yaml, /# Source: VLLM_ATTENTION_BACKEND=FLASHINFER HF_TOKEN=<redacted> VLLM_LOGGING_LEVEL=INFO python3 -m /);
  t.deepEqual(
    conversion.warnings.filter((w) => /^(changed|dropped)/.test(w)).map((w) => w.split(' (')[0]),
    [
      'changed: --tool-call-parser hermes -> --dyn-tool-call-parser hermes',
      'dropped: HF_TOKEN=<redacted>',
      'dropped: --api-key <redacted>',
      'dropped: --enable-auto-tool-choice',
      'dropped: --chat-template ./templates/qwen.jinja',
    ],
  );
});

test('redaction: only real secrets; --max-num-batched-tokens and --tokenizer* are shown', (t) => {
  const { conversion, main } = dgd('qwen2.5-72b-awq-tp2.sh');
  const source = conversion.yaml.split('\n').find((l) => l.startsWith('# Source:')) ?? '';
  t.regex(source, /--max-num-batched-tokens 8192 /);
  t.regex(source, /--tokenizer Qwen\/Qwen2\.5-72B-Instruct-AWQ --tokenizer-mode auto /);
  t.regex(source, /--api-key <redacted>$/);
  t.false(conversion.yaml.includes('sk-prod'));
  t.true(main('VllmDecodeWorker').args.includes('--max-num-batched-tokens'));
  t.true(main('VllmDecodeWorker').args.includes('--tokenizer-mode'));
  t.deepEqual(
    [
      'api-key',
      'hf-token',
      'db-password',
      'max-num-batched-tokens',
      'tokenizer',
      'tokenizer-mode',
      'ssl-keyfile',
      'num-speculative-tokens',
    ].map(isSecretFlag),
    [true, true, true, false, false, false, false, false],
  );
  t.deepEqual(
    [
      'HF_TOKEN',
      'HUGGING_FACE_HUB_TOKEN',
      'OPENAI_API_KEY',
      'AWS_SECRET_ACCESS_KEY',
      'VLLM_MAX_TOKENS',
      'TOKENIZERS_PARALLELISM',
      'NCCL_DEBUG',
    ].map(isSecretEnv),
    [true, true, true, true, false, false, false],
  );
});

test('dense data parallel: replicas behind a KV router (events on the workers); prefix caching off: no router', (t) => {
  const { byName, main, conversion } = dgd('qwen3-32b-dp2-parsers.sh');
  t.is(byName('VllmDecodeWorker').replicas, 2);
  t.is(main('VllmDecodeWorker').resources.limits['nvidia.com/gpu'], '2');
  t.false(main('VllmDecodeWorker').args.includes('--data-parallel-size'));
  t.true(conversion.warnings.some((w) => w.startsWith('dropped: --data-parallel-size 2 (dense data parallel')));
  t.deepEqual(main('Frontend').env, [{ name: 'DYN_ROUTER_MODE', value: 'kv' }]);
  t.true(main('VllmDecodeWorker').args.includes('--kv-events-config'));

  const docker = dgd('mistral-completions-docker.sh');
  t.is(docker.byName('VllmDecodeWorker').replicas, 2);
  t.true(docker.main('VllmDecodeWorker').args.includes('--no-enable-prefix-caching'));
  t.true(docker.main('VllmDecodeWorker').args.includes('--swap-space'));
  t.is(docker.main('Frontend').env, undefined);
  t.false(docker.main('VllmDecodeWorker').args.includes('--kv-events-config'));
  t.true(
    docker.conversion.warnings.some((w) =>
      w.startsWith('dropped: docker run --runtime nvidia --gpus all -p 8000:8000 --ipc=host -e HF_TOKEN=<redacted>'),
    ),
  );
});

test('MoE with expert parallel: one worker of tp × dp GPUs, --data-parallel-size and --enable-expert-parallel kept', (t) => {
  const { doc, byName, main, conversion } = dgd('qwen3-235b-a22b-ep.sh');
  t.is(doc.spec.components.length, 2);
  t.is(byName('VllmDecodeWorker').replicas, 1);
  t.is(conversion.gpusPerWorker, 8);
  t.is(main('VllmDecodeWorker').resources.limits['nvidia.com/gpu'], '8');
  const args = main('VllmDecodeWorker').args;
  t.is(args[args.indexOf('--data-parallel-size') + 1], '2');
  for (const flag of ['--enable-expert-parallel', '--enable-eplb', '--async-scheduling', '--compilation-config', '--generation-config'])
    t.true(args.includes(flag), flag);
  t.deepEqual(args.slice(-2), ['--dyn-reasoning-parser', 'deepseek_r1']);
  t.is(main('Frontend').env, undefined);
});

test('LoRA: engine flags kept, --lora-modules dropped with the runtime-loading reason', (t) => {
  const { main, conversion } = dgd('llama-3.1-8b-lora.sh');
  const args = main('VllmDecodeWorker').args;
  for (const flag of ['--enable-lora', '--max-loras', '--max-lora-rank', '--max-cpu-loras']) t.true(args.includes(flag), flag);
  t.false(args.includes('--lora-modules'));
  t.true(
    conversion.warnings.some((w) =>
      w.startsWith(
        'dropped: --lora-modules sql-lora=/adapters/sql customer-support=/adapters/support (HTTP server flag: Dynamo loads LoRA adapters at run time',
      ),
    ),
  );
});

test('speculative decoding: config carried; unknown tool parser names dropped, not guessed; download dir → cache PVC', (t) => {
  const { main, conversion } = dgd('llama-3.3-70b-speculative.sh');
  const args = main('VllmDecodeWorker').args;
  t.is(
    args[args.indexOf('--speculative-config') + 1],
    '{"model": "meta-llama/Llama-3.2-1B-Instruct", "num_speculative_tokens": 5, "draft_tensor_parallel_size": 1}',
  );
  t.deepEqual(args.slice(-2), ['--dyn-tool-call-parser', 'llama3_json']);
  t.true(
    conversion.warnings.some((w) => w.startsWith('dropped: --download-dir /mnt/nvme/hf (a path on the old host: use --model-cache-pvc')),
  );
  const unknown = dgd('vllm serve org/m-8B --reasoning-parser my_parser --tool-call-parser granite-20b-fc');
  t.true(
    unknown.conversion.warnings.some((w) =>
      w.startsWith('dropped: --reasoning-parser my_parser (Dynamo has no parser named my_parser; choose one of deepseek_r1'),
    ),
  );
  t.true(unknown.conversion.warnings.some((w) => w.startsWith('dropped: --tool-call-parser granite-20b-fc (Dynamo has no parser named')));
  t.false(unknown.main('VllmDecodeWorker').args.some((a) => a.startsWith('--dyn-')));
});

test('model cache PVC: mounted at /model-store with HF_HOME in the workers (1.x PodSpec, 0.6 pvcs); warning only without it', (t) => {
  const { main, byName, conversion } = dgd('llama-3.1-70b-tp4-fp8.sh', { modelCachePvc: 'model-cache' });
  t.deepEqual(byName('VllmDecodeWorker').podTemplate.spec.volumes, [
    { name: 'model-cache', persistentVolumeClaim: { claimName: 'model-cache' } },
  ]);
  t.deepEqual(main('VllmDecodeWorker').volumeMounts, [{ name: 'model-cache', mountPath: '/model-store' }]);
  t.deepEqual(main('VllmDecodeWorker').env, [{ name: 'HF_HOME', value: '/model-store' }]);
  t.is(main('VllmDecodeWorker').resources.requests?.['ephemeral-storage'], '2Gi');
  t.false(conversion.warnings.some((w) => w.includes('no model cache')));

  const without = dgd('llama-3.1-70b-tp4-fp8.sh');
  t.true(
    without.conversion.warnings.some((w) =>
      w.startsWith('no model cache volume: every pod downloads about 70 GB (estimated from the name: 70B parameters × 1 bytes)'),
    ),
  );
  t.is(without.main('VllmDecodeWorker').resources.requests?.['ephemeral-storage'], '84Gi');
  t.false(dgd('vllm serve Qwen/Qwen3-0.6B').conversion.warnings.some((w) => w.includes('no model cache')));

  const v06 = parseYaml(
    convert(readVllmConfig([join(FIXTURES, 'llama-3.1-8b-tp1.sh')]), {
      strategy: 'colocated',
      dynamoVersion: '0.6',
      modelCachePvc: 'hf-cache',
    }).yaml,
  ) as {
    spec: { pvcs: unknown; services: { VllmDecodeWorker: { volumeMounts: unknown; envs: unknown } } };
  };
  t.deepEqual(v06.spec.pvcs, [{ name: 'hf-cache', create: false }]);
  t.deepEqual(v06.spec.services.VllmDecodeWorker.volumeMounts, [{ name: 'hf-cache', mountPoint: '/model-store' }]);
  t.deepEqual(v06.spec.services.VllmDecodeWorker.envs, [{ name: 'HF_HOME', value: '/model-store' }]);
});

test('model size estimate from the name', (t) => {
  t.deepEqual(estimateModelSize('meta-llama/Llama-3.1-70B-Instruct'), { billions: 70, bytesPerParameter: 2, gigabytes: 140 });
  t.is(estimateModelSize('Qwen/Qwen2.5-72B-Instruct-AWQ')?.gigabytes, 36);
  t.is(estimateModelSize('mistralai/Mixtral-8x22B-Instruct-v0.1')?.billions, 176);
  t.is(estimateModelSize('Qwen/Qwen3-30B-A3B')?.billions, 30);
  t.is(estimateModelSize('Qwen/Qwen3-0.6B')?.gigabytes, 1.2);
  t.is(estimateModelSize('meta-llama/Llama-3.1-8B-Instruct', 'fp8')?.gigabytes, 8);
  t.is(estimateModelSize('facebook/opt-125m')?.billions, 0.125);
  t.is(estimateModelSize('deepseek-ai/DeepSeek-V3'), null);
});

test('llm-d values: parallelism, served name and model move into the chart values; P/D gets NIXL and the routing proxy', (t) => {
  const conversion = convert(readVllmConfig([join(FIXTURES, 'qwen3-32b-dp2-parsers.sh')]), { strategy: 'disaggregated', target: 'llm-d' });
  type Pool = {
    create: boolean;
    replicas: number;
    parallelism: Record<string, number>;
    containers: Array<{ args: string[]; env: Array<{ name: string }>; ports: unknown[] }>;
  };
  const values = parseYaml(conversion.yaml) as {
    modelArtifacts: { name: string; uri: string };
    routing: { proxy: { enabled: boolean } };
    decode: Pool;
    prefill: Pool;
  };
  t.is(values.modelArtifacts.name, 'qwen3-32b');
  t.is(values.modelArtifacts.uri, 'hf://Qwen/Qwen3-32B');
  t.true(values.routing.proxy.enabled);
  t.deepEqual(values.decode.parallelism, { tensor: 2 });
  t.is(values.decode.replicas, 2);
  t.true(values.prefill.create);
  const args = values.decode.containers[0]?.args ?? [];
  // vLLM's own server stays: its parsers pass through unchanged
  for (const flag of ['--reasoning-parser', '--enable-auto-tool-choice', '--tool-call-parser', '--kv-transfer-config'])
    t.true(args.includes(flag), flag);
  for (const flag of ['--served-model-name', '--tensor-parallel-size', '--data-parallel-size', '--model', '--port'])
    t.false(args.includes(flag), flag);
  t.deepEqual(
    values.prefill.containers[0]?.env.map((e) => e.name),
    ['UCX_TLS', 'VLLM_NIXL_SIDE_CHANNEL_HOST', 'VLLM_NIXL_SIDE_CHANNEL_PORT'],
  );
  const cached = parseYaml(
    convert(readVllmConfig([join(FIXTURES, 'llama-3.1-8b-tp1.sh')]), {
      strategy: 'colocated',
      target: 'llm-d',
      modelCachePvc: 'model-cache',
    }).yaml,
  ) as { modelArtifacts: { uri: string } };
  t.is(cached.modelArtifacts.uri, 'pvc+hf://model-cache/hub/meta-llama/Llama-3.1-8B-Instruct');
});

test('vLLM --config YAML and a --config named on the command line (command line wins)', (t) => {
  const fromYaml = parseVllmCommand(['--config', 'llama-config.yaml', '--max-num-seqs', '32'], (p) =>
    readFileSync(join(FIXTURES, p), 'utf8'),
  );
  t.is(fromYaml.model, 'meta-llama/Llama-3.1-8B-Instruct');
  t.is(fromYaml.tensorParallel, 2);
  t.deepEqual(
    fromYaml.flags.filter((f) => f.name === 'max-num-seqs').map((f) => f.values),
    [['32']],
  );
  // trust-remote-code: false in a --config file is vLLM's default: left out, and listed
  t.false(fromYaml.flags.some((f) => f.name === 'trust-remote-code'));
  t.deepEqual(
    fromYaml.dropped.map((n) => n.item),
    ['--trust-remote-code=false (--config)', '--config llama-config.yaml'],
  );
});

test('bad input: clear errors naming the flag or the problem', (t) => {
  const words = (s: string) => splitShellWords(s).map((w) => w.word);
  const bad = (s: string, message: RegExp) => t.throws(() => parseVllmCommand(words(s)), { instanceOf: ConvertError, message });
  bad('vllm serve --tensor-parallel-size 2', /no model/);
  bad('python app.py --model x', /not a vLLM server/);
  bad('sglang launch_server --model-path x', /"sglang" is not a vLLM command/);
  bad('vllm bench serve --model x', /not a serving command/);
  bad('vllm serve m -tp four', /--tensor-parallel-size: got "four"; expected an integer ≥ 1/);
  bad('vllm serve m --gpu-memory-utilization 1.5', /--gpu-memory-utilization: got "1.5"; expected a number in \(0, 1\]/);
  bad('vllm serve m --max-model-len 12.5k7', /--max-model-len/);
  bad('vllm serve m --dtype fp64', /--dtype: got "fp64"; expected one of auto/);
  bad('vllm serve m --max-num-seqs', /--max-num-seqs: needs a value/);
  bad('vllm serve m --model other', /two models/);
  bad('vllm serve m --trust-remote-code=maybe', /it is a switch/);
  bad('vllm serve m --served-model-name', /--served-model-name: needs a value/);
  t.throws(() => readVllmConfig(["vllm serve 'unterminated"]), { instanceOf: ConvertError, message: /unclosed single quote/ });
  t.throws(() => readVllmConfig([]), { instanceOf: ConvertError, message: /nothing to convert/ });
  t.throws(() => readVllmConfig(['missing-command.args']), { instanceOf: ConvertError, message: /missing-command\.args: no such file/ });
});

test('shell words: continuations, quotes, escapes, comments', (t) => {
  t.deepEqual(
    splitShellWords('a \\\n  "b c" \'d e\' f\\ g # comment\nh').map((w) => [w.word, w.line]),
    [
      ['a', 1],
      ['b c', 2],
      ['d e', 2],
      ['f g', 2],
      ['h', 3],
    ],
  );
  t.deepEqual(
    splitShellWords('--x="a \\"q\\" b"').map((w) => w.word),
    ['--x=a "q" b'],
  );
});

test('deployment names: DNS-1123 labels short enough for the derived names; a chosen name is checked', (t) => {
  t.is(deploymentName('meta-llama/Llama-3.1-8B-Instruct', 'colocated'), 'llama-3-1-8b-instruct-agg');
  t.is(deploymentName('/models/Qwen2.5_7B', 'disaggregated'), 'qwen2-5-7b-disagg');
  const long = deploymentName('org/' + 'x'.repeat(80), 'disaggregated');
  t.true(long.length <= 36, long);
  t.regex(long, /^x+-[0-9a-f]{4}-disagg$/);
  t.is(nameFromModel('org/a--b', 'agg', 36), 'a-b-agg');
  t.throws(() => checkName('Llama', 36), { instanceOf: ConvertError, message: /--name: "Llama" is not a Kubernetes name/ });
  t.throws(() => checkName('a'.repeat(37), 36), { instanceOf: ConvertError, message: /--name: "a{37}" has 37 characters; at most 36/ });
});

test("splitArgv: convert's own options first, the vLLM command after", (t) => {
  t.deepEqual(splitArgv(['--strategy', 'disaggregated', '--model-cache-pvc', 'c', 'vllm', 'serve', 'm', '--strategy', 'x']), {
    own: ['--strategy', 'disaggregated', '--model-cache-pvc', 'c'],
    command: ['vllm', 'serve', 'm', '--strategy', 'x'],
  });
  t.deepEqual(splitArgv(['--name=a', '--', '--model', 'm']), { own: ['--name=a'], command: ['--model', 'm'] });
});

test('CLI: YAML on stdout and warnings on stderr; bad input exits 2 with one line naming the flag', (t) => {
  const cli = (...args: string[]) =>
    spawnSync(process.execPath, ['cli/main.ts', 'convert', ...args], { encoding: 'utf8', timeout: 20_000 });
  const ok = cli('vllm', 'serve', 'meta-llama/Llama-3.1-8B-Instruct', '--port', '9000');
  t.is(ok.status, 0, ok.stderr);
  t.regex(ok.stdout, /apiVersion: nvidia.com\/v1beta1\nkind: DynamoGraphDeployment/);
  t.regex(ok.stderr, /convert: dropped: --port 9000 \(HTTP server flag/);
  const llmd = cli('--target', 'llm-d', 'vllm serve Qwen/Qwen3-0.6B');
  t.is(llmd.status, 0, llmd.stderr);
  t.regex(llmd.stdout, /modelCommand: vllmServe/);
  const tagged = cli('--image-tag', '1.4.0', 'vllm serve Qwen/Qwen3-0.6B');
  t.regex(tagged.stdout, /image: nvcr.io\/nvidia\/ai-dynamo\/vllm-runtime:1.4.0/);
  for (const [args, message] of [
    [['vllm serve m --tensor-parallel-size 0'], /--tensor-parallel-size: got "0"; expected an integer ≥ 1/],
    [['--target', 'kserve', 'vllm serve m'], /--target/],
    [['--dynamo-version', '2.0', 'vllm serve m'], /--dynamo-version/],
    [['--name', 'My_Model', 'vllm serve m'], /--name: "My_Model" is not a Kubernetes name/],
    [['--name', 'a'.repeat(40), 'vllm serve m'], /--name: "a{40}" has 40 characters; at most 36/],
    [['--model-cache-pvc', 'Cache!', 'vllm serve m'], /--model-cache-pvc: "Cache!" is not a Kubernetes name/],
    [['--image', 'x:1', '--image-tag', '1.4.0', 'vllm serve m'], /--image and --image-tag: give one/],
    [['--target', 'llm-d', '--dynamo-version', '0.6', 'vllm serve m'], /--dynamo-version: only with --target dynamo/],
  ] as const) {
    const bad = cli(...args);
    t.is(bad.status, 2, args.join(' '));
    t.regex(bad.stderr, message);
    t.is(bad.stderr.trim().split('\n').length, 1, bad.stderr);
  }
});

test('multi-node DP + EP: one two-node worker; the per-node launch flags are left to the operator', (t) => {
  const { byName, main, conversion } = dgd(
    'vllm serve deepseek-ai/DeepSeek-R1 -tp 8 -dp 2 --enable-expert-parallel --data-parallel-size-local 1 --data-parallel-address 10.0.0.1 --data-parallel-rpc-port 13345',
  );
  t.is(conversion.gpusPerWorker, 16);
  t.deepEqual(byName('VllmDecodeWorker').multinode, { nodeCount: 2 });
  t.is(byName('VllmDecodeWorker').replicas, 1);
  const args = main('VllmDecodeWorker').args;
  t.deepEqual(args, [
    '--model',
    'deepseek-ai/DeepSeek-R1',
    '--tensor-parallel-size',
    '8',
    '--data-parallel-size',
    '2',
    '--enable-expert-parallel',
  ]);
  t.deepEqual(
    conversion.dropped.map((d) => d.item),
    ['--data-parallel-size-local 1', '--data-parallel-address 10.0.0.1', '--data-parallel-rpc-port 13345'],
  );
  t.true(conversion.dropped.every((d) => d.reason.startsWith('per-node launch flag')));
});

test("gpt-oss: vLLM's openai tool parser and openai_gptoss reasoning parser are Dynamo's harmony and gpt_oss", (t) => {
  const { main, conversion } = dgd(
    'vllm serve openai/gpt-oss-120b --tool-call-parser openai --reasoning-parser openai_gptoss --enable-auto-tool-choice',
  );
  t.deepEqual(main('VllmDecodeWorker').args.slice(-4), ['--dyn-tool-call-parser', 'harmony', '--dyn-reasoning-parser', 'gpt_oss']);
  t.deepEqual(
    conversion.changed.map((c) => c.to),
    ['--dyn-tool-call-parser harmony', '--dyn-reasoning-parser gpt_oss'],
  );
});
