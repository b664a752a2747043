// Reads a vLLM serving command — `vllm serve MODEL --flag value ...`, `python -m
// vllm.entrypoints.openai.api_server --model ...`, `docker run ... vllm/vllm-openai ...`, a bare
// argument list (an args file) or vLLM's `--config` YAML — into its flags, in order, with the
// settings that shape a deployment (parallelism, served names) read out. The parse records facts;
// each target decides what to carry, change or drop, and says why. Nothing is dropped silently.
import { parse as parseYaml } from 'yaml';
import { splitShellWords, ShellWordsError } from './shell-words.ts';
import { CHECKED_FLAGS, SERVER_FLAGS, isSecretEnv, isSecretFlag, type FlagSpec, type Kind } from './vllm-flags.ts';

/** Unusable input: not a vLLM command, no model, a bad value. The CLI exits 2 with the message. */
export class ConvertError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConvertError';
  }
}

export interface ParsedFlag {
  /** Normalised name without dashes, positive form: `enable-prefix-caching` for `--no-enable-prefix-caching`. */
  name: string;
  negated: boolean;
  /** The flag as a worker receives it: `--name`, `--no-name`, or an unknown short flag as written. */
  flag: string;
  /** Values, checked where the flag's type is known (none for a switch). */
  values: string[];
  /** `--flag value` as shown to the user, secret values replaced by <redacted>. */
  display: string;
  secret: boolean;
  /** Read from a --config YAML file rather than the command line. */
  fromConfig: boolean;
}

/** Something from the input that does not reach the output as written, and why. */
export interface Outcome {
  /** As given, secrets replaced by <redacted>. */
  item: string;
  /** What it became, when it was changed rather than dropped. */
  to?: string;
  reason: string;
}

export interface VllmServeConfig {
  model: string;
  /** --served-model-name values (vLLM accepts several; empty = the model id is the name). */
  servedNames: string[];
  /** Every flag except the model, in input order (--config file first, command line over it). */
  flags: ParsedFlag[];
  tensorParallel: number;
  pipelineParallel: number;
  dataParallel: number;
  /** --enable-expert-parallel: data-parallel ranks share the experts of an MoE model (one deployment). */
  expertParallel: boolean;
  /** true / false when set explicitly; null = vLLM's default (on since the V1 engine). */
  prefixCaching: boolean | null;
  /** Environment variables carried to the worker (non-secret). */
  env: Array<{ name: string; value: string }>;
  /** Input left out whatever the target (docker options, secrets in the environment, stray words). */
  dropped: Outcome[];
  /** The command as read, secrets redacted, for the output header. */
  source: string;
}

const normalise = (flag: string): string => flag.replace(/^--/, '').replace(/_/g, '-');

const SHORT: Record<string, string> = Object.fromEntries(
  Object.entries(CHECKED_FLAGS)
    .filter(([, spec]) => spec.short)
    .map(([name, spec]) => [spec.short as string, name]),
);

function parseModelLen(raw: string): number | null {
  // vLLM accepts human-readable lengths: 1k = 1,000, 1K = 1,024 (likewise m/M, g/G)
  const last = raw.slice(-1);
  const multipliers: Record<string, number> = { k: 1e3, m: 1e6, g: 1e9, K: 1024, M: 1024 ** 2, G: 1024 ** 3 };
  const multiplier = multipliers[last];
  const number = Number(multiplier ? raw.slice(0, -1) : raw);
  if (raw.trim() === '' || !Number.isFinite(number)) return null;
  const value = multiplier ? Math.round(number * multiplier) : number;
  return Number.isInteger(value) ? value : null;
}

function checkValue(flag: string, spec: FlagSpec, raw: string): string {
  const bad = (expected: string) => new ConvertError(`--${flag}: got ${JSON.stringify(raw)}; expected ${expected}`);
  const range = (kind: string) =>
    spec.min !== undefined && spec.max !== undefined
      ? `${kind} in (0, ${spec.max}]`
      : spec.min !== undefined
        ? `${kind} ≥ ${spec.min === Number.MIN_VALUE ? 0 : spec.min}`
        : kind;
  if (spec.kind === 'int' || spec.kind === 'float' || spec.kind === 'model-len') {
    const value = spec.kind === 'model-len' ? parseModelLen(raw) : raw.trim() === '' ? Number.NaN : Number(raw);
    const expected =
      spec.kind === 'float'
        ? range('a number')
        : spec.kind === 'model-len'
          ? range('an integer (1k = 1000, 1K = 1024 accepted)')
          : range('an integer');
    if (value === null || !Number.isFinite(value)) throw bad(expected);
    if (spec.kind !== 'float' && !Number.isInteger(value)) throw bad(expected);
    if ((spec.min !== undefined && value < spec.min) || (spec.max !== undefined && value > spec.max)) throw bad(expected);
    return String(value);
  }
  if (spec.choices && !spec.choices.includes(raw)) throw bad(`one of ${spec.choices.join(', ')}`);
  if (raw === '') throw bad('a value');
  return raw;
}

