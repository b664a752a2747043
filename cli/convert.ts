// `npm run convert -- [options] <vllm serve command line | args file | vLLM config YAML>`:
// writes an NVIDIA Dynamo DynamoGraphDeployment (or llm-d model-service values) equivalent to a
// vLLM serving command. See docs/MIGRATE.md.
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, extname, resolve } from 'node:path';
import { formatHelp, num, parseOptions, str, UsageError } from '../core/options.ts';
import { convert, DYNAMO_VERSIONS, STRATEGIES, TARGETS, type DynamoVersion, type Strategy, type Target } from '../migrate/convert.ts';
import { checkName } from '../migrate/k8s-names.ts';
import { commandWords, configYamlToArgs, ConvertError, parseVllmCommand, type VllmServeConfig } from '../migrate/vllm-command.ts';

export const CONVERT_OPTIONS = {
  strategy: str<Strategy>({
    default: 'colocated',
    choices: STRATEGIES,
    help: "colocated (aggregated workers, the guide's advice) or disaggregated (prefill + decode pools)",
  }),
  target: str<Target>({
    default: 'dynamo',
    choices: TARGETS,
    help: 'dynamo: NVIDIA Dynamo DynamoGraphDeployment; llm-d: values for the llm-d-modelservice Helm chart',
  }),
  dynamoVersion: str<DynamoVersion>({
    default: '1.4',
    choices: DYNAMO_VERSIONS,
    help: 'Dynamo API: 1.4 = Dynamo 1.x (nvidia.com/v1beta1); 0.6 = Dynamo 0.6 (nvidia.com/v1alpha1)',
  }),
  name: str({
    meta: 'NAME',
    help: 'metadata.name / chart fullname (default: from the model, e.g. llama-3-1-8b-instruct-agg; ≤ 36 characters for Dynamo, 40 for llm-d)',
  }),
  image: str({
    meta: 'IMAGE',
    help: 'runtime image (default nvcr.io/nvidia/ai-dynamo/vllm-runtime:1.4.2, 0.6.1 with --dynamo-version 0.6, ghcr.io/llm-d/llm-d-cuda:v0.5.1 for llm-d)',
  }),
  imageTag: str({ meta: 'TAG', help: 'tag of the default image (e.g. 1.4.0): pin it to the release you run' }),
  modelCachePvc: str({
    meta: 'NAME',
    help: 'existing PersistentVolumeClaim for the Hugging Face cache, mounted in the workers with HF_HOME set',
  }),
  gpusPerNode: num({ default: 8, min: 1, integer: true, help: 'GPUs per node: workers needing more span several nodes' }),
  output: str({ meta: 'FILE', help: 'write the YAML here instead of stdout' }),
};

const USAGE = 'shadowbench convert [options] <vllm serve command line | args file | vLLM --config YAML>';
const DESCRIPTION = `Translates vLLM serving arguments into an NVIDIA Dynamo deployment YAML (or llm-d Helm values). Put
convert's own options first; everything from the first other word on is the vLLM command (quote it,
or pass it after --). Every vLLM flag is carried to the worker unless the target serves it itself;
each changed or dropped flag is listed with its reason in the YAML header and on stderr.`;

const OWN_FLAGS = new Set([
  '--strategy',
  '--target',
  '--dynamo-version',
  '--name',
  '--image',
  '--image-tag',
  '--model-cache-pvc',
  '--gpus-per-node',
  '--output',
  '--help',
]);

/** Splits argv into convert's own options (first) and the vLLM command words (the rest). */
export function splitArgv(argv: readonly string[]): { own: string[]; command: string[] } {
  const own: string[] = [];
  let i = 0;
  while (i < argv.length) {
    const word = argv[i] as string;
    if (word === '--') return { own, command: argv.slice(i + 1) };
    const flag = word.includes('=') ? word.slice(0, word.indexOf('=')) : word;
    if (!OWN_FLAGS.has(flag)) break;
    own.push(word);
    if (!word.includes('=') && word !== '--help' && i + 1 < argv.length) own.push(argv[++i] as string);
    i++;
  }
  return { own, command: argv.slice(i) };
}

