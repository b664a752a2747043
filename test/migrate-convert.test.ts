import test from 'ava';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { parse as parseYaml } from 'yaml';
import { convertToDynamo, deploymentName, type Strategy } from '../migrate/convert.ts';
import { ConvertError, parseVllmCommand } from '../migrate/vllm-command.ts';
import { splitShellWords } from '../migrate/shell-words.ts';
import { readVllmConfig, splitArgv } from '../cli/convert.ts';

const FIXTURES = 'test/fixtures/vllm-commands';
const GOLDEN = 'test/golden/convert';
const UPDATE = process.env.UPDATE_GOLDEN === '1';

// Each fixture converts colocated; two also disaggregated. Golden YAML in test/golden/convert/.
const CASES: Array<{ fixture: string; strategy: Strategy }> = [
  ...readdirSync(FIXTURES)
    .sort()
    .map((fixture): { fixture: string; strategy: Strategy } => ({ fixture, strategy: 'colocated' })),
  { fixture: 'llama-3.1-70b-tp4-fp8.sh', strategy: 'disaggregated' },
  { fixture: 'deepseek-v3-pp2.sh', strategy: 'disaggregated' },
];

for (const { fixture, strategy } of CASES) {
  test(`golden: ${fixture} (${strategy})`, (t) => {
    const config = readVllmConfig([join(FIXTURES, fixture)]);
    const { yaml } = convertToDynamo(config, { strategy });
    const golden = join(GOLDEN, `${fixture.replace(/\.[^.]+$/, '')}.${strategy}.yaml`);
    if (UPDATE) writeFileSync(golden, yaml);
    t.is(yaml, readFileSync(golden, 'utf8'));
    // and it is YAML a Kubernetes client would accept
    const doc = parseYaml(yaml) as { apiVersion: string; kind: string; spec: { services: Record<string, unknown> } };
    t.is(doc.apiVersion, 'nvidia.com/v1alpha1');
    t.is(doc.kind, 'DynamoGraphDeployment');
    t.deepEqual(
      Object.keys(doc.spec.services),
      strategy === 'colocated' ? ['Frontend', 'VllmDecodeWorker'] : ['Frontend', 'VllmDecodeWorker', 'VllmPrefillWorker'],
    );
  });
}

type Worker = {
  replicas: number;
  multinode?: { nodeCount: number };
  resources: { limits: { gpu: string } };
  envs?: Array<{ name: string; value: string }>;
  extraPodSpec: { mainContainer: { args: string[] } };
};
const workerOf = (fixture: string, strategy: Strategy = 'colocated') => {
  const conversion = convertToDynamo(readVllmConfig([join(FIXTURES, fixture)]), { strategy });
  const doc = parseYaml(conversion.yaml) as { spec: { services: Record<string, Worker> } };
  return { conversion, services: doc.spec.services, decode: doc.spec.services.VllmDecodeWorker as Worker };
};

test('70B TP4 FP8: GPUs = tp × pp, every listed engine flag carried, multi-valued served-model-name kept', (t) => {
  const { decode, conversion } = workerOf('llama-3.1-70b-tp4-fp8.sh');
  t.is(decode.resources.limits.gpu, '4');
  t.deepEqual(decode.extraPodSpec.mainContainer.args, [
    '--model',
    'meta-llama/Llama-3.1-70B-Instruct',
    '--served-model-name',
    'llama-70b',
    'llama-3.1-70b',
    '--quantization',
    'fp8',
    '--kv-cache-dtype',
    'fp8',
    '--tensor-parallel-size',
    '4',
    '--max-model-len',
    '16384',
    '--max-num-seqs',
    '256',
    '--max-num-batched-tokens',
    '16384',
    '--enable-prefix-caching',
    '--enable-chunked-prefill',
  ]);
  t.deepEqual(conversion.warnings, []);
});

test('DeepSeek TP8 × PP2 spans two nodes; env carried except the secret; unknown flag listed with its value', (t) => {
  const { decode, conversion, services } = workerOf('deepseek-v3-pp2.sh', 'disaggregated');
  t.is(conversion.gpusPerWorker, 16);
  t.deepEqual(decode.multinode, { nodeCount: 2 });
  t.is(decode.resources.limits.gpu, '8');
  t.deepEqual(decode.envs, [
    { name: 'VLLM_USE_V1', value: '1' },
    { name: 'NCCL_DEBUG', value: 'WARN' },
  ]);
  t.true((services.VllmPrefillWorker as Worker).extraPodSpec.mainContainer.args.includes('--is-prefill-worker'));
  t.false(decode.extraPodSpec.mainContainer.args.includes('--is-prefill-worker'));
  t.false(conversion.yaml.includes('hf_abcdefSECRET'));
  t.true(conversion.warnings.some((w) => w.startsWith('not translated: HF_TOKEN=<redacted>')));
  t.true(conversion.warnings.some((w) => w.includes('--speculative-config {"method": "deepseek_mtp", "num_speculative_tokens": 1}')));
});

