// The simulator's /metrics: Prometheus text exposition format 0.0.4 with vLLM's metric names and
// `model_name` label, plus a simulated DCGM GPU utilisation gauge.

export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

// vLLM's bucket boundaries, seconds.
const TTFT_BUCKETS = [
  0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0,
];
const ITL_BUCKETS = [0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0];
const E2E_BUCKETS = [
  0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0, 120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0,
];

export class Histogram {
  readonly bounds: readonly number[];
  /** Non-cumulative counts per bucket; the last is +Inf. */
  private readonly counts: number[];
  sum = 0;
  count = 0;

  constructor(bounds: readonly number[]) {
    this.bounds = bounds;
    this.counts = new Array<number>(bounds.length + 1).fill(0);
  }

  /** Records `times` observations of `value`. */
  observe(value: number, times = 1): void {
    let i = 0;
    while (i < this.bounds.length && value > (this.bounds[i] as number)) i++;
    this.counts[i] = (this.counts[i] as number) + times;
    this.sum += value * times;
    this.count += times;
  }

  /** Cumulative count per bound, +Inf last. */
  cumulative(): number[] {
    let running = 0;
    return this.counts.map((c) => (running += c));
  }
}

export type FinishedReason = 'stop' | 'length' | 'abort';

export interface LiveGauges {
  running: number;
  waiting: number;
  /** Fraction of KV-cache blocks in use, 0-1. */
  kvCacheUsage: number;
  /** Simulated GPU utilisation, percent. */
  gpuUtilPercent: number;
}

export class SimMetrics {
  readonly ttft = new Histogram(TTFT_BUCKETS);
  readonly itl = new Histogram(ITL_BUCKETS);
  readonly e2e = new Histogram(E2E_BUCKETS);
  prefixQueries = 0;
  prefixHits = 0;
  promptTokens = 0;
  generationTokens = 0;
  readonly finished: Record<FinishedReason, number> = { stop: 0, length: 0, abort: 0 };
  /** Injected faults by kind (simulator-specific, `sim_` prefix). */
  readonly faults = new Map<string, number>();

  countFault(kind: string): void {
    this.faults.set(kind, (this.faults.get(kind) ?? 0) + 1);
  }

