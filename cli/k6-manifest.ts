// `npm run k6:manifest`: a distributed k6 run on Kubernetes with the k6-operator. Writes a run
// folder holding a ConfigMap (the k6 bundle, the resolved workload and the script config) and a
// k6-operator TestRun with `parallelism` runners; each runner gets an equal execution segment and
// k6 stripes the request indices across them. Afterwards, `--collect` turns the runners' pod logs
// into records.jsonl + run.json of the same folder, ready for `npm run analyze`.
//
//   npm run k6:manifest -- --baseline http://vllm:8000 --candidate http://dynamo:8000 --qps 400 --parallelism 4
//   kubectl apply -f results/<run-id>/testrun.yaml
//   for p in $(kubectl get pods -l k6_cr=<name>,runner=true -o name); do kubectl logs $p > results/<run-id>/${p#pod/}.log; done
//   npm run k6:manifest -- --collect results/<run-id> results/<run-id>/*.log && npm run analyze -- results/<run-id>
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { stringify } from 'yaml';
import { RECORD_SCHEMA_VERSION } from '../core/record.ts';
import type { RunManifest } from '../core/run.ts';
import { loadRunManifest } from '../engine/config.ts';
import { convertK6Console, droppedIterations, k6Warnings } from '../io/k6-records.ts';
import { buildK6 } from '../scripts/build.ts';
import { checkK6Config } from '../scripts/config.ts';
import { RULES_NOT_IN_K6 } from '../scripts/thresholds.ts';
import { checkK6Mode, K6_OPTIONS } from './k6-options.ts';
import { k6ScriptConfig, loadGates, resolvedWorkloadJsonl } from './load-k6.ts';
import { LOAD_OPTIONS, resolveConfig } from './load.ts';
import { formatHelp, num, parseOptions, str, UsageError } from './options.ts';

const { baseline, candidate, model, baselineModel, candidateModel, baselineRepeat, workload, format, sample, order, qps, duration, requests, warmup, timeout, stream, seed, out } = LOAD_OPTIONS;

export const K6_MANIFEST_OPTIONS = {
  baseline, candidate, model, baselineModel, candidateModel, baselineRepeat, workload, format, sample, order, qps, duration, requests, warmup, timeout, stream, seed, out,
  ...K6_OPTIONS,
  parallelism: num({ default: 2, integer: true, min: 1, max: 1000, help: 'k6 runner pods (each runs an equal execution segment)' }),
  name: str({ meta: 'NAME', help: 'TestRun and ConfigMap name [default shadowbench-<run-id>]' }),
  namespace: str({ meta: 'NS', help: 'Kubernetes namespace of both objects [default: kubectl\'s]' }),
  image: str({ default: 'grafana/k6:latest', meta: 'IMAGE', help: 'runner image: k6 ≥ 1.2 (resolves k6/x/sse itself when the pod has network) or a build with xk6-sse' }),
  headersSecret: str({ meta: 'SECRET', help: 'Secret whose key SB_HEADERS holds {"<arm>": {"<header>": "<value>"}} (API keys never go into the manifest)' }),
  gates: str({ meta: 'FILE', help: 'gates file whose absolute rules become k6 thresholds [default: built-in gates]' }),
  collect: str({ meta: 'DIR', help: 'instead of writing a manifest: convert the runner logs given as arguments into DIR/records.jsonl and DIR/run.json' }),
};

/** Mount point of the script ConfigMap in k6-operator runner pods. */
const MOUNT = '/test';
/** Kubernetes refuses ConfigMaps over 1 MiB. */
const CONFIGMAP_LIMIT = 1_048_576;

export interface ManifestInput {
  name: string;
  namespace: string | undefined;
  parallelism: number;
  image: string;
  headersSecret: string | undefined;
  bundle: string;
  workloadJsonl: string;
  configJson: string;
}

/** The ConfigMap and TestRun documents (k6.io/v1alpha1), as one multi-document YAML. */
export function manifestYaml(input: ManifestInput): string {
  const metadata = (name: string) => ({ name, ...(input.namespace !== undefined && { namespace: input.namespace }) });
  const configMap = {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: metadata(`${input.name}-script`),
    data: { 'shadow.js': input.bundle, 'workload.jsonl': input.workloadJsonl, 'config.json': input.configJson },
  };
  const env: Array<Record<string, unknown>> = [{ name: 'SB_CONFIG_FILE', value: `${MOUNT}/config.json` }];
  if (input.headersSecret !== undefined) env.push({ name: 'SB_HEADERS', valueFrom: { secretKeyRef: { name: input.headersSecret, key: 'SB_HEADERS' } } });
  const testRun = {
    apiVersion: 'k6.io/v1alpha1',
    kind: 'TestRun',
    metadata: metadata(input.name),
    spec: {
      parallelism: input.parallelism,
      script: { configMap: { name: `${input.name}-script`, file: 'shadow.js' } },
      // Records are console.log lines: raw, on the pod's stdout, collected with kubectl logs.
      arguments: '--no-usage-report --console-output /dev/stdout --log-format raw --quiet',
      runner: { image: input.image, env },
    },
  };
  const size = Buffer.byteLength(input.bundle) + Buffer.byteLength(input.workloadJsonl) + Buffer.byteLength(input.configJson);
  if (size > CONFIGMAP_LIMIT) {
    throw new UsageError(`--workload: the ConfigMap would hold ${size} bytes (Kubernetes allows ${CONFIGMAP_LIMIT}); use --sample, or serve the files from a volumeClaim (scripts/README.md)`);
  }
  return `${stringify(configMap, { lineWidth: 0 })}---\n${stringify(testRun, { lineWidth: 0 })}`;
}

