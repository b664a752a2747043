// `npm run k6:manifest`: a distributed k6 run on Kubernetes with the k6-operator. Writes a run
// folder holding two ConfigMaps (the k6 bundle + script config; the resolved workload: each has
// its own 1 MiB limit) and a k6-operator TestRun with `parallelism` runners; each runner gets an
// equal execution segment and k6 stripes the request indices across them. Afterwards, `--collect` turns the runners' pod logs
// into records.jsonl + run.json of the same folder, ready for `npm run analyze`.
//
//   npm run k6:manifest -- --baseline http://vllm:8000 --candidate http://dynamo:8000 --qps 400 --parallelism 4
//   kubectl create -f results/<run-id>/testrun.yaml      (apply refuses ConfigMaps over 256 KiB)
//   for p in $(kubectl get pods -l k6_cr=<name>,runner=true -o name); do kubectl logs "$p" > "results/<run-id>/${p#pod/}.log"; done
//   (printed by podLogsLoop; `kubectl logs -l` would give only the last 10 lines per pod, interleaved)
//   npm run k6:manifest -- --collect results/<run-id> results/<run-id>/*.log && npm run analyze -- results/<run-id>
import { mkdtempSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { stringify } from 'yaml';
import { RECORD_SCHEMA_VERSION } from '../core/record.ts';
import type { StoredRunManifest } from '../core/run.ts';
import { loadRunManifest } from '../engine/config.ts';
import { convertK6Console, droppedIterations, k6Warnings } from '../k6/collect.ts';
import { checkRunFolder, createRunFolder, readRunManifest, writeFileAtomic, writeRunManifest } from '../io/run-folder.ts';
import { buildK6 } from '../k6/build.ts';
import { checkK6Config, K6ConfigError, type K6ScriptConfig } from '../k6/script/config.ts';
import { RULES_NOT_IN_K6 } from '../k6/script/thresholds.ts';
import { checkK6Mode, K6_OPTIONS } from './k6-options.ts';
import { loadGates } from '../pipeline/analyze-folder.ts';
import { k6ScriptConfig, resolvedWorkloadJsonl } from './load-k6.ts';
import { LOAD_OPTIONS, resolveConfig } from './load.ts';
import { formatHelp, num, parseOptions, pickOptions, str, UsageError } from '../core/options.ts';
import { DNS1123_LABEL, MAX_LABEL } from '../migrate/k8s-names.ts';

/** The load flags a manifest shares with `load` (same declarations; the URLs are its own, see below). */
const SHARED_LOAD_OPTIONS = pickOptions(LOAD_OPTIONS, [
  'model',
  'baselineModel',
  'candidateModel',
  'baselineRepeat',
  'workload',
  'format',
  'sample',
  'order',
  'qps',
  'duration',
  'requests',
  'warmup',
  'timeout',
  'stream',
  'seed',
  'out',
  'force',
]);

/** The default runner image: stock k6, which fetches xk6-sse itself when a streaming script starts. */
export const STOCK_K6_IMAGE = 'grafana/k6:latest';
/**
 * Checks --name / --namespace as Kubernetes object names (a DNS-1123 label, migrate/k8s-names.ts: what
 * a namespace must be, and the strictest rule among the TestRun and its ConfigMaps); `room` is what
 * the name must leave for suffixes (-script, -workload).
 */
export function checkKubernetesName(flag: string, value: string, room = 0): void {
  const max = MAX_LABEL - room;
  if (!DNS1123_LABEL.test(value) || value.length > max)
    throw new UsageError(
      `${flag}: got ${JSON.stringify(value)}; expected a Kubernetes name (DNS-1123 label): lower-case letters, digits and '-', starting and ending with a letter or digit, at most ${max} characters${room > 0 ? ` (its ConfigMaps add -workload)` : ''}`,
    );
}

export const K6_MANIFEST_OPTIONS = {
  // Not load's declarations: a manifest starts no simulated endpoints, so both URLs are required.
  baseline: str({
    meta: 'URL',
    help: 'baseline base URL as the runner pods reach it (e.g. http://vllm.llm.svc:8000); required unless --collect',
  }),
  candidate: str({ meta: 'URL', help: 'candidate base URL as the runner pods reach it; required unless --collect' }),
  ...SHARED_LOAD_OPTIONS,
  ...K6_OPTIONS,
  parallelism: num({ default: 2, integer: true, min: 1, max: 1000, help: 'k6 runner pods (each runs an equal execution segment)' }),
  name: str({ meta: 'NAME', help: 'TestRun name; its ConfigMaps are <NAME>-script and <NAME>-workload [default shadowbench-<run-id>]' }),
  namespace: str({ meta: 'NS', help: "Kubernetes namespace of the TestRun and its ConfigMaps [default: kubectl's]" }),
  runnerImage: str({
    default: STOCK_K6_IMAGE,
    meta: 'IMAGE',
    help: 'image of the runner and initializer pods: stock k6 resolves k6/x/sse at run time (the pods need network); for pods without it, an image built from k6/Dockerfile (k6 with xk6-sse compiled in, see k6/README.md)',
  }),
  image: str({ meta: 'IMAGE', help: 'older spelling of --runner-image' }),
  headersSecret: str({
    meta: 'SECRET',
    help: 'Secret whose key SB_HEADERS holds {"<arm>": {"<header>": "<value>"}} (API keys never go into the manifest)',
  }),
  gates: str({ meta: 'FILE', help: 'gates file whose absolute rules become k6 thresholds [default: built-in gates]' }),
  collect: str({
    meta: 'DIR',
    help: 'instead of writing a manifest: convert the runner logs given as arguments into DIR/records.jsonl and DIR/run.json',
  }),
};

/** Mount point of the script ConfigMap in k6-operator runner (and initializer) pods: the operator's own. */
const SCRIPT_MOUNT = '/test';
/** Mount point of the workload ConfigMap: a volume of our own, added to the runner pod spec. */
const WORKLOAD_MOUNT = '/workload';
const WORKLOAD_VOLUME = 'shadowbench-workload';
/** The loop that saves one log file per runner pod (`kubectl logs -l` would give only the last 10 lines of each, interleaved). */
export function podLogsLoop(name: string, runDir: string, namespace?: string): string {
  const ns = namespace === undefined ? '' : ` -n ${namespace}`;
  return `for p in $(kubectl get pods${ns} -l k6_cr=${name},runner=true -o name); do kubectl logs${ns} "$p" > "${runDir}/\${p#pod/}.log"; done`;
}

/** Kubernetes refuses a ConfigMap whose data values add up to more than 1 MiB. */
export const CONFIGMAP_LIMIT = 1_048_576;

export interface ManifestInput {
  name: string;
  namespace: string | undefined;
  parallelism: number;
  image: string;
  headersSecret: string | undefined;
  bundle: string;
  workloadJsonl: string;
  configJson: string;
  /** The --workload file the JSONL was resolved from, named when it does not fit. */
  workloadSource: string;
}

/** Paths the script reads inside the pods (SB_CONFIG_FILE and the config's workload_file). */
export const POD_FILES = { config: `${SCRIPT_MOUNT}/config.json`, workload: `${WORKLOAD_MOUNT}/workload.jsonl` };

/**
 * Two ConfigMaps and the TestRun (k6.io/v1alpha1), as one multi-document YAML. The script and its
 * config go in `<name>-script` (the operator mounts it at /test); the workload goes in its own
 * `<name>-workload`, mounted through the runner's (and the initializer's) volumes / volumeMounts.
 * Each ConfigMap has its own 1 MiB.
 */
export function manifestYaml(input: ManifestInput): string {
  const metadata = (name: string) => ({ name, ...(input.namespace !== undefined && { namespace: input.namespace }) });
  const configMap = (name: string, data: Record<string, string>) => ({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: metadata(name),
    data,
  });
  const scriptMapName = `${input.name}-script`;
  const workloadMapName = `${input.name}-workload`;
  const bundleBytes = Buffer.byteLength(input.bundle);
  const configBytes = Buffer.byteLength(input.configJson);
  if (bundleBytes + configBytes > CONFIGMAP_LIMIT) {
    throw new UsageError(
      `ConfigMap ${scriptMapName} would hold ${bundleBytes + configBytes} bytes (k6 bundle ${bundleBytes} + config ${configBytes}; Kubernetes allows ${CONFIGMAP_LIMIT}): ` +
        'the bundle itself is too large for a ConfigMap; serve the script from a volumeClaim (k6/README.md)',
    );
  }
  const workloadBytes = Buffer.byteLength(input.workloadJsonl);
  if (workloadBytes > CONFIGMAP_LIMIT) {
    const items = input.workloadJsonl.split('\n').filter((line) => line !== '').length;
    // Items vary in size, so the fitting count is an estimate from the mean item size, with 5 % room.
    const fitting = Math.floor((items * CONFIGMAP_LIMIT * 0.95) / workloadBytes);
    const advice =
      fitting >= 1
        ? `use --sample ${fitting} (about that many of its ${items} items fit) or a smaller workload`
        : 'use a workload with shorter items';
    throw new UsageError(
      `--workload ${input.workloadSource}: the resolved workload is ${workloadBytes} bytes, more than one ConfigMap (${workloadMapName}) may hold (Kubernetes allows ${CONFIGMAP_LIMIT}); ${advice}`,
    );
  }
  const env: Array<Record<string, unknown>> = [{ name: 'SB_CONFIG_FILE', value: POD_FILES.config }];
  if (input.headersSecret !== undefined)
    env.push({ name: 'SB_HEADERS', valueFrom: { secretKeyRef: { name: input.headersSecret, key: 'SB_HEADERS' } } });
  // A fresh object per use: the YAML writer would turn a shared one into an anchor and alias.
  const pod = () => ({
    image: input.image,
    env: structuredClone(env),
    volumes: [{ name: WORKLOAD_VOLUME, configMap: { name: workloadMapName } }],
    volumeMounts: [{ name: WORKLOAD_VOLUME, mountPath: WORKLOAD_MOUNT, readOnly: true }],
  });
  const testRun = {
    apiVersion: 'k6.io/v1alpha1',
    kind: 'TestRun',
    metadata: metadata(input.name),
    spec: {
      parallelism: input.parallelism,
      script: { configMap: { name: scriptMapName, file: 'shadow.js' } },
      // Records are console.log lines: raw, on the pod's stdout, collected with kubectl logs.
      arguments: '--no-usage-report --console-output /dev/stdout --log-format raw --quiet',
      runner: pod(),
      // The initializer runs the script's init code (k6 archive / inspect), which reads the config
      // and the workload: it needs the same env and volume. Current operators copy the runner's
      // spec when this is absent; older ones gave it neither, so it is spelled out.
      initializer: pod(),
    },
  };
  const scriptMap = configMap(scriptMapName, { 'shadow.js': input.bundle, 'config.json': input.configJson });
  const workloadMap = configMap(workloadMapName, { 'workload.jsonl': input.workloadJsonl });
  return [scriptMap, workloadMap, testRun].map((doc) => stringify(doc, { lineWidth: 0 })).join('---\n');
}

/** The run folder k6:manifest wrote, read back: its script config and run.json; a clear error otherwise. */
function readRunFolder(dir: string, runDir: string): { config: K6ScriptConfig; base: StoredRunManifest } {
  const expected = 'the run folder k6:manifest wrote (it holds testrun.yaml, k6-config.json and run.json)';
  if (!statSync(runDir, { throwIfNoEntry: false })?.isDirectory()) throw new UsageError(`--collect ${dir}: not a folder; give ${expected}`);
  const read = (file: string): unknown => {
    const path = join(runDir, file);
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') throw new UsageError(`--collect ${dir}: no ${file} in it; give ${expected}`);
      throw new UsageError(`--collect ${dir}: ${path}: cannot read (${code ?? (error as Error).message}); give ${expected}`);
    }
    try {
      return JSON.parse(text);
    } catch (error) {
      throw new UsageError(`--collect ${dir}: ${path} is not valid JSON (${(error as Error).message}); give ${expected}`);
    }
  };
  let config: K6ScriptConfig;
  try {
    config = checkK6Config(read('k6-config.json'));
  } catch (error) {
    if (error instanceof K6ConfigError) throw new UsageError(`--collect ${dir}: ${join(runDir, 'k6-config.json')}: ${error.message}`);
    throw error;
  }
  let base: StoredRunManifest | null;
  try {
    base = readRunManifest(runDir);
  } catch (error) {
    if (error instanceof UsageError) throw new UsageError(`--collect ${dir}: ${error.message}`);
    throw error;
  }
  if (base === null) throw new UsageError(`--collect ${dir}: no run.json in it; give ${expected}`);
  return { config, base };
}

