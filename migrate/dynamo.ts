// Translates a vLLM serving command into an NVIDIA Dynamo DynamoGraphDeployment, vLLM backend: a
// Frontend plus workers running `python3 -m dynamo.vllm`, which takes vLLM's engine arguments
// (AsyncEngineArgs) but not vLLM's HTTP-server flags.
//
// Dynamo 1.x (default): nvidia.com/v1beta1, `spec.components` is a list; each component has a
// podTemplate whose container "main" holds image, command, args, env and resources. Disaggregated
// workers take `--disaggregation-mode prefill|decode` and an explicit `--kv-transfer-config`.
// Shapes from Dynamo 1.4's own examples (../shared/specs/dynamo-1.4-vllm-{agg,disagg}-example.yaml)
// and its CRD; flags from ai-dynamo/dynamo components/src/dynamo/vllm/{args,backend_args}.py.
//
// Dynamo 0.6 (--dynamo-version 0.6): nvidia.com/v1alpha1, `spec.services` map with extraPodSpec,
// `--is-prefill-worker`, workingDir /workspace/components/backends/vllm (Dynamo 0.6's examples).
import type { Outcome, VllmServeConfig } from './vllm-command.ts';
import { DYNAMO_SERVES, REASONING_PARSERS, SERVER_FLAGS, TOOL_PARSERS } from './vllm-flags.ts';
import { MAX_DGD_NAME, checkName, nameFromModel } from './k8s-names.ts';
import {
  ephemeralStorage,
  conversion,
  shapeFacts,
  planDeployment,
  sortKeys,
  type Conversion,
  type ConvertOptions,
  type DeploymentPlan,
  type DynamoVersion,
  type Strategy,
} from './deployment-plan.ts';

const IMAGE_REPO = 'nvcr.io/nvidia/ai-dynamo/vllm-runtime';
/** The Dynamo vLLM runtime image per API version; pin it to the release you run (--image / --image-tag). */
export const DEFAULT_IMAGE_TAG: Record<DynamoVersion, string> = { '1.4': '1.4.2', '0.6': '0.6.1' };
export const DEFAULT_IMAGE = `${IMAGE_REPO}:${DEFAULT_IMAGE_TAG['1.4']}`;
const WORKING_DIR: Record<DynamoVersion, string> = {
  '1.4': '/workspace/examples/backends/vllm',
  '0.6': '/workspace/components/backends/vllm',
};
/** The KV transfer config of Dynamo 1.4's disaggregated example (required on prefill workers since 1.x). */
export const NIXL_KV_TRANSFER = '{"kv_connector":"NixlConnector","kv_role":"kv_both"}';
/** KV events for KV-aware routing (ai-dynamo/dynamo examples/backends/vllm/deploy/v1beta1/agg_router.yaml). */
export const KV_EVENTS_CONFIG = '{"publisher":"zmq","topic":"kv-events","endpoint":"tcp://*:20080","enable_kv_cache_events":true}';
export const HF_SECRET = 'hf-token-secret';
/** Where Dynamo's recipes mount the model cache PVC and point HF_HOME (recipes/*: mountPath /model-store). */
export const MODEL_CACHE_PATH = '/model-store';

/**
 * Flags of a hand-made multi-node vLLM launch that differ per node. For a worker spanning several
 * nodes, Dynamo's operator injects them into each node's pod (mp: --nnodes, --node-rank,
 * --master-addr, --master-port, --headless; data parallel: the local size, address, RPC port and
 * start rank), so the user's copies would contradict them.
 */
const PER_NODE_LAUNCH_FLAGS = new Set([
  'nnodes',
  'node-rank',
  'master-addr',
  'master-port',
  'data-parallel-size-local',
  'data-parallel-address',
  'data-parallel-rpc-port',
  'data-parallel-start-rank',
  'data-parallel-rank',
  'data-parallel-hybrid-lb',
]);

/** An image whose tag is a semantic version, which the operator reads as the Dynamo runtime version. */
const SEMVER_TAG = /:\d+\.\d+\.\d+(@sha256:[0-9a-f]+)?$/;

/** A DynamoGraphDeployment name (≤ 36 characters, see k8s-names.ts) from a model id. */
export function deploymentName(model: string, strategy: Strategy): string {
  return nameFromModel(model, strategy === 'colocated' ? 'agg' : 'disagg', MAX_DGD_NAME);
}

interface WorkerArgs {
  /** Engine arguments for every worker, `--model M` first. */
  args: string[];
  parserArgs: string[];
  changed: Outcome[];
  dropped: Outcome[];
  userKvTransfer: boolean;
  userKvEvents: boolean;
}

