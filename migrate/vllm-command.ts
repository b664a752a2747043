// Reads a vLLM serving command — `vllm serve MODEL --flag value ...`, `python -m
// vllm.entrypoints.openai.api_server --model ...`, `docker run ... vllm/vllm-openai ...`, a bare
// argument list (an args file) or vLLM's `--config` YAML — into the settings the converter
// translates, plus everything it does not translate, each with the reason. Nothing is dropped silently.
import { parse as parseYaml } from 'yaml';
import { splitShellWords, ShellWordsError } from './shell-words.ts';

/** Unusable input: not a vLLM command, no model, a bad value. The CLI exits 2 with the message. */
export class ConvertError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConvertError';
  }
}

type Kind = 'string' | 'int' | 'float' | 'bool' | 'model-len' | 'strings';

interface FlagSpec {
  kind: Kind;
  /** Short spellings vLLM accepts (`-tp`). */
  short?: string;
  /** A switch that is off unless given: an explicit "false" is the default and is left out. */
  offByDefault?: boolean;
  choices?: readonly string[];
  min?: number;
  max?: number;
}

/**
 * vLLM engine arguments carried to the Dynamo vLLM worker (`python3 -m dynamo.vllm` takes vLLM's
 * engine arguments), in the order they are written out. The list first, then common
 * engine settings whose meaning does not change under Dynamo.
 */
export const ENGINE_FLAGS: Record<string, FlagSpec> = {
  model: { kind: 'string' },
  'served-model-name': { kind: 'strings' },
  revision: { kind: 'string' },
  tokenizer: { kind: 'string' },
  'tokenizer-revision': { kind: 'string' },
  'tokenizer-mode': { kind: 'string' },
  'trust-remote-code': { kind: 'bool', offByDefault: true },
  dtype: { kind: 'string', choices: ['auto', 'half', 'float16', 'bfloat16', 'float', 'float32'] },
  quantization: { kind: 'string', short: '-q' },
  'kv-cache-dtype': { kind: 'string' },
  'tensor-parallel-size': { kind: 'int', short: '-tp', min: 1 },
  'pipeline-parallel-size': { kind: 'int', short: '-pp', min: 1 },
  'gpu-memory-utilization': { kind: 'float', min: Number.MIN_VALUE, max: 1 },
  'max-model-len': { kind: 'model-len', min: 1 },
  'max-num-seqs': { kind: 'int', min: 1 },
  'max-num-batched-tokens': { kind: 'int', min: 1 },
  'enable-prefix-caching': { kind: 'bool' },
  'enable-chunked-prefill': { kind: 'bool' },
  'block-size': { kind: 'int', min: 1 },
  'enforce-eager': { kind: 'bool', offByDefault: true },
  seed: { kind: 'int', min: 0 },
};

/** Flags that change the deployment shape rather than the worker's arguments. */
const SHAPE_FLAGS: Record<string, FlagSpec> = {
  'data-parallel-size': { kind: 'int', short: '-dp', min: 1 },
  config: { kind: 'string' },
};

/** Flags understood but not carried over, with the reason shown to the user. */
const NOT_CARRIED: Record<string, { kind: Kind; reason: string; secret?: boolean }> = {
  host: { kind: 'string', reason: 'HTTP server flag: the Dynamo Frontend serves HTTP' },
  port: {
    kind: 'int',
    reason: 'HTTP server flag: the Dynamo Frontend listens on 8000; expose another port in its Service if clients need it',
  },
  'api-key': {
    kind: 'string',
    secret: true,
    reason: 'the Dynamo Frontend has no API-key check: put authentication in the gateway, and the key in a Secret',
  },
  'hf-token': {
    kind: 'string',
    secret: true,
    reason: 'secret on the command line: give the worker a Secret (envFromSecret: hf-token-secret holds HF_TOKEN)',
  },
  'uvicorn-log-level': { kind: 'string', reason: 'HTTP server flag: the Dynamo Frontend serves HTTP' },
  'allowed-origins': { kind: 'string', reason: 'HTTP server flag (CORS): configure it on the Frontend / gateway' },
  'allowed-methods': { kind: 'string', reason: 'HTTP server flag (CORS): configure it on the Frontend / gateway' },
  'allowed-headers': { kind: 'string', reason: 'HTTP server flag (CORS): configure it on the Frontend / gateway' },
  'ssl-keyfile': { kind: 'string', reason: 'TLS belongs to the gateway / ingress in front of the Frontend' },
  'ssl-certfile': { kind: 'string', reason: 'TLS belongs to the gateway / ingress in front of the Frontend' },
  'root-path': { kind: 'string', reason: 'HTTP server flag: the Dynamo Frontend serves HTTP' },
  'disable-log-requests': { kind: 'bool', reason: 'vLLM API-server logging flag; the Frontend logs requests itself' },
  'enable-log-requests': { kind: 'bool', reason: 'vLLM API-server logging flag; the Frontend logs requests itself' },
  'chat-template': {
    kind: 'string',
    reason: "applied by the Dynamo Frontend from the model's tokenizer config; a custom template must be baked into the model files",
  },
  'response-role': { kind: 'string', reason: 'vLLM API-server flag with no Dynamo equivalent' },
  'enable-auto-tool-choice': { kind: 'bool', reason: 'tool calling is configured on the Dynamo worker with --dyn-tool-call-parser' },
  'tool-call-parser': { kind: 'string', reason: "Dynamo names this --dyn-tool-call-parser; its parser names may differ from vLLM's" },
  'reasoning-parser': { kind: 'string', reason: "Dynamo names this --dyn-reasoning-parser; its parser names may differ from vLLM's" },
  'download-dir': { kind: 'string', reason: 'a path on the old host: mount a model cache volume in extraPodSpec instead' },
};