async function collect(dir: string, logs: string[]): Promise<number> {
  if (logs.length === 0) throw new UsageError('--collect: give the runner pod logs as arguments (kubectl logs <pod> > file)');
  const runDir = resolve(dir);
  const { config, base } = readRunFolder(dir, runDir);
  for (const log of logs) {
    if (!statSync(log, { throwIfNoEntry: false })?.isFile())
      throw new UsageError(`--collect: ${log} is not a file; give the runner pods' logs (kubectl logs <pod> > file)`);
  }
  // Records go to a temporary file first: records.jsonl appears only when the logs held records.
  const recordsFile = join(runDir, 'records.jsonl');
  const partial = `${recordsFile}.tmp`;
  let converted: Awaited<ReturnType<typeof convertK6Console>>;
  try {
    converted = await convertK6Console(logs, partial);
    if (converted.records === 0) {
      const lines = Object.values(converted.ignoredLines).reduce((a, b) => a + b, 0);
      throw new UsageError(
        `--collect: no records found in ${logs.join(', ')} (${lines} other lines, ${converted.summaries.length} runner summaries); ` +
          'give the logs of the runner pods (label runner=true) saved with kubectl logs once the TestRun has finished',
      );
    }
    renameSync(partial, recordsFile);
  } finally {
    rmSync(partial, { force: true });
  }
  const dropped = droppedIterations(converted.summaries);
  const manifest: StoredRunManifest = {
    ...base,
    // The runners' logs are the whole run: planned requests missing from them are counted (not_sent) by the analysis.
    status: 'complete',
    started_at:
      converted.originUnixMs === null ? (base.started_at ?? new Date().toISOString()) : new Date(converted.originUnixMs).toISOString(),
    ended_at: new Date().toISOString(),
    warnings: [
      ...base.warnings,
      ...k6Warnings(converted),
      `k6 thresholds cover the absolute gates only; ${RULES_NOT_IN_K6.join(', ')} are decided by the analysis alone`,
    ],
    dropped_iterations: dropped?.total ?? null,
    k6: {
      records: converted.records,
      // Requests due per arm over the runners (started + dropped): planned − records = never recorded.
      planned: converted.planned,
      ignored_console_lines: converted.ignoredLines,
      instances: converted.metas,
      summaries: converted.summaries,
      parallelism_logs: logs.length,
    },
  };
  writeRunManifest(runDir, manifest);
  process.stderr.write(
    `shadowbench: ${converted.records} records from ${logs.length} runner logs (${config.run_id}) → ${recordsFile}; analyse with: npm run analyze -- ${dir}\n`,
  );
  return 0;
}