/** Reads the vLLM configuration from the command words: a file path, one quoted command line, or the words themselves. */
export function readVllmConfig(command: readonly string[], cwd = process.cwd()): VllmServeConfig {
  if (command.length === 0) throw new ConvertError(`nothing to convert; usage: ${USAGE}`);
  const only = command.length === 1 ? (command[0] as string) : null;
  const path = only !== null ? resolve(cwd, only) : null;
  const readConfig = (base: string) => (file: string) => {
    const full = resolve(base, file);
    try {
      return readFileSync(full, 'utf8');
    } catch (error) {
      throw new ConvertError(
        `--config ${file}: cannot read ${full} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`,
      );
    }
  };
  if (only !== null && path !== null && !/\s/.test(only) && existsSync(path) && statSync(path).isFile()) {
    const text = readFileSync(path, 'utf8');
    const words = ['.yaml', '.yml'].includes(extname(path).toLowerCase()) ? configYamlToArgs(text, only) : commandWords(text, only);
    return parseVllmCommand(words, readConfig(dirname(path)));
  }
  // a single word that names a file (by its extension) but does not exist: say so, rather than "not a vLLM command"
  if (only !== null && !/\s/.test(only) && /\.(ya?ml|args|txt|sh|conf)$/i.test(only)) {
    throw new ConvertError(`${only}: no such file`);
  }
  const words = only !== null ? commandWords(only, 'command line') : [...command];
  return parseVllmCommand(words, readConfig(cwd));
}

export async function run(argv: string[]): Promise<number> {
  const { own, command } = splitArgv(argv);
  if (own.includes('--help')) {
    process.stdout.write(formatHelp(USAGE, DESCRIPTION, CONVERT_OPTIONS));
    return 0;
  }
  const { values, positionals } = parseOptions(CONVERT_OPTIONS, own);
  if (positionals.length > 0) throw new UsageError(`unexpected ${positionals.join(' ')}`);
  let config: VllmServeConfig;
  try {
    config = readVllmConfig(command);
  } catch (error) {
    if (error instanceof ConvertError) throw new UsageError(error.message);
    throw error;
  }
  if (values.image !== undefined && values.imageTag !== undefined)
    throw new UsageError('--image and --image-tag: give one (--image-tag only changes the tag of the default image)');
  if (values.imageTag !== undefined && !/^[\w][\w.-]{0,127}$/.test(values.imageTag))
    throw new UsageError(`--image-tag: "${values.imageTag}" is not an image tag; expected letters, digits, '.', '_' and '-'`);
  if (values.target === 'llm-d' && own.some((w) => w === '--dynamo-version' || w.startsWith('--dynamo-version=')))
    throw new UsageError('--dynamo-version: only with --target dynamo');
  let conversion;
  try {
    if (values.modelCachePvc !== undefined) checkName(values.modelCachePvc, 63, '--model-cache-pvc');
    conversion = convert(config, {
      strategy: values.strategy,
      target: values.target,
      dynamoVersion: values.dynamoVersion,
      gpusPerNode: values.gpusPerNode,
      ...(values.name !== undefined ? { name: values.name } : {}),
      ...(values.image !== undefined ? { image: values.image } : {}),
      ...(values.imageTag !== undefined ? { imageTag: values.imageTag } : {}),
      ...(values.modelCachePvc !== undefined ? { modelCachePvc: values.modelCachePvc } : {}),
    });
  } catch (error) {
    if (error instanceof ConvertError) throw new UsageError(error.message);
    throw error;
  }
  // the output first: a file that cannot be written is the one line on stderr (exit 2)
  if (values.output !== undefined) writeFileSync(values.output, conversion.yaml);
  else process.stdout.write(conversion.yaml);
  for (const warning of conversion.warnings) process.stderr.write(`convert: ${warning}\n`);
  if (values.output !== undefined) process.stderr.write(`convert: wrote ${values.output}\n`);
  return 0;
}