async function collect(dir: string, logs: string[]): Promise<number> {
  if (logs.length === 0) throw new UsageError('--collect: give the runner pod logs as arguments (kubectl logs <pod> > file)');
  const runDir = resolve(dir);
  const config = checkK6Config(JSON.parse(readFileSync(join(runDir, 'k6-config.json'), 'utf8')));
  const base = JSON.parse(readFileSync(join(runDir, 'run.json'), 'utf8')) as RunManifest;
  const converted = await convertK6Console(logs, join(runDir, 'records.jsonl'));
  const dropped = droppedIterations(converted.summaries);
  const manifest = {
    ...base,
    started_at: converted.originUnixMs === null ? base.started_at : new Date(converted.originUnixMs).toISOString(),
    ended_at: new Date().toISOString(),
    warnings: [...base.warnings, ...k6Warnings(converted), `k6 thresholds cover the absolute gates only; ${RULES_NOT_IN_K6.join(', ')} are decided by the analysis alone`],
    dropped_iterations: dropped?.total ?? null,
    k6: { records: converted.records, ignored_console_lines: converted.ignoredLines, instances: converted.metas, summaries: converted.summaries, parallelism_logs: logs.length },
  };
  writeFileSync(join(runDir, 'run.json.tmp'), JSON.stringify(manifest, null, 2) + '\n');
  renameSync(join(runDir, 'run.json.tmp'), join(runDir, 'run.json'));
  process.stderr.write(`shadowbench: ${converted.records} records from ${logs.length} runner logs (${config.run_id}) → ${join(runDir, 'records.jsonl')}; analyse with: npm run analyze -- ${dir}\n`);
  return converted.records === 0 ? 2 : 0;
}

export async function run(argv: string[], env: Record<string, string | undefined> = process.env): Promise<number> {
  if (argv.includes('--help')) {
    process.stdout.write(formatHelp('npm run k6:manifest -- --baseline URL --candidate URL [options]', 'Writes a k6-operator TestRun (+ ConfigMap of the k6 bundle, workload and config) for a distributed run,\nor with --collect converts the runners\' logs into the run folder.', K6_MANIFEST_OPTIONS));
    return 0;
  }
  const { values: v, positionals, explicit } = parseOptions(K6_MANIFEST_OPTIONS, argv, env);
  if (v.collect !== undefined) return collect(v.collect, positionals);
  if (positionals.length > 0) throw new UsageError(`unexpected argument ${positionals[0]} (only --collect takes files)`);
  if (v.baseline === undefined || v.candidate === undefined) throw new UsageError('--baseline and --candidate: both URLs are needed (the pods must reach them)');
  checkK6Mode(v, explicit);
  const loadValues = { ...Object.fromEntries(Object.entries(LOAD_OPTIONS).map(([k, o]) => [k, o.default])), ...v, arrival: 'constant', engine: 'k6', header: [], baselineHeader: [], candidateHeader: [], preflight: false, progress: false, analyze: false, workers: 0 };
  // resolveConfig turns the k6 flags into the script's settings exactly as for `load --engine k6`.
  const config = await resolveConfig(loadValues as never, explicit as never, {}, { baseline: v.baseline, candidate: v.candidate, baselineProfile: null, candidateProfile: null });
  // API keys from the environment would be baked nowhere: say so rather than drop them silently.
  if (env.BASELINE_API_KEY || env.CANDIDATE_API_KEY) process.stderr.write('shadowbench: BASELINE_API_KEY / CANDIDATE_API_KEY are not put in the manifest; store headers in a Secret and pass --headers-secret\n');
  if (v.gates !== undefined) config.options = { ...config.options, gates: v.gates };
  const scriptConfig = k6ScriptConfig(config, { workloadFile: `${MOUNT}/workload.jsonl`, summaryFile: null }, loadGates(config));
  const runDir = resolve(config.runDir);
  mkdirSync(runDir, { recursive: true });
  const [bundleFile] = await buildK6({ outdir: join(runDir, 'k6-bundle') });
  const name = v.name ?? `shadowbench-${config.runId}`.toLowerCase().replace(/[^a-z0-9-]/g, '-').slice(0, 52);
  const configJson = JSON.stringify(scriptConfig, null, 2) + '\n';
  const yaml = manifestYaml({
    name,
    namespace: v.namespace,
    parallelism: v.parallelism,
    image: v.image,
    headersSecret: v.headersSecret,
    bundle: readFileSync(bundleFile!, 'utf8'),
    workloadJsonl: resolvedWorkloadJsonl(config.workload),
    configJson,
  });
  writeFileSync(join(runDir, 'testrun.yaml'), yaml);
  writeFileSync(join(runDir, 'k6-config.json'), configJson);
  const manifest = loadRunManifest(config, {
    started_at: new Date().toISOString(),
    ended_at: null,
    engine: 'k6',
    config: { ...config.options, k6: { ...scriptConfig, parallelism: v.parallelism, testrun: name } },
    versions: { node: process.version, record_schema: String(RECORD_SCHEMA_VERSION) },
    interrupted: null,
  });
  writeFileSync(join(runDir, 'run.json'), JSON.stringify(manifest, null, 2) + '\n');
  process.stdout.write(
    `${join(runDir, 'testrun.yaml')}\n` +
      `  kubectl apply -f ${join(config.runDir, 'testrun.yaml')}\n` +
      `  then save each runner's log (kubectl logs -l k6_cr=${name},runner=true gives them; one file per pod) and run\n` +
      `  npm run k6:manifest -- --collect ${config.runDir} <pod logs...>\n`,
  );
  return 0;
}