/** The k6 bundle's text, built in a temporary folder that is removed again. */
async function bundleText(): Promise<string> {
  const outdir = mkdtempSync(join(tmpdir(), 'shadowbench-k6-bundle-'));
  try {
    const [file] = await buildK6({ outdir });
    return readFileSync(file!, 'utf8');
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}

export async function run(argv: string[], env: Record<string, string | undefined> = process.env): Promise<number> {
  if (argv.includes('--help')) {
    process.stdout.write(
      formatHelp(
        'npm run k6:manifest -- --baseline URL --candidate URL [options]',
        "Writes a k6-operator TestRun and two ConfigMaps (k6 bundle + config; resolved workload, each at most 1 MiB)\nfor a distributed run against the two endpoints the runner pods reach (both URLs are required: no simulated\nendpoints are started), or with --collect DIR converts the runners' logs into that run folder.",
        K6_MANIFEST_OPTIONS,
      ),
    );
    return 0;
  }
  const { values: v, positionals, explicit } = parseOptions(K6_MANIFEST_OPTIONS, argv, env);
  if (v.collect !== undefined) return collect(v.collect, positionals);
  if (positionals.length > 0) throw new UsageError(`unexpected argument ${positionals[0]} (only --collect takes files)`);
  if (v.baseline === undefined || v.candidate === undefined)
    throw new UsageError('--baseline and --candidate: both URLs are needed (the pods must reach them)');
  checkK6Mode(v, explicit);
  if (v.name !== undefined) checkKubernetesName('--name', v.name, '-workload'.length);
  if (v.namespace !== undefined) checkKubernetesName('--namespace', v.namespace);
  if (v.out !== undefined) checkRunFolder(v.out, { flag: '--out', force: v.force });
  const loadValues = {
    ...Object.fromEntries(Object.entries(LOAD_OPTIONS).map(([k, o]) => [k, o.default])),
    ...v,
    arrival: 'constant',
    engine: 'k6',
    header: [],
    baselineHeader: [],
    candidateHeader: [],
    preflight: false,
    progress: false,
    analyze: false,
    workers: 0,
  };
  // resolveConfig turns the k6 flags into the script's settings exactly as for `load --engine k6`.
  const config = await resolveConfig(
    loadValues as never,
    explicit as never,
    {},
    { baseline: v.baseline, candidate: v.candidate, baselineProfile: null, candidateProfile: null },
  );
  // API keys from the environment would be baked nowhere: say so rather than drop them silently.
  if (env.BASELINE_API_KEY || env.CANDIDATE_API_KEY)
    process.stderr.write(
      'shadowbench: BASELINE_API_KEY / CANDIDATE_API_KEY are not put in the manifest; store headers in a Secret and pass --headers-secret\n',
    );
  const scriptConfig = k6ScriptConfig(config, { workloadFile: POD_FILES.workload, summaryFile: null }, await loadGates(v.gates));
  const name =
    v.name ??
    `shadowbench-${config.runId}`
      .toLowerCase()
      .replace(/[^a-z0-9-]/g, '-')
      .slice(0, 52);
  const configJson = JSON.stringify(scriptConfig, null, 2) + '\n';
  if (v.image !== undefined && explicit.has('runnerImage') && v.image !== v.runnerImage)
    throw new UsageError(`--image ${v.image} and --runner-image ${v.runnerImage}: give one (--image is the older spelling)`);
  const image = v.image ?? v.runnerImage;
  // Everything is built (and checked against the ConfigMap limit) before the run folder exists, so
  // a refused manifest leaves nothing behind; the bundle goes to a temporary folder.
  const yaml = manifestYaml({
    name,
    namespace: v.namespace,
    parallelism: v.parallelism,
    image,
    headersSecret: v.headersSecret,
    bundle: await bundleText(),
    workloadJsonl: resolvedWorkloadJsonl(config.workload),
    configJson,
    workloadSource: config.workloadPath,
  });
  const runDir = resolve(config.runDir);
  // The run starts when the TestRun is created: run.json says `running` (with the planned requests per
  // arm) until --collect marks it complete; analysed before that, it is an incomplete run.
  const manifest = loadRunManifest(config, {
    status: 'running',
    started_at: new Date().toISOString(),
    ended_at: null,
    engine: 'k6',
    config: { ...config.options, k6: { ...scriptConfig, parallelism: v.parallelism, testrun: name } },
    versions: { node: process.version, record_schema: String(RECORD_SCHEMA_VERSION) },
    interrupted: null,
  });
  // One run per folder: taken exclusively (another k6:manifest on the same --out is refused unless --force).
  const folder = createRunFolder(runDir, { flag: '--out', force: v.force });
  try {
    writeFileAtomic(join(runDir, 'testrun.yaml'), yaml);
    writeFileAtomic(join(runDir, 'k6-config.json'), configJson);
    writeRunManifest(runDir, manifest);
  } finally {
    folder.release();
  }
  process.stdout.write(
    `${join(runDir, 'testrun.yaml')}\n` +
      `  kubectl create -f ${join(config.runDir, 'testrun.yaml')}   (create, not apply: client-side apply refuses ConfigMaps over 256 KiB)\n` +
      `  when the TestRun has finished, save one log per runner pod:\n` +
      `  ${podLogsLoop(name, config.runDir, v.namespace)}\n` +
      `  npm run k6:manifest -- --collect ${config.runDir} ${config.runDir}/*.log\n` +
      (image === STOCK_K6_IMAGE && scriptConfig.mode === 'sse'
        ? `  runner image ${image}: stock k6 fetches xk6-sse when the test starts, so the pods need network; without it, build k6/Dockerfile and pass --runner-image\n`
        : ''),
  );
  return 0;
}