/** The worker's engine arguments: every vLLM flag carried unless Dynamo serves it itself, each exception with its reason. */
export function dynamoWorkerArgs(config: VllmServeConfig, plan: DeploymentPlan): WorkerArgs {
  const args = ['--model', config.model];
  const parserArgs: string[] = [];
  const changed: Outcome[] = [];
  const dropped: Outcome[] = [];
  for (const f of config.flags) {
    const server = SERVER_FLAGS[f.name];
    if (f.name === 'served-model-name') {
      const first = f.values[0] as string;
      args.push(f.flag, first);
      if (f.values.length > 1)
        changed.push({
          item: f.display,
          to: `--served-model-name ${first}`,
          reason: `dynamo.vllm serves one name ("We do not support multiple model names", components/src/dynamo/vllm/args.py): clients must send model "${first}"; ${f.values.slice(1).join(', ')} dropped`,
        });
    } else if (f.name === 'tool-call-parser' || f.name === 'reasoning-parser') {
      const table = f.name === 'tool-call-parser' ? TOOL_PARSERS : REASONING_PARSERS;
      const dynFlag = f.name === 'tool-call-parser' ? '--dyn-tool-call-parser' : '--dyn-reasoning-parser';
      const value = f.values[0] as string;
      const mapped = table[value];
      if (mapped !== undefined) {
        parserArgs.push(dynFlag, mapped);
        changed.push({
          item: f.display,
          to: `${dynFlag} ${mapped}`,
          reason:
            f.name === 'tool-call-parser'
              ? 'Dynamo parses tool calls in its Frontend, configured on the worker'
              : 'Dynamo parses reasoning in its Frontend, configured on the worker; without it the thinking streams as content',
        });
      } else {
        dropped.push({
          item: f.display,
          reason: `Dynamo has no parser named ${value}; choose one of ${[...new Set(Object.values(table))].join(', ')} and add ${dynFlag} NAME to the worker args`,
        });
      }
    } else if (server !== undefined) {
      dropped.push({ item: f.display, reason: server.reason });
    } else if (DYNAMO_SERVES[f.name] !== undefined) {
      dropped.push({ item: f.display, reason: DYNAMO_SERVES[f.name] as string });
    } else if (plan.nodeCount > 1 && PER_NODE_LAUNCH_FLAGS.has(f.name)) {
      dropped.push({
        item: f.display,
        reason: `per-node launch flag: the operator writes each node's multi-node launch flags into its pod (${plan.nodeCount} nodes; deploy/operator/internal/dynamo/backend_vllm.go)`,
      });
    } else if (plan.denseDataParallel && f.name.startsWith('data-parallel-')) {
      dropped.push({
        item: f.display,
        reason: `dense data parallel (no --enable-expert-parallel): ${config.dataParallel} independent worker replicas behind the Frontend's router instead`,
      });
    } else if (f.secret) {
      dropped.push({ item: f.display, reason: 'secret value: not written to the YAML; put it in a Kubernetes Secret' });
    } else {
      args.push(f.flag, ...f.values);
    }
  }
  return {
    args,
    parserArgs,
    changed,
    dropped,
    userKvTransfer: config.flags.some((f) => f.name === 'kv-transfer-config'),
    userKvEvents: config.flags.some((f) => f.name === 'kv-events-config'),
  };
}