const SECRET_NAME = /token|key|secret|password|passwd|credential/i;

export interface NotTranslated {
  /** As given, secrets replaced by <redacted>. */
  item: string;
  reason: string;
}

export interface VllmServeConfig {
  model: string;
  /** Worker arguments, in ENGINE_FLAGS order: `--flag` and its value(s) (none for a switch). */
  engineArgs: Array<{ flag: string; values: string[] }>;
  tensorParallel: number;
  pipelineParallel: number;
  dataParallel: number;
  /** true / false when set explicitly; null = vLLM's default (on since the V1 engine). */
  prefixCaching: boolean | null;
  /** Environment variables carried to the worker (non-secret). */
  env: Array<{ name: string; value: string }>;
  notTranslated: NotTranslated[];
  /** The command as read, secrets redacted, for the output header. */
  source: string;
}

const normalise = (flag: string): string => flag.replace(/^--/, '').replace(/_/g, '-');

const SHORT: Record<string, string> = Object.fromEntries(
  Object.entries({ ...ENGINE_FLAGS, ...SHAPE_FLAGS })
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
  return SECRET_NAME.test(name) ? `${name}=<redacted>` : assignment;
}

interface Located {
  /** The vLLM arguments proper (after `serve`, the module, or the docker image). */
  args: string[];
  /** The model given as `vllm serve MODEL`, if any. */
  positionalModel: string | null;
  env: string[];
  /** Things before the vLLM arguments that are not translated (docker options). */
  wrapper: NotTranslated[];
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
              reason: 'container runtime options, not vLLM arguments: GPUs, ports, volumes and environment are set in the Kubernetes spec',
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
  const notTranslated: NotTranslated[] = [...located.wrapper];
  const engine = new Map<string, string[]>();
  const shape = new Map<string, string>();
  const sourceParts: string[] = [...located.env.map(redactEnv)];
  if (located.launcher) sourceParts.push(located.launcher);
  if (located.positionalModel !== null) sourceParts.push(located.positionalModel);

  // Environment assignments before the command: carried to the worker, except secrets and GPU pinning.
  const env: VllmServeConfig['env'] = [];
  for (const assignment of located.env) {
    const eq = assignment.indexOf('=');
    const name = assignment.slice(0, eq);
    if (SECRET_NAME.test(name))
      notTranslated.push({
        item: redactEnv(assignment),
        reason: 'secret in the environment: put it in a Kubernetes Secret (envFromSecret) instead',
      });
    else if (name === 'CUDA_VISIBLE_DEVICES')
      notTranslated.push({ item: assignment, reason: 'GPU selection is done by the resources.limits.gpu request' });
    else env.push({ name, value: assignment.slice(eq + 1) });
  }

