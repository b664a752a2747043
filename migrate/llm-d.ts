// Translates a vLLM serving command into values for llm-d's model-service Helm chart
// (llm-d-incubation/llm-d-modelservice, charts/llm-d-modelservice): decode (and, disaggregated,
// prefill) pools running `vllm serve`, the routing sidecar for prefill/decode, and the model artifacts.
//
// With `modelCommand: vllmServe` the chart writes `vllm serve <model> --port P` and, from
// `parallelism`, `--tensor-parallel-size`, `--data-parallel-size`, `--data-parallel-size-local`, and
// `--served-model-name <modelArtifacts.name>` (templates/_helpers.tpl vllmServeModelCommand); the
// container's `args` follow. So those flags move into the values and are not repeated. vLLM's own
// HTTP server stays, so its flags (parsers, chat template, CORS, …) pass through, except the port
// (the chart's) and secrets. Disaggregated P/D follows the chart's examples/values-pd.yaml (NIXL).
import type { Outcome, VllmServeConfig } from './vllm-command.ts';
import { MAX_LLMD_NAME, checkName, nameFromModel } from './k8s-names.ts';
import { conversion, shapeFacts, planDeployment, type Conversion, type ConvertOptions, type DeploymentPlan } from './deployment-plan.ts';
import { NIXL_KV_TRANSFER, HF_SECRET } from './dynamo.ts';

const IMAGE_REPO = 'ghcr.io/llm-d/llm-d-cuda';
export const LLMD_IMAGE_TAG = 'v0.5.1';
const NIXL_PORT = 5557;
const SERVICE_PORT = 8000;

const FLAG_REASONS: Record<string, string> = {
  host: 'the chart runs vLLM in the pod; it listens on all addresses',
  port: `the chart sets --port (routing.servicePort ${SERVICE_PORT}, or the proxy's targetPort behind the P/D sidecar)`,
  'api-key':
    'secret: not written to the values; create a Secret and set VLLM_API_KEY from it in the container env (vLLM reads it), or authenticate in the gateway',
  'hf-token': `secret on the command line: the chart sets HF_TOKEN from modelArtifacts.authSecretName (${HF_SECRET})`,
  'download-dir': 'a path on the old host: the chart mounts the model volume (modelArtifacts) and sets HF_HOME',
  'tensor-parallel-size': 'moved to decode/prefill.parallelism.tensor: the chart writes --tensor-parallel-size from it',
  'data-parallel-size-local': 'moved to parallelism.dataLocal: the chart writes --data-parallel-size-local from it',
};