export function convertToDynamo(config: VllmServeConfig, options: ConvertOptions): Conversion {
  const strategy = options.strategy;
  const version = options.dynamoVersion ?? '1.4';
  const name = options.name !== undefined ? checkName(options.name, MAX_DGD_NAME) : deploymentName(config.model, strategy);
  const image = options.image ?? `${IMAGE_REPO}:${options.imageTag ?? DEFAULT_IMAGE_TAG[version]}`;
  const plan = planDeployment(config, options);
  const worker = dynamoWorkerArgs(config, plan);
  const changed = [...worker.changed];
  const dropped = [...config.dropped, ...worker.dropped];
  const notes = [...plan.notes];
  const warnings = [...plan.warnings];
  const pvc = options.modelCachePvc;

  // KV-aware routing pays off when there is more than one worker to choose from (Dynamo 1.x's
  // agg_router example; its disagg example, one worker per pool, has none). Dynamo 0.6's disagg
  // examples set it whenever the graph is disaggregated, as this converter did for 0.6.
  const kvRouting = config.prefixCaching !== false && (plan.replicas > 1 || (version === '0.6' && strategy === 'disaggregated'));
  if (kvRouting)
    notes.push(
      `KV-aware routing (DYN_ROUTER_MODE=kv on the Frontend${version === '1.4' ? ', --kv-events-config on the workers that publish KV events' : ''}): it sends a request to the worker holding its prefix`,
    );
  if (config.prefixCaching === false)
    notes.push('prefix caching stays off, as in the vLLM command (--no-enable-prefix-caching): no KV-aware routing');
  if (strategy === 'disaggregated')
    notes.push(
      'disaggregated: one prefill and one decode pool with the same engine arguments; size the pools from measured prefill / decode load before production',
    );

  const modeArgs = (mode: 'agg' | 'prefill' | 'decode'): string[] => {
    const extra: string[] = [];
    const publishesKvEvents = mode !== 'decode';
    if (version === '1.4') {
      if (kvRouting && publishesKvEvents && !worker.userKvEvents) extra.push('--kv-events-config', KV_EVENTS_CONFIG);
      if (mode !== 'agg') {
        extra.push('--disaggregation-mode', mode);
        if (!worker.userKvTransfer) extra.push('--kv-transfer-config', NIXL_KV_TRANSFER);
      }
    } else {
      // Dynamo 0.6 adds NIXL itself (--connector nixl by default) and refuses it together with --kv-transfer-config
      if (worker.userKvTransfer) extra.push('--connector', 'none');
      if (mode === 'prefill') extra.push('--is-prefill-worker');
    }
    return [...worker.args, ...worker.parserArgs, ...extra];
  };
  if (version === '0.6' && worker.userKvTransfer)
    notes.push('--kv-transfer-config kept, with --connector none: Dynamo 0.6 refuses it next to its default --connector nixl');

  if (version === '1.4' && !SEMVER_TAG.test(image))
    notes.push(
      `runtimeVersionOverride ${DEFAULT_IMAGE_TAG['1.4']} on every component: the image tag is not a Dynamo version, and the operator's admission then requires one; set it to the Dynamo release inside the image`,
    );
  const doc =
    version === '1.4'
      ? dynamoV1beta1(config, plan, { name, image, strategy, kvRouting, pvc, modeArgs })
      : dynamoV1alpha1(config, plan, { name, image, strategy, kvRouting, pvc, modeArgs });

  const target =
    version === '1.4'
      ? 'NVIDIA Dynamo 1.x DynamoGraphDeployment (nvidia.com/v1beta1), vLLM backend (python3 -m dynamo.vllm).'
      : 'NVIDIA Dynamo 0.6 DynamoGraphDeployment (nvidia.com/v1alpha1, deprecated since Dynamo 1.x), vLLM backend (python3 -m dynamo.vllm).';
  const facts = [
    ...shapeFacts(config, plan),
    `Image: ${image} (pin it to the Dynamo release you run). HF_TOKEN comes from the Secret ${HF_SECRET}.`,
    pvc !== undefined
      ? `Model cache: PersistentVolumeClaim ${pvc} mounted at ${MODEL_CACHE_PATH} in the workers, HF_HOME=${MODEL_CACHE_PATH}.`
      : 'Model cache: none (--model-cache-pvc NAME mounts one).',
  ];
  return conversion(
    doc,
    {
      target,
      strategy:
        strategy === 'colocated'
          ? 'colocated (aggregated): each worker does prefill and decode, as the migration guide advises to start.'
          : 'disaggregated: separate prefill (VllmPrefillWorker) and decode (VllmDecodeWorker) pools.',
      source: config.source,
      facts,
      notes,
      warnings,
      changed,
      dropped,
    },
    plan,
    name,
  );
}

interface Build {
  name: string;
  image: string;
  strategy: Strategy;
  kvRouting: boolean;
  pvc: string | undefined;
  modeArgs: (mode: 'agg' | 'prefill' | 'decode') => string[];
}