const looksLikeFlag = (word: string | undefined): boolean =>
  word !== undefined && word.startsWith('-') && word.length > 1 && !/^-\d/.test(word);

function redactEnv(assignment: string): string {
  const eq = assignment.indexOf('=');
  const name = assignment.slice(0, eq);
  return isSecretEnv(name) ? `${name}=<redacted>` : assignment;
}

interface Located {
  /** The vLLM arguments proper (after `serve`, the module, or the docker image). */
  args: string[];
  /** The model given as `vllm serve MODEL`, if any. */
  positionalModel: string | null;
  env: string[];
  /** Things before the vLLM arguments that are not translated (docker options). */
  wrapper: Outcome[];
  launcher: string;
}

const ENV_ASSIGNMENT = /^[A-Za-z_][A-Za-z0-9_]*=/;

/** Finds where the vLLM arguments start in the words of a command line. */
function locateArgs(words: string[]): Located {
  let i = 0;
  const env: string[] = [];
  if (words[0] === 'env') i++;
  while (i < words.length && ENV_ASSIGNMENT.test(words[i] as string)) env.push(words[i++] as string);
  const rest = words.slice(i);
  const head = rest[0];
  if (head === undefined) throw new ConvertError('empty input: expected a vLLM serve command line or its arguments');
  const base = head.split('/').pop() as string;
  if (base === 'vllm') {
    if (rest[1] !== 'serve')
      throw new ConvertError(`"vllm ${rest[1] ?? ''}" is not a serving command; expected "vllm serve MODEL [--flag value ...]"`);
    const positional = rest[2] !== undefined && !looksLikeFlag(rest[2]) ? rest[2] : null;
    return { args: rest.slice(positional === null ? 2 : 3), positionalModel: positional, env, wrapper: [], launcher: 'vllm serve' };
  }
  if (/^python(\d+(\.\d+)?)?$/.test(base)) {
    const m = rest.indexOf('-m');
    const module = m === -1 ? undefined : rest[m + 1];
    if (module !== 'vllm.entrypoints.openai.api_server' && module !== 'vllm.entrypoints.api_server') {
      throw new ConvertError(
        `"${rest.slice(0, 3).join(' ')}" is not a vLLM server; expected "python -m vllm.entrypoints.openai.api_server --model MODEL ..."`,
      );
    }
    return { args: rest.slice(m + 2), positionalModel: null, env, wrapper: [], launcher: `${head} -m ${module}` };
  }
  if (base === 'docker' || base === 'podman') {
    const image = rest.findIndex((w, k) => k > 0 && /^([\w.-]+(:\d+)?\/)?vllm\/vllm-openai(:[\w.-]+)?(@sha256:[0-9a-f]+)?$/.test(w));
    if (image === -1)
      throw new ConvertError(
        `"${base} ${rest[1] ?? ''} ..." does not run the vllm/vllm-openai image; expected "docker run ... vllm/vllm-openai[:tag] --model MODEL ..."`,
      );
    const options = rest.slice(1, image).map((w) => (ENV_ASSIGNMENT.test(w) ? redactEnv(w) : w));
    const wrapper =
      options.length > 0
        ? [
            {
              item: `${base} ${options.join(' ')}`,
              reason:
                'container runtime options, not vLLM arguments: GPUs, ports, volumes and environment are set in the Kubernetes spec (a model cache: --model-cache-pvc)',
            },
          ]
        : [];
    return { args: rest.slice(image + 1), positionalModel: null, env, wrapper, launcher: `${base} ${rest[image]}` };
  }
  if (looksLikeFlag(head)) return { args: rest, positionalModel: null, env, wrapper: [], launcher: '' };
  throw new ConvertError(
    `"${head}" is not a vLLM command; expected "vllm serve MODEL ...", "python -m vllm.entrypoints.openai.api_server ...", "docker run ... vllm/vllm-openai ..." or arguments starting with --`,
  );
}