test('Qwen: = forms, 32k = 32000, quoted values; API key redacted everywhere; tool calling listed', (t) => {
  const { decode, conversion } = workerOf('qwen-trust-remote-code.sh');
  const args = decode.extraPodSpec.mainContainer.args;
  t.deepEqual(args, ['--model', 'Qwen/Qwen2.5-7B-Instruct', '--trust-remote-code', '--dtype', 'bfloat16', '--max-model-len', '32000']);
  t.false(conversion.yaml.includes('sk-live'));
  t.false(conversion.warnings.join('\n').includes('sk-live'));
  t.deepEqual(
    conversion.warnings.map((w) => w.split(' (')[0]),
    [
      'not translated: --api-key <redacted>',
      'not translated: --enable-auto-tool-choice',
      'not translated: --tool-call-parser hermes',
      'not translated: --chat-template ./templates/qwen.jinja',
    ],
  );
});

test('docker form: options before the image listed, prefix caching stays off, data parallel becomes replicas', (t) => {
  const { decode, conversion, services } = workerOf('mistral-completions-docker.sh');
  t.is(decode.replicas, 2);
  t.true(decode.extraPodSpec.mainContainer.args.includes('--no-enable-prefix-caching'));
  // prefix caching off: no KV-aware routing even with two replicas
  t.is((services.Frontend as { envs?: unknown }).envs, undefined);
  t.true(
    conversion.warnings[0]?.startsWith(
      'not translated: docker run --runtime nvidia --gpus all -p 8000:8000 --ipc=host -e HF_TOKEN=<redacted>',
    ),
  );
  t.true(conversion.warnings.some((w) => w.startsWith('not translated: --swap-space 16 (unknown')));
});

test('vLLM --config YAML and a --config named on the command line (command line wins)', (t) => {
  const fromYaml = parseVllmCommand(['--config', 'llama-config.yaml', '--max-num-seqs', '32'], (p) =>
    readFileSync(join(FIXTURES, p), 'utf8'),
  );
  t.is(fromYaml.model, 'meta-llama/Llama-3.1-8B-Instruct');
  t.is(fromYaml.tensorParallel, 2);
  t.deepEqual(fromYaml.engineArgs.find((a) => a.flag === '--max-num-seqs')?.values, ['32']);
  // trust-remote-code: false is vLLM's default and is left out, not turned into a flag
  t.false(fromYaml.engineArgs.some((a) => a.flag.includes('trust-remote-code')));
  t.deepEqual(
    fromYaml.notTranslated.map((n) => n.item),
    ['--uvicorn-log-level warning'],
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

test('deployment names are valid Kubernetes names', (t) => {
  t.is(deploymentName('meta-llama/Llama-3.1-8B-Instruct', 'colocated'), 'llama-3-1-8b-instruct-agg');
  t.is(deploymentName('/models/Qwen2.5_7B', 'disaggregated'), 'qwen2-5-7b-disagg');
});

test("splitArgv: convert's own options first, the vLLM command after", (t) => {
  t.deepEqual(splitArgv(['--strategy', 'disaggregated', 'vllm', 'serve', 'm', '--strategy', 'x']), {
    own: ['--strategy', 'disaggregated'],
    command: ['vllm', 'serve', 'm', '--strategy', 'x'],
  });
  t.deepEqual(splitArgv(['--name=a', '--', '--model', 'm']), { own: ['--name=a'], command: ['--model', 'm'] });
});

test('CLI: YAML on stdout and warnings on stderr; bad input exits 2 with the message', (t) => {
  const cli = (...args: string[]) =>
    spawnSync(process.execPath, ['cli/main.ts', 'convert', ...args], { encoding: 'utf8', timeout: 20_000 });
  const ok = cli('vllm', 'serve', 'meta-llama/Llama-3.1-8B-Instruct', '--port', '9000');
  t.is(ok.status, 0, ok.stderr);
  t.regex(ok.stdout, /kind: DynamoGraphDeployment/);
  t.regex(ok.stderr, /convert: not translated: --port 9000/);
  const bad = cli('vllm serve m --tensor-parallel-size 0');
  t.is(bad.status, 2);
  t.regex(bad.stderr, /--tensor-parallel-size: got "0"; expected an integer ≥ 1/);
});
