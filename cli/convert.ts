// `npm run convert -- [options] <vllm serve command line | args file | vLLM config YAML>`:
// writes an NVIDIA Dynamo DynamoGraphDeployment equivalent to a vLLM serving command.
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, extname, resolve } from 'node:path';
import { formatHelp, num, parseOptions, str, UsageError } from '../core/options.ts';
import { convertToDynamo, STRATEGIES, type Strategy } from '../migrate/convert.ts';
import { commandWords, configYamlToArgs, ConvertError, parseVllmCommand, type VllmServeConfig } from '../migrate/vllm-command.ts';

export const CONVERT_OPTIONS = {
  strategy: str<Strategy>({
    default: 'colocated',
    choices: STRATEGIES,
    help: "colocated (aggregated workers, the guide's advice) or disaggregated (prefill + decode pools)",
  }),
  target: str({ default: 'dynamo', choices: ['dynamo'], help: 'deployment format: NVIDIA Dynamo DynamoGraphDeployment' }),
  name: str({ meta: 'NAME', help: 'metadata.name (default: from the model, e.g. llama-3-1-8b-instruct-agg)' }),
  image: str({ meta: 'IMAGE', help: 'Dynamo vLLM runtime image (default nvcr.io/nvidia/ai-dynamo/vllm-runtime:0.6.1)' }),
  gpusPerNode: num({ default: 8, min: 1, integer: true, help: 'GPUs per node: workers needing more span several nodes' }),
  output: str({ meta: 'FILE', help: 'write the YAML here instead of stdout' }),
};

const USAGE = 'shadowbench convert [options] <vllm serve command line | args file | vLLM --config YAML>';
const DESCRIPTION = `Translates vLLM serving arguments into an NVIDIA Dynamo deployment YAML. Put convert's own options
first; everything from the first other word on is the vLLM command (quote it, or pass it after --).
Flags that are not translated are listed in the YAML header and on stderr.`;

const OWN_FLAGS = new Set(['--strategy', '--target', '--name', '--image', '--gpus-per-node', '--output', '--help']);

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
  const conversion = convertToDynamo(config, {
    strategy: values.strategy,
    gpusPerNode: values.gpusPerNode,
    ...(values.name !== undefined ? { name: values.name } : {}),
    ...(values.image !== undefined ? { image: values.image } : {}),
  });
  for (const warning of conversion.warnings) process.stderr.write(`convert: ${warning}\n`);
  if (values.output !== undefined) {
    writeFileSync(values.output, conversion.yaml);
    process.stderr.write(`convert: wrote ${values.output}\n`);
  } else {
    process.stdout.write(conversion.yaml);
  }
  return 0;
}