  /**
   * vLLM's exposition. `engine` adds vLLM V1's engine label (`engine="0"` on every single-engine
   * pod, so two Dynamo workers expose identical label sets); `created` adds prometheus_client's
   * `_created` gauge families after each counter (seconds since the epoch); `dcgm: false` leaves
   * out the simulated GPU gauge (a Dynamo worker's GPU is on the DCGM endpoint); `kvstats` appends
   * the Dynamo worker's `dynamo_component_kvstats_*` gauges (docs/observability/metrics.md).
   */
  render(
    model: string,
    live: LiveGauges,
    options: { engine?: string; created?: number; dcgm?: boolean; kvstats?: { active: number; total: number } } = {},
  ): string {
    const label = `${options.engine !== undefined ? `engine="${options.engine}",` : ''}model_name="${escapeLabel(model)}"`;
    const out: string[] = [];
    const family = (name: string, type: string, help: string) => out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    const sample = (name: string, labels: string, value: number) => out.push(`${name}{${labels}} ${formatValue(value)}`);

    family('vllm:num_requests_running', 'gauge', 'Number of requests in model execution batches.');
    sample('vllm:num_requests_running', label, live.running);
    family('vllm:num_requests_waiting', 'gauge', 'Number of requests waiting to be processed.');
    sample('vllm:num_requests_waiting', label, live.waiting);
    family('vllm:kv_cache_usage_perc', 'gauge', 'KV-cache usage. 1 means 100 percent usage.');
    sample('vllm:kv_cache_usage_perc', label, live.kvCacheUsage);
    const created = (name: string, help: string) => {
      if (options.created === undefined) return;
      family(`${name}_created`, 'gauge', help);
      sample(`${name}_created`, label, options.created);
    };
    family('vllm:prefix_cache_queries_total', 'counter', 'Prefix cache queries, in terms of number of queried tokens.');
    sample('vllm:prefix_cache_queries_total', label, this.prefixQueries);
    created('vllm:prefix_cache_queries', 'Prefix cache queries, in terms of number of queried tokens.');
    family('vllm:prefix_cache_hits_total', 'counter', 'Prefix cache hits, in terms of number of cached tokens.');
    sample('vllm:prefix_cache_hits_total', label, this.prefixHits);
    created('vllm:prefix_cache_hits', 'Prefix cache hits, in terms of number of cached tokens.');
    family('vllm:prompt_tokens_total', 'counter', 'Number of prefill tokens processed.');
    sample('vllm:prompt_tokens_total', label, this.promptTokens);
    family('vllm:generation_tokens_total', 'counter', 'Number of generation tokens processed.');
    sample('vllm:generation_tokens_total', label, this.generationTokens);
    family('vllm:request_success_total', 'counter', 'Count of successfully processed requests.');
    for (const reason of ['stop', 'length', 'abort'] as const)
      sample('vllm:request_success_total', `${label},finished_reason="${reason}"`, this.finished[reason]);
    histogram(out, 'vllm:time_to_first_token_seconds', 'Histogram of time to first token in seconds.', label, this.ttft);
    histogram(out, 'vllm:inter_token_latency_seconds', 'Histogram of inter-token latency in seconds.', label, this.itl);
    histogram(out, 'vllm:e2e_request_latency_seconds', 'Histogram of e2e request latency in seconds.', label, this.e2e);
    if (options.dcgm ?? true) {
      family('DCGM_FI_DEV_GPU_UTIL', 'gauge', 'GPU utilization (in %).');
      sample('DCGM_FI_DEV_GPU_UTIL', 'gpu="0"', live.gpuUtilPercent);
    }
    if (options.kvstats) {
      const kv = 'dynamo_component="backend",dynamo_namespace="dynamo"';
      const g = (name: string, help: string, v: number) => {
        family(`dynamo_component_kvstats_${name}`, 'gauge', help);
        out.push(`dynamo_component_kvstats_${name}{${kv}} ${v}`);
      };
      g('active_blocks', 'Number of active KV cache blocks currently in use', options.kvstats.active);
      g(
        'gpu_cache_usage_percent',
        'GPU cache usage as a percentage (0.0-1.0)',
        options.kvstats.total > 0 ? options.kvstats.active / options.kvstats.total : 0,
      );
      g(
        'gpu_prefix_cache_hit_rate',
        'GPU prefix cache hit rate as a percentage (0.0-1.0)',
        this.prefixQueries > 0 ? this.prefixHits / this.prefixQueries : 0,
      );
      g('total_blocks', 'Total number of KV cache blocks available', options.kvstats.total);
    }
    family('sim_faults_injected_total', 'counter', 'Faults the simulator injected, by kind.');
    for (const [kind, n] of [...this.faults].sort()) sample('sim_faults_injected_total', `${label},kind="${kind}"`, n);
    return out.join('\n') + '\n';
  }
}

function histogram(out: string[], name: string, help: string, label: string, h: Histogram, format = formatValue): void {
  out.push(`# HELP ${name} ${help}`, `# TYPE ${name} histogram`);
  const cumulative = h.cumulative();
  h.bounds.forEach((bound, i) => out.push(`${name}_bucket{${label},le="${format(bound)}"} ${cumulative[i]}`));
  out.push(`${name}_bucket{${label},le="+Inf"} ${h.count}`);
  out.push(`${name}_sum{${label}} ${format(h.sum)}`);
  out.push(`${name}_count{${label}} ${h.count}`);
}

// Dynamo frontend bucket layouts, captured in ai-dynamo/dynamo:docs/observability/metrics_examples/fe.log.
const FE_TTFT = [0, 0.0022, 0.0047, 0.01, 0.022, 0.047, 0.1, 0.22, 0.47, 1, 2.2, 4.7, 10, 22, 48, 100, 220, 480];
const FE_ITL = [0, 0.0019, 0.0035, 0.0067, 0.013, 0.024, 0.045, 0.084, 0.16, 0.3, 0.56, 1.1, 2];
const FE_DURATION = [0, 1.9, 3.4, 6.3, 12, 22, 40, 75, 140, 260];
const FE_ISL = [0, 100, 210, 430, 870, 1800, 3600, 7400, 15000, 31000, 63000, 130000];
const FE_OSL = [0, 100, 210, 430, 880, 1800, 3700, 7600, 16000, 32000];