export function convertToLlmd(config: VllmServeConfig, options: ConvertOptions): Conversion {
  const strategy = options.strategy;
  const disagg = strategy === 'disaggregated';
  const name =
    options.name !== undefined ? checkName(options.name, MAX_LLMD_NAME) : nameFromModel(config.model, disagg ? 'pd' : 'agg', MAX_LLMD_NAME);
  const image = options.image ?? `${IMAGE_REPO}:${options.imageTag ?? LLMD_IMAGE_TAG}`;
  const plan = planDeployment(config, options);
  const changed: Outcome[] = [];
  const dropped: Outcome[] = [...config.dropped];
  const notes = [...plan.notes];
  const warnings = [...plan.warnings];
  const { args, dataLocal } = llmdArgs(config, plan, changed, dropped, warnings);
  if (disagg && !config.flags.some((f) => f.name === 'kv-transfer-config')) args.push('--kv-transfer-config', NIXL_KV_TRANSFER);

  const pvc = options.modelCachePvc;
  const uri = modelUri(config.model, pvc, warnings);
  changed.push({
    item: `--model ${config.model}`,
    to: `modelArtifacts.uri: ${uri}`,
    reason: 'the chart passes the model to vllm serve from modelArtifacts.uri',
  });
  if (uri.startsWith('pvc+hf://'))
    notes.push(
      `model cache: pvc+hf://${pvc}/hub/${config.model} mounts PVC ${pvc} read-only at /model-cache with HF_HUB_CACHE=/model-cache/hub: download the model into it first (HF_HOME at the PVC's root)`,
    );

  const parallelism: Record<string, number> = { tensor: config.tensorParallel };
  if (config.expertParallel && config.dataParallel > 1) parallelism.data = config.dataParallel;
  if (dataLocal !== undefined && !plan.denseDataParallel) parallelism.dataLocal = dataLocal;
  if (plan.nodeCount > 1) {
    parallelism.workers = plan.nodeCount;
    warnings.push(
      `${plan.nodeCount} nodes per worker: multinode: true makes the chart use a LeaderWorkerSet; check its multi-node launch (examples/values-multinode.yaml) before deploying`,
    );
  }

  const pool = (role: 'decode' | 'prefill') => ({
    create: true,
    replicas: plan.replicas,
    parallelism: { ...parallelism },
    containers: [llmdContainer({ role, disagg, image, args, env: config.env, gpus: plan.gpusPerPod })],
  });

  const sizeGi = plan.size === null ? 100 : Math.max(1, Math.ceil(plan.size.gigabytes * 1.2));
  // size is the emptyDir the chart downloads into (hf://); a PVC brings its own size
  if (plan.size === null && !uri.startsWith('pvc'))
    warnings.push("modelArtifacts.size 100Gi is a guess (no parameter count in the model name): set it to the weights' size");
  const values = {
    fullnameOverride: name,
    multinode: plan.nodeCount > 1,
    modelArtifacts: {
      name: plan.servedModelName,
      uri,
      size: `${sizeGi}Gi`,
      authSecretName: HF_SECRET,
      labels: { 'llm-d.ai/inferenceServing': 'true', 'llm-d.ai/model': labelValue(plan.servedModelName) },
    },
    routing: { servicePort: SERVICE_PORT, proxy: { enabled: disagg, connector: 'nixlv2' } },
    decode: pool('decode'),
    prefill: disagg ? pool('prefill') : { create: false },
  };
  if (disagg)
    notes.push(
      'disaggregated: prefill and decode pools with the same engine arguments and NIXL KV transfer; the routing sidecar in front of decode forwards prefill (routing.proxy)',
    );
  notes.push(
    'the chart makes the pods; an InferencePool and the endpoint picker (llm-d inferencepool chart / Gateway API Inference Extension) route to them by the labels in modelArtifacts.labels',
  );

  const facts = [
    ...shapeFacts(config, plan),
    `Image: ${image} (pin it to the llm-d release you run). HF_TOKEN comes from the Secret ${HF_SECRET}.`,
    'Install: helm install NAME llm-d-modelservice/llm-d-modelservice -f THIS_FILE',
  ];
  return conversion(
    values,
    {
      target: 'llm-d model service (Helm chart llm-d-modelservice values), vLLM (vllm serve).',
      strategy: disagg
        ? 'disaggregated: prefill and decode pools (prefill/decode), NIXL KV transfer.'
        : 'colocated (aggregated): one decode pool serving whole requests; prefill.create false.',
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

/** modelArtifacts.uri: hf://ORG/MODEL, or from the cache PVC (pvc+hf:// in the HF cache layout; pvc:// for a local path). */
function modelUri(model: string, pvc: string | undefined, warnings: string[]): string {
  if (/^[\w.-]+\/[\w.-]+$/.test(model)) return pvc !== undefined ? `pvc+hf://${pvc}/hub/${model}` : `hf://${model}`;
  const uri = `pvc://${pvc ?? 'model-cache'}/${model.replace(/^\.?\/+/, '')}`;
  warnings.push(`the model is not a Hugging Face id: modelArtifacts.uri ${uri} assumes the PVC holds it at that path`);
  return uri;
}

/** The vLLM container of a pool; disaggregated pools get NIXL's side channel (examples/values-pd.yaml). */
function llmdContainer(c: {
  role: 'decode' | 'prefill';
  disagg: boolean;
  image: string;
  args: string[];
  env: VllmServeConfig['env'];
  gpus: number;
}): Record<string, unknown> {
  const env: Array<Record<string, unknown>> = c.env.map((e) => ({ name: e.name, value: e.value }));
  const ports: Array<Record<string, unknown>> = [];
  if (c.disagg) {
    env.push(
      { name: 'UCX_TLS', value: 'cuda_ipc,cuda_copy,tcp' },
      { name: 'VLLM_NIXL_SIDE_CHANNEL_HOST', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
      { name: 'VLLM_NIXL_SIDE_CHANNEL_PORT', value: String(NIXL_PORT) },
    );
    if (c.role === 'prefill') ports.push({ containerPort: SERVICE_PORT, protocol: 'TCP' });
    ports.push({ containerPort: NIXL_PORT, protocol: 'TCP' });
  } else {
    ports.push({ containerPort: SERVICE_PORT, protocol: 'TCP' });
  }
  const gpus = String(c.gpus);
  const container: Record<string, unknown> = { name: 'vllm', image: c.image, modelCommand: 'vllmServe', args: [...c.args] };
  if (env.length > 0) container.env = env;
  container.ports = ports;
  container.resources = { limits: { 'nvidia.com/gpu': gpus }, requests: { 'nvidia.com/gpu': gpus } };
  container.mountModelVolume = true;
  return container;
}

/** vllm serve arguments for the chart's container: every flag except those the chart writes from the values, and secrets. */
function llmdArgs(
  config: VllmServeConfig,
  plan: DeploymentPlan,
  changed: Outcome[],
  dropped: Outcome[],
  warnings: string[],
): { args: string[]; dataLocal: number | undefined } {
  const args: string[] = [];
  let dataLocal: number | undefined;
  for (const f of config.flags) {
    if (f.name === 'served-model-name') {
      const first = f.values[0] as string;
      changed.push({
        item: f.display,
        to: `modelArtifacts.name: ${first}`,
        reason:
          f.values.length > 1
            ? `the chart passes one --served-model-name (modelArtifacts.name): clients must send model "${first}"; ${f.values.slice(1).join(', ')} dropped`
            : 'the chart writes --served-model-name from modelArtifacts.name',
      });
    } else if (f.name === 'tensor-parallel-size' || f.name === 'data-parallel-size-local') {
      if (f.name === 'data-parallel-size-local') dataLocal = Number(f.values[0]);
      changed.push({
        item: f.display,
        to: `parallelism.${f.name === 'tensor-parallel-size' ? 'tensor' : 'dataLocal'}: ${f.values[0]}`,
        reason: FLAG_REASONS[f.name] as string,
      });
    } else if (f.name === 'data-parallel-size') {
      if (plan.denseDataParallel)
        dropped.push({
          item: f.display,
          reason: `dense data parallel (no --enable-expert-parallel): ${config.dataParallel} decode replicas behind the inference gateway instead`,
        });
      else
        changed.push({
          item: f.display,
          to: `parallelism.data: ${f.values[0]}`,
          reason: 'the chart writes --data-parallel-size from parallelism.data',
        });
    } else if (FLAG_REASONS[f.name] !== undefined) {
      dropped.push({ item: f.display, reason: FLAG_REASONS[f.name] as string });
    } else if (plan.denseDataParallel && f.name.startsWith('data-parallel-')) {
      dropped.push({ item: f.display, reason: 'dense data parallel: independent replicas instead' });
    } else if (f.secret) {
      dropped.push({ item: f.display, reason: 'secret value: not written to the values; put it in a Kubernetes Secret' });
    } else {
      args.push(f.flag, ...f.values);
      if (f.name === 'chat-template' || f.name === 'lora-modules')
        warnings.push(`${f.display}: kept; the path must exist inside the container (bake it into the image or mount it)`);
    }
  }
  return { args, dataLocal };
}

/** A Kubernetes label value (≤ 63 characters of [A-Za-z0-9-_.], alphanumeric at both ends) from a model name. */
function labelValue(model: string): string {
  return (
    model
      .replace(/[^A-Za-z0-9_.-]+/g, '_')
      .slice(0, 63)
      .replace(/^[^A-Za-z0-9]+|[^A-Za-z0-9]+$/g, '') || 'model'
  );
}
