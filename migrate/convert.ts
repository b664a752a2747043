// Translates a vLLM serving configuration into an NVIDIA Dynamo DynamoGraphDeployment
// (apiVersion nvidia.com/v1alpha1, vLLM backend): a Frontend plus vLLM workers running
// `python3 -m dynamo.vllm` with the translated engine arguments. Colocated (aggregated) by default,
// as the migration guide advises for a first step; `disaggregated` adds separate prefill and decode
// pools. The YAML is written with the `yaml` library; the header comment lists everything that was
// not translated, with the reason.
import { Document } from 'yaml';
import type { VllmServeConfig } from './vllm-command.ts';

export type Strategy = 'colocated' | 'disaggregated';
export const STRATEGIES: readonly Strategy[] = ['colocated', 'disaggregated'];

/** The Dynamo vLLM runtime image the output names; pin it to the Dynamo release you deploy. */
export const DEFAULT_IMAGE = 'nvcr.io/nvidia/ai-dynamo/vllm-runtime:0.6.1';

export interface ConvertOptions {
  strategy: Strategy;
  /** metadata.name; default derived from the model (`llama-3-1-8b-instruct-agg`). */
  name?: string;
  image?: string;
  /** GPUs on one node: a worker needing more (tensor × pipeline parallel) spans several nodes. */
  gpusPerNode?: number;
}

export interface Conversion {
  yaml: string;
  /** Lines for stderr: what was not translated, and decisions the user should review. */
  warnings: string[];
  gpusPerWorker: number;
}

/** A Kubernetes object name (RFC 1123 label: lower-case alphanumerics and '-', ≤ 63 characters) from a model id. */
export function deploymentName(model: string, strategy: Strategy): string {
  const base = (model.split('/').pop() ?? model)
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 50)
    .replace(/-+$/, '');
  return `${base || 'model'}-${strategy === 'colocated' ? 'agg' : 'disagg'}`;
}

function workerArgs(config: VllmServeConfig): string[] {
  return config.engineArgs.flatMap((a) => [a.flag, ...a.values]);
}

export function convertToDynamo(config: VllmServeConfig, options: ConvertOptions): Conversion {
  const strategy = options.strategy;
  const name = options.name ?? deploymentName(config.model, strategy);
  const image = options.image ?? DEFAULT_IMAGE;
  const gpusPerNode = options.gpusPerNode ?? 8;
  // GPUs per worker = tensor-parallel size × pipeline-parallel size (one model replica)
  const gpusPerWorker = config.tensorParallel * config.pipelineParallel;
  const nodeCount = Math.ceil(gpusPerWorker / gpusPerNode);
  const gpuLimit = nodeCount > 1 ? gpusPerNode : gpusPerWorker;
  const warnings: string[] = [];
  const notes: string[] = [];

  if (nodeCount > 1) {
    notes.push(
      `a worker needs ${gpusPerWorker} GPUs (> ${gpusPerNode} per node): multinode.nodeCount ${nodeCount}, ${gpuLimit} GPUs per node`,
    );
    if (gpusPerWorker % gpusPerNode !== 0)
      warnings.push(
        `${gpusPerWorker} GPUs per worker do not fill ${nodeCount} nodes of ${gpusPerNode} evenly; check the tensor / pipeline split`,
      );
  }
  if (config.dataParallel > 1) notes.push(`--data-parallel-size ${config.dataParallel} became ${config.dataParallel} worker replicas`);
  const kvRouting = config.prefixCaching !== false && (config.dataParallel > 1 || strategy === 'disaggregated');
  if (kvRouting)
    notes.push(
      'KV-aware routing (DYN_ROUTER_MODE=kv) on the Frontend: with several workers it sends requests to the one holding their prefix',
    );
  if (config.prefixCaching === false) notes.push('prefix caching stays off, as in the vLLM command (--no-enable-prefix-caching)');
  if (strategy === 'disaggregated') {
    notes.push(
      'disaggregated: one prefill and one decode pool with the same engine arguments; size the pools from measured prefill / decode load before production',
    );
  }

  const worker = (subComponentType: 'decode' | 'prefill' | null, extraArgs: string[]) => {
    const service: Record<string, unknown> = {
      dynamoNamespace: name,
      envFromSecret: 'hf-token-secret',
      componentType: 'worker',
    };
    if (subComponentType) service.subComponentType = subComponentType;
    service.replicas = config.dataParallel;
    if (nodeCount > 1) service.multinode = { nodeCount };
    service.resources = { limits: { gpu: String(gpuLimit) } };
    if (config.env.length > 0) service.envs = config.env.map((e) => ({ name: e.name, value: e.value }));
    service.extraPodSpec = {
      mainContainer: {
        image,
        workingDir: '/workspace/components/backends/vllm',
        command: ['python3', '-m', 'dynamo.vllm'],
        args: [...workerArgs(config), ...extraArgs],
      },
    };
    return service;
  };

  const frontend: Record<string, unknown> = {
    dynamoNamespace: name,
    componentType: 'frontend',
    replicas: 1,
    extraPodSpec: { mainContainer: { image } },
  };
  if (kvRouting) frontend.envs = [{ name: 'DYN_ROUTER_MODE', value: 'kv' }];

  const services: Record<string, unknown> = { Frontend: frontend };
  if (strategy === 'colocated') {
    services.VllmDecodeWorker = worker(null, []);
  } else {
    services.VllmDecodeWorker = worker('decode', []);
    services.VllmPrefillWorker = worker('prefill', ['--is-prefill-worker']);
  }

  const doc = new Document({
    apiVersion: 'nvidia.com/v1alpha1',
    kind: 'DynamoGraphDeployment',
    metadata: { name },
    spec: { services },
  });

  const header = [
    ' Generated by shadowbench convert. Review before applying.',
    ' Target: NVIDIA Dynamo DynamoGraphDeployment (nvidia.com/v1alpha1), vLLM backend (python3 -m dynamo.vllm).',
    strategy === 'colocated'
      ? ' Strategy: colocated (aggregated): each worker does prefill and decode, as the migration guide advises to start.'
      : ' Strategy: disaggregated: separate prefill (VllmPrefillWorker) and decode (VllmDecodeWorker) pools.',
    ` Source: ${config.source}`,
    ` GPUs per worker: ${gpusPerWorker} = tensor-parallel ${config.tensorParallel} x pipeline-parallel ${config.pipelineParallel}.`,
    ` Image: ${image} (pin it to the Dynamo release you run). HF_TOKEN comes from the Secret hf-token-secret.`,
  ];
  for (const note of notes) header.push(` Note: ${note}.`);
  if (config.notTranslated.length === 0) {
    header.push(' Not translated: nothing.');
  } else {
    header.push(` Not translated (${config.notTranslated.length}), review each:`);
    for (const n of config.notTranslated) header.push(`   ${n.item}: ${n.reason}`);
  }
  doc.commentBefore = header.join('\n');
  for (const n of config.notTranslated) warnings.push(`not translated: ${n.item} (${n.reason})`);
  return { yaml: doc.toString({ lineWidth: 0 }), warnings, gpusPerWorker };
}
