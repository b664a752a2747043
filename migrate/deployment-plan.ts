// What every target shares: the deployment's shape read from a vLLM command (GPUs per pod, nodes,
// replicas, data / expert parallelism, the served name, the model's size and cache volume), and
// the YAML header that lists what changed and what was dropped, each with its reason.
import { Document } from 'yaml';
import type { Outcome, VllmServeConfig } from './vllm-command.ts';
import { CACHE_ADVISED_GB, estimateModelSize, type SizeEstimate } from './model-size.ts';

export type Strategy = 'colocated' | 'disaggregated';
export const STRATEGIES: readonly Strategy[] = ['colocated', 'disaggregated'];
export type Target = 'dynamo' | 'llm-d';
export const TARGETS: readonly Target[] = ['dynamo', 'llm-d'];
/** `1.4` = Dynamo 1.x (nvidia.com/v1beta1, the default); `0.6` = Dynamo 0.6.x (nvidia.com/v1alpha1). */
export type DynamoVersion = '1.4' | '0.6';
export const DYNAMO_VERSIONS: readonly DynamoVersion[] = ['1.4', '0.6'];

export interface ConvertOptions {
  strategy: Strategy;
  target?: Target;
  dynamoVersion?: DynamoVersion;
  /** metadata.name / fullnameOverride; default derived from the model (`llama-3-1-8b-instruct-agg`). */
  name?: string;
  /** The whole image reference; default the target's image. */
  image?: string;
  /** Only the tag of the default image. */
  imageTag?: string;
  /** GPUs on one node: a worker needing more spans several nodes. */
  gpusPerNode?: number;
  /** An existing PersistentVolumeClaim holding the Hugging Face cache, mounted in the workers. */
  modelCachePvc?: string;
}

export interface Conversion {
  yaml: string;
  /** Lines for stderr: what was dropped or changed, and decisions the user should review. */
  warnings: string[];
  /** GPUs one model replica uses (one worker pod, or one multi-node worker group). */
  gpusPerWorker: number;
  /** metadata.name or the chart's fullname. */
  name: string;
  /** The name clients send as `model` (the first --served-model-name, else the model id). */
  servedModelName: string;
  changed: Outcome[];
  dropped: Outcome[];
}

export interface DeploymentPlan {
  /** GPUs of one model replica: tensor × pipeline (× data, when data-parallel ranks share experts). */
  gpusPerWorker: number;
  nodeCount: number;
  /** GPUs requested by each pod. */
  gpusPerPod: number;
  /** Worker pods (or groups) per pool: dense data parallelism becomes replicas. */
  replicas: number;
  /** Dense data parallel (no expert parallelism): ranks are independent replicas. */
  denseDataParallel: boolean;
  servedModelName: string;
  size: SizeEstimate | null;
  notes: string[];
  warnings: string[];
}

const lastValue = (config: VllmServeConfig, name: string) => config.flags.filter((f) => f.name === name).pop()?.values[0];

export function planDeployment(config: VllmServeConfig, options: ConvertOptions): DeploymentPlan {
  const gpusPerNode = options.gpusPerNode ?? 8;
  const notes: string[] = [];
  const warnings: string[] = [];
  const denseDataParallel = config.dataParallel > 1 && !config.expertParallel;
  const gpusPerWorker = config.tensorParallel * config.pipelineParallel * (config.expertParallel ? config.dataParallel : 1);
  const nodeCount = Math.ceil(gpusPerWorker / gpusPerNode);
  const gpusPerPod = nodeCount > 1 ? gpusPerNode : gpusPerWorker;
  if (nodeCount > 1) {
    notes.push(`a worker needs ${gpusPerWorker} GPUs (> ${gpusPerNode} per node): ${nodeCount} nodes, ${gpusPerPod} GPUs each`);
    if (gpusPerWorker % gpusPerNode !== 0)
      warnings.push(
        `${gpusPerWorker} GPUs per worker do not fill ${nodeCount} nodes of ${gpusPerNode} evenly; check the tensor / pipeline split`,
      );
  }
  if (denseDataParallel)
    notes.push(
      `dense data parallel: --data-parallel-size ${config.dataParallel} became ${config.dataParallel} independent worker replicas of ${gpusPerWorker} GPUs each`,
    );
  if (config.expertParallel && config.dataParallel > 1)
    notes.push(
      `expert parallel: the ${config.dataParallel} data-parallel ranks share the MoE experts, so they stay one worker of ${gpusPerWorker} GPUs, not independent replicas`,
    );
  const servedModelName = config.servedNames[0] ?? config.model;
  const size = estimateModelSize(config.model, lastValue(config, 'quantization'), lastValue(config, 'dtype'));
  if (options.modelCachePvc === undefined) {
    if (size === null)
      warnings.push(
        `no model cache volume, and the model's size cannot be estimated from its name: every pod downloads the weights into its own disk; pass --model-cache-pvc NAME if the model is over ${CACHE_ADVISED_GB} GB`,
      );
    else if (size.gigabytes > CACHE_ADVISED_GB)
      warnings.push(
        `no model cache volume: every pod downloads about ${size.gigabytes} GB (estimated from the name: ${size.billions}B parameters × ${size.bytesPerParameter} bytes) into its own disk; pass --model-cache-pvc NAME`,
      );
  }
  if (config.model.startsWith('/') || config.model.startsWith('.'))
    warnings.push(
      `the model is a local path (${config.model}): it must exist inside the container, e.g. on the volume given with --model-cache-pvc`,
    );
  return {
    gpusPerWorker,
    nodeCount,
    gpusPerPod,
    replicas: denseDataParallel ? config.dataParallel : 1,
    denseDataParallel,
    servedModelName,
    size,
    notes,
    warnings,
  };
}