/** vLLM `--config` YAML (keys are flag names, with - or _) as argument words, in file order. */
export function configYamlToArgs(text: string, file: string): string[] {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (error) {
    throw new ConvertError(`${file}: not valid YAML (${(error as Error).message.split('\n')[0]})`);
  }
  if (doc === null || doc === undefined) return [];
  if (typeof doc !== 'object' || Array.isArray(doc))
    throw new ConvertError(
      `${file}: expected a mapping of vLLM flags (e.g. "model: meta-llama/Llama-3.1-8B-Instruct"), got ${Array.isArray(doc) ? 'a list' : typeof doc}`,
    );
  const args: string[] = [];
  for (const [key, value] of Object.entries(doc as Record<string, unknown>)) {
    const flag = `--${normalise(key)}`;
    if (value === true) args.push(flag);
    else if (value === false) args.push(`--no-${normalise(key)}`);
    else if (Array.isArray(value)) args.push(flag, ...value.map(String));
    else if (value === null || typeof value === 'object') throw new ConvertError(`${file}: ${key}: expected a value, a list or true/false`);
    else args.push(flag, String(value));
  }
  return args;
}

/** Words of a command line or args file; quoting errors become ConvertError naming `file`. */
export function commandWords(text: string, file: string): string[] {
  try {
    return splitShellWords(text).map((w) => w.word);
  } catch (error) {
    if (error instanceof ShellWordsError) throw new ConvertError(`${file}: ${error.message}`);
    throw error;
  }
}

/**
 * Parses the words of a vLLM serving command. `readConfig(path)` returns the text of a file named
 * by `--config` (vLLM's YAML config; command-line flags override it, as in vLLM).
 */