/** Dynamo 1.x: components list, podTemplate with container "main" (Dynamo 1.4's examples, keys in their order). */
function dynamoV1beta1(config: VllmServeConfig, plan: DeploymentPlan, b: Build): Record<string, unknown> {
  const envFrom = [{ secretRef: { name: HF_SECRET } }];
  const frontendContainer: Record<string, unknown> = { name: 'main', image: b.image, envFrom };
  if (b.kvRouting) frontendContainer.env = [{ name: 'DYN_ROUTER_MODE', value: 'kv' }];
  const frontend = { name: 'Frontend', type: 'frontend', replicas: 1, podTemplate: { spec: { containers: [frontendContainer] } } };

  const worker = (componentName: string, type: 'worker' | 'prefill' | 'decode', mode: 'agg' | 'prefill' | 'decode') => {
    const env = config.env.map((e) => ({ ...e }));
    if (b.pvc !== undefined) env.push({ name: 'HF_HOME', value: MODEL_CACHE_PATH });
    const container: Record<string, unknown> = {
      name: 'main',
      image: b.image,
      workingDir: WORKING_DIR['1.4'],
      command: ['python3', '-m', 'dynamo.vllm'],
      args: b.modeArgs(mode),
      envFrom,
      resources: {
        limits: { 'nvidia.com/gpu': String(plan.gpusPerPod) },
        requests: { 'ephemeral-storage': ephemeralStorage(plan, b.pvc !== undefined) },
      },
    };
    if (env.length > 0) container.env = env;
    const spec: Record<string, unknown> = { containers: [container] };
    if (b.pvc !== undefined) {
      container.volumeMounts = [{ name: 'model-cache', mountPath: MODEL_CACHE_PATH }];
      spec.volumes = [{ name: 'model-cache', persistentVolumeClaim: { claimName: b.pvc } }];
    }
    const component: Record<string, unknown> = { name: componentName, type, replicas: plan.replicas, podTemplate: { spec } };
    if (plan.nodeCount > 1) component.multinode = { nodeCount: plan.nodeCount };
    return component;
  };
  const components =
    b.strategy === 'colocated'
      ? [frontend, worker('VllmDecodeWorker', 'worker', 'agg')]
      : [frontend, worker('VllmDecodeWorker', 'decode', 'decode'), worker('VllmPrefillWorker', 'prefill', 'prefill')];
  if (!SEMVER_TAG.test(b.image))
    for (const c of components as Array<Record<string, unknown>>) c.runtimeVersionOverride = `${DEFAULT_IMAGE_TAG['1.4']}`;
  return sortKeys({
    apiVersion: 'nvidia.com/v1beta1',
    kind: 'DynamoGraphDeployment',
    metadata: { name: b.name },
    spec: { components },
  });
}

/** Dynamo 0.6: services map, extraPodSpec.mainContainer, resources.limits.gpu (Dynamo 0.6's examples). */
function dynamoV1alpha1(config: VllmServeConfig, plan: DeploymentPlan, b: Build): Record<string, unknown> {
  const worker = (subComponentType: 'decode' | 'prefill' | null, mode: 'agg' | 'prefill' | 'decode') => {
    const service: Record<string, unknown> = { dynamoNamespace: b.name, envFromSecret: HF_SECRET, componentType: 'worker' };
    if (subComponentType) service.subComponentType = subComponentType;
    service.replicas = plan.replicas;
    if (plan.nodeCount > 1) service.multinode = { nodeCount: plan.nodeCount };
    service.resources = { limits: { gpu: String(plan.gpusPerPod) } };
    const envs = config.env.map((e) => ({ ...e }));
    if (b.pvc !== undefined) {
      envs.push({ name: 'HF_HOME', value: MODEL_CACHE_PATH });
      service.volumeMounts = [{ name: b.pvc, mountPoint: MODEL_CACHE_PATH }];
    }
    if (envs.length > 0) service.envs = envs;
    service.extraPodSpec = {
      mainContainer: {
        image: b.image,
        workingDir: WORKING_DIR['0.6'],
        command: ['python3', '-m', 'dynamo.vllm'],
        args: b.modeArgs(mode),
      },
    };
    return service;
  };
  const frontend: Record<string, unknown> = {
    dynamoNamespace: b.name,
    componentType: 'frontend',
    replicas: 1,
    extraPodSpec: { mainContainer: { image: b.image } },
  };
  if (b.kvRouting) frontend.envs = [{ name: 'DYN_ROUTER_MODE', value: 'kv' }];
  const services: Record<string, unknown> = { Frontend: frontend };
  if (b.strategy === 'colocated') services.VllmDecodeWorker = worker(null, 'agg');
  else {
    services.VllmDecodeWorker = worker('decode', 'decode');
    services.VllmPrefillWorker = worker('prefill', 'prefill');
  }
  const spec: Record<string, unknown> = {};
  if (b.pvc !== undefined) spec.pvcs = [{ name: b.pvc, create: false }];
  spec.services = services;
  return { apiVersion: 'nvidia.com/v1alpha1', kind: 'DynamoGraphDeployment', metadata: { name: b.name }, spec };
}