/** The header lines every target states: GPUs per worker and the name clients send. */
export function shapeFacts(config: VllmServeConfig, plan: DeploymentPlan): string[] {
  const ep = config.expertParallel && config.dataParallel > 1 ? ` x data-parallel ${config.dataParallel} (expert parallel)` : '';
  return [
    `GPUs per worker: ${plan.gpusPerWorker} = tensor-parallel ${config.tensorParallel} x pipeline-parallel ${config.pipelineParallel}${ep}.`,
    `Served model name: ${plan.servedModelName} (send it as "model" in requests).`,
  ];
}

/** Ephemeral storage a pod without a cache volume needs for the weights: the estimate plus 20 %, at least 2Gi (Dynamo's examples). */
export function ephemeralStorage(plan: DeploymentPlan, cached: boolean): string {
  if (cached || plan.size === null) return '2Gi';
  return `${Math.max(2, Math.ceil(plan.size.gigabytes * 1.2))}Gi`;
}

export function renderHeader(lines: {
  target: string;
  strategy: string;
  source: string;
  facts: string[];
  notes: string[];
  warnings: string[];
  changed: Outcome[];
  dropped: Outcome[];
}): string {
  const header = [
    ' Generated by shadowbench convert. Review before applying.',
    ` Target: ${lines.target}`,
    ` Strategy: ${lines.strategy}`,
    ` Source: ${lines.source}`,
    ...lines.facts.map((f) => ` ${f}`),
  ];
  for (const note of lines.notes) header.push(` Note: ${note}.`);
  for (const warning of lines.warnings) header.push(` Warning: ${warning}.`);
  if (lines.changed.length === 0) header.push(' Changed: nothing.');
  else {
    header.push(` Changed (${lines.changed.length}):`);
    for (const c of lines.changed) header.push(`   ${c.item} -> ${c.to ?? ''}: ${c.reason}`);
  }
  if (lines.dropped.length === 0) header.push(' Dropped: nothing.');
  else {
    header.push(` Dropped (${lines.dropped.length}), review each:`);
    for (const d of lines.dropped) header.push(`   ${d.item}: ${d.reason}`);
  }
  return header.join('\n');
}

/** The YAML document with its review header, and what the CLI reports beside it: the end of every target's conversion. */
export function conversion(content: unknown, header: Parameters<typeof renderHeader>[0], plan: DeploymentPlan, name: string): Conversion {
  const document = new Document(content);
  document.commentBefore = renderHeader(header);
  return {
    yaml: document.toString({ lineWidth: 0 }),
    warnings: [...header.warnings, ...outcomeWarnings(header.changed, header.dropped)],
    gpusPerWorker: plan.gpusPerWorker,
    name,
    servedModelName: plan.servedModelName,
    changed: header.changed,
    dropped: header.dropped,
  };
}

export function outcomeWarnings(changed: Outcome[], dropped: Outcome[]): string[] {
  return [
    ...changed.map((c) => `changed: ${c.item} -> ${c.to ?? ''} (${c.reason})`),
    ...dropped.map((d) => `dropped: ${d.item} (${d.reason})`),
  ];
}

/** Recursively orders object keys alphabetically (kubectl's output order, as in Dynamo's examples). */
export function sortKeys<T>(value: T): T {
  if (Array.isArray(value)) return value.map((v: unknown) => sortKeys(v)) as T;
  if (value !== null && typeof value === 'object')
    return Object.fromEntries(
      Object.keys(value as Record<string, unknown>)
        .sort()
        .map((k) => [k, sortKeys((value as Record<string, unknown>)[k])]),
    ) as T;
  return value;
}