export function parseVllmCommand(
  words: string[],
  readConfig: (path: string) => string = () => {
    throw new ConvertError('--config needs a file, and none can be read here');
  },
): VllmServeConfig {
  const located = locateArgs(words);
  const dropped: Outcome[] = [...located.wrapper];
  const flags: ParsedFlag[] = [];
  const sourceParts: string[] = [...located.env.map(redactEnv)];
  if (located.launcher) sourceParts.push(located.launcher);
  if (located.positionalModel !== null) sourceParts.push(located.positionalModel);

  // Environment assignments before the command: carried to the worker, except secrets and GPU pinning.
  const env: VllmServeConfig['env'] = [];
  for (const assignment of located.env) {
    const eq = assignment.indexOf('=');
    const name = assignment.slice(0, eq);
    if (isSecretEnv(name))
      dropped.push({
        item: redactEnv(assignment),
        reason: /^(HF_TOKEN|HUGGING_FACE_HUB_TOKEN)$/.test(name)
          ? 'secret in the environment: the pods read HF_TOKEN from the Secret hf-token-secret (kubectl create secret generic hf-token-secret --from-literal=HF_TOKEN=...)'
          : 'secret in the environment: put it in a Kubernetes Secret and reference it from the pod',
      });
    else if (name === 'CUDA_VISIBLE_DEVICES')
      dropped.push({ item: assignment, reason: 'GPU selection is done by the nvidia.com/gpu resource request' });
    else env.push({ name, value: assignment.slice(eq + 1) });
  }

  const consume = (args: string[], fromConfig: boolean) => {
    for (let i = 0; i < args.length; i++) {
      const word = args[i] as string;
      if (!looksLikeFlag(word)) {
        dropped.push({ item: word, reason: 'unexpected positional argument' });
        if (!fromConfig) sourceParts.push(word);
        continue;
      }
      const eq = word.indexOf('=');
      const rawFlag = eq === -1 ? word : word.slice(0, eq);
      let inline: string | undefined = eq === -1 ? undefined : word.slice(eq + 1);
      let name = SHORT[rawFlag] ?? (rawFlag.startsWith('--') ? normalise(rawFlag) : null);
      let negated = false;
      const known = (n: string) => n in CHECKED_FLAGS || n in SERVER_FLAGS;
      if (name !== null && !known(name) && name.startsWith('no-')) {
        // --no-X for a switch X; an unknown --no-X is carried as written (vLLM's BooleanOptionalAction)
        const positive = name.slice(3);
        name = positive;
        negated = true;
      }
      const spec: FlagSpec | undefined = name === null ? undefined : CHECKED_FLAGS[name];
      const server = name === null ? undefined : SERVER_FLAGS[name];
      const kind: Kind | undefined = negated ? 'bool' : (spec?.kind ?? server?.kind);
      const flagText = name === null ? rawFlag : `--${negated ? 'no-' : ''}${name}`;
      let values: string[] = [];
      if (kind === 'bool') {
        if (inline !== undefined) {
          if (!/^(true|false|1|0)$/i.test(inline))
            throw new ConvertError(`${flagText}: got ${JSON.stringify(inline)}; it is a switch (use ${flagText} or --no-${name})`);
          if (/^(false|0)$/i.test(inline)) negated = !negated;
        }
      } else if (kind === 'strings') {
        if (inline !== undefined) values = [inline];
        while (i + 1 < args.length && !looksLikeFlag(args[i + 1])) values.push(args[++i] as string);
        if (values.length === 0) throw new ConvertError(`${flagText}: needs a value`);
      } else if (kind !== undefined) {
        if (inline === undefined) {
          const next = args[i + 1];
          if (next === undefined || looksLikeFlag(next)) throw new ConvertError(`${flagText}: needs a value`);
          inline = next;
          i++;
        }
        values = [inline];
      } else {
        // a flag the converter has no type for: the next word is its value unless it is a flag
        if (inline !== undefined) values = [inline];
        else if (i + 1 < args.length && !looksLikeFlag(args[i + 1])) values = [args[++i] as string];
      }
      if (spec && name !== null && kind !== 'bool') values = values.map((v) => checkValue(name, spec, v));
      const secret = name !== null && isSecretFlag(name) && kind !== 'bool';
      const flag = name === null ? rawFlag : `--${negated ? 'no-' : ''}${name}`;
      const display = [flag, ...(secret ? values.map(() => '<redacted>') : values)].join(' ');
      if (!fromConfig) sourceParts.push(display);
      if (fromConfig && kind === 'bool' && negated && spec?.offByDefault) {
        dropped.push({ item: `--${name}=false (--config)`, reason: "vLLM's default; left out" });
        continue;
      }
      const parsed: ParsedFlag = { name: name ?? rawFlag, negated, flag, values, display, secret, fromConfig };
      // the command line overrides the --config file (as in vLLM): the file's entry goes
      const earlier = flags.findIndex((f) => f.fromConfig && f.name === parsed.name);
      if (!fromConfig && earlier !== -1) flags.splice(earlier, 1);
      flags.push(parsed);
    }
  };

  // Command-line flags override the --config file: read the config first, then the command line over it.
  const configIndex = located.args.findIndex((w) => w === '--config' || w.startsWith('--config='));
  if (configIndex !== -1) {
    const word = located.args[configIndex] as string;
    const path = word.includes('=') ? word.slice(word.indexOf('=') + 1) : located.args[configIndex + 1];
    if (path === undefined || path === '') throw new ConvertError('--config: needs a file');
    consume(configYamlToArgs(readConfig(path), path), true);
    const rest = [...located.args];
    rest.splice(configIndex, word.includes('=') ? 1 : 2);
    sourceParts.push(`--config ${path}`);
    dropped.push({
      item: `--config ${path}`,
      reason: 'read: its settings are carried as flags, each listed here like a command-line flag',
    });
    consume(rest, false);
  } else {
    consume(located.args, false);
  }

  const last = (name: string) => flags.filter((f) => f.name === name).pop();
  const flagModel = last('model')?.values[0];
  if (located.positionalModel !== null && flagModel !== undefined && flagModel !== located.positionalModel) {
    throw new ConvertError(`two models given: "${located.positionalModel}" after "vllm serve" and "--model ${flagModel}"; keep one`);
  }
  const model = located.positionalModel ?? flagModel;
  if (model === undefined) throw new ConvertError('no model: give it as "vllm serve MODEL" or "--model MODEL"');
  const int = (name: string) => Number(last(name)?.values[0] ?? 1);
  const prefix = last('enable-prefix-caching');
  const ep = last('enable-expert-parallel');
  return {
    model,
    servedNames: last('served-model-name')?.values ?? [],
    flags: flags.filter((f) => f.name !== 'model'),
    tensorParallel: int('tensor-parallel-size'),
    pipelineParallel: int('pipeline-parallel-size'),
    dataParallel: int('data-parallel-size'),
    expertParallel: ep !== undefined && !ep.negated,
    prefixCaching: prefix === undefined ? null : !prefix.negated,
    env,
    dropped,
    source: sourceParts.join(' '),
  };
}