  const consume = (args: string[], fromConfig: boolean) => {
    for (let i = 0; i < args.length; i++) {
      const word = args[i] as string;
      if (!looksLikeFlag(word)) {
        notTranslated.push({ item: word, reason: 'unexpected positional argument' });
        if (!fromConfig) sourceParts.push(word);
        continue;
      }
      const eq = word.indexOf('=');
      const rawFlag = eq === -1 ? word : word.slice(0, eq);
      let inline: string | undefined = eq === -1 ? undefined : word.slice(eq + 1);
      let name = SHORT[rawFlag] ?? (rawFlag.startsWith('--') ? normalise(rawFlag) : null);
      let negated = false;
      if (name !== null && !(name in ENGINE_FLAGS) && !(name in SHAPE_FLAGS) && !(name in NOT_CARRIED) && name.startsWith('no-')) {
        const positive = name.slice(3);
        const kind = ENGINE_FLAGS[positive]?.kind ?? NOT_CARRIED[positive]?.kind;
        if (kind === 'bool') {
          name = positive;
          negated = true;
        }
      }
      const spec: FlagSpec | undefined = name === null ? undefined : (ENGINE_FLAGS[name] ?? SHAPE_FLAGS[name]);
      const carried = name === null ? undefined : NOT_CARRIED[name];
      const kind: Kind | undefined = spec?.kind ?? carried?.kind;
      const flagText = name === null ? rawFlag : `--${negated ? 'no-' : ''}${name}`;
      // value(s) of this flag
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
        // unknown flag: take the next word as its value unless it is a flag
        if (inline !== undefined) values = [inline];
        else if (i + 1 < args.length && !looksLikeFlag(args[i + 1])) values = [args[++i] as string];
      }
      const secret = carried?.secret === true || (name !== null && SECRET_NAME.test(name) && kind !== 'bool');
      const shown = secret ? values.map(() => '<redacted>') : values;
      const display = [flagText, ...shown].join(' ');
      if (!fromConfig) sourceParts.push(display);
      if (spec && name !== null && name in ENGINE_FLAGS) {
        if (kind === 'bool') engine.set(name, [negated ? 'false' : 'true']);
        else
          engine.set(
            name,
            values.map((v) => checkValue(name, spec, v)),
          );
      } else if (spec && name !== null) {
        shape.set(name, checkValue(name, spec, values[0] as string));
      } else if (carried) {
        if (!(kind === 'bool' && negated)) notTranslated.push({ item: display, reason: carried.reason });
      } else {
        notTranslated.push({
          item: display,
          reason: "unknown to this converter: not carried over; add it to the worker args by hand if Dynamo's vLLM worker accepts it",
        });
      }
    }
  };

  // Command-line flags override the --config file: read the config first, then the command line over it.
  const configIndex = located.args.findIndex((w) => w === '--config' || w.startsWith('--config='));
  if (configIndex !== -1) {
    const word = located.args[configIndex] as string;
    const path = word.includes('=') ? word.slice(word.indexOf('=') + 1) : located.args[configIndex + 1];
    if (path === undefined || path === '') throw new ConvertError('--config: needs a file');
    consume(configYamlToArgs(readConfig(path), path), true);
  }
  consume(located.args, false);

  const flagModel = engine.get('model')?.[0];
  if (located.positionalModel !== null && flagModel !== undefined && flagModel !== located.positionalModel) {
    throw new ConvertError(`two models given: "${located.positionalModel}" after "vllm serve" and "--model ${flagModel}"; keep one`);
  }
  const model = located.positionalModel ?? flagModel;
  if (model === undefined) throw new ConvertError('no model: give it as "vllm serve MODEL" or "--model MODEL"');
  engine.set('model', [model]);

  const engineArgs: VllmServeConfig['engineArgs'] = [];
  for (const name of Object.keys(ENGINE_FLAGS)) {
    const values = engine.get(name);
    if (values === undefined) continue;
    const spec = ENGINE_FLAGS[name];
    if (spec?.kind === 'bool') {
      if (values[0] === 'true') engineArgs.push({ flag: `--${name}`, values: [] });
      else if (!spec.offByDefault) engineArgs.push({ flag: `--no-${name}`, values: [] });
    } else {
      engineArgs.push({ flag: `--${name}`, values });
    }
  }
  const prefix = engine.get('enable-prefix-caching')?.[0];
  return {
    model,
    engineArgs,
    tensorParallel: Number(engine.get('tensor-parallel-size')?.[0] ?? 1),
    pipelineParallel: Number(engine.get('pipeline-parallel-size')?.[0] ?? 1),
    dataParallel: Number(shape.get('data-parallel-size') ?? 1),
    prefixCaching: prefix === undefined ? null : prefix === 'true',
    env,
    notTranslated,
    source: sourceParts.join(' '),
  };
}