/** The Dynamo frontend's `dynamo_frontend_*` metrics (fe.log shape: label `model`, lower-cased; Rust-style numbers). */
export class FrontendMetrics {
  readonly ttft = new Histogram(FE_TTFT);
  readonly itl = new Histogram(FE_ITL);
  readonly duration = new Histogram(FE_DURATION);
  readonly isl = new Histogram(FE_ISL);
  readonly osl = new Histogram(FE_OSL);
  inflight = 0;
  queued = 0;
  outputTokens = 0;
  readonly requests = new Map<string, number>();

  countRequest(stream: boolean, api: 'chat' | 'completions', status: 'success' | 'error'): void {
    const key = `endpoint="${api === 'chat' ? 'chat_completions' : 'completions'}",request_type="${stream ? 'stream' : 'unary'}",status="${status}"`;
    this.requests.set(key, (this.requests.get(key) ?? 0) + 1);
  }

  render(model: string, totalKvBlocks: number): string {
    const m = `model="${escapeLabel(model.toLowerCase())}"`;
    const out: string[] = [];
    const num = (v: number) => String(v);
    const gauge = (name: string, help: string, labels: string, v: number, type = 'gauge') => {
      out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, `${name}${labels ? `{${labels}}` : ''} ${v}`);
    };
    gauge('dynamo_frontend_disconnected_clients', 'Number of disconnected clients', '', 0);
    gauge('dynamo_frontend_inflight_requests', 'Number of inflight requests', m, this.inflight);
    histogram(out, 'dynamo_frontend_input_sequence_tokens', 'Input sequence length in tokens', m, this.isl, num);
    histogram(out, 'dynamo_frontend_inter_token_latency_seconds', 'Inter-token latency in seconds', m, this.itl, num);
    gauge(
      'dynamo_frontend_model_total_kv_blocks',
      'Total KV cache blocks available for a worker serving the model',
      `model="${escapeLabel(model)}"`,
      totalKvBlocks,
    );
    histogram(out, 'dynamo_frontend_output_sequence_tokens', 'Output sequence length in tokens', m, this.osl, num);
    gauge(
      'dynamo_frontend_output_tokens_total',
      'Total number of output tokens generated (updates in real-time)',
      m,
      this.outputTokens,
      'counter',
    );
    gauge('dynamo_frontend_queued_requests', 'Number of requests in HTTP processing queue', m, this.queued);
    histogram(out, 'dynamo_frontend_request_duration_seconds', 'Duration of LLM requests', m, this.duration, num);
    out.push(
      '# HELP dynamo_frontend_requests_total Total number of LLM requests processed',
      '# TYPE dynamo_frontend_requests_total counter',
    );
    for (const [key, n] of [...this.requests].sort())
      out.push(`dynamo_frontend_requests_total{${key.replace('request_type', `${m},request_type`)}} ${n}`);
    histogram(out, 'dynamo_frontend_time_to_first_token_seconds', 'Time to first token in seconds', m, this.ttft, num);
    return out.join('\n') + '\n';
  }
}

/**
 * A node's dcgm-exporter (label order as NVIDIA/dcgm-exporter emits them): one GPU per worker pod,
 * plus GPUs of other pods on the same node, which a selector must keep out.
 */
export function renderDcgm(gpus: ReadonlyArray<{ gpu: number; pod: string; namespace: string; util: number }>): string {
  const out = ['# HELP DCGM_FI_DEV_GPU_UTIL GPU utilization (in %).', '# TYPE DCGM_FI_DEV_GPU_UTIL gauge'];
  for (const g of gpus)
    out.push(
      `DCGM_FI_DEV_GPU_UTIL{gpu="${g.gpu}",UUID="GPU-sim-${g.gpu}",device="nvidia${g.gpu}",modelName="NVIDIA H100 80GB HBM3",Hostname="sim-node",container="main",namespace="${escapeLabel(g.namespace)}",pod="${escapeLabel(g.pod)}"} ${g.util}`,
    );
  return out.join('\n') + '\n';
}

function formatValue(v: number): string {
  if (Number.isInteger(v)) return v.toFixed(1);
  return String(v);
}

function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}
