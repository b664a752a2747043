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

  render(model: string, live: LiveGauges): string {
    const label = `model_name="${escapeLabel(model)}"`;
    const out: string[] = [];
    const family = (name: string, type: string, help: string) => out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    const sample = (name: string, labels: string, value: number) => out.push(`${name}{${labels}} ${formatValue(value)}`);

    family('vllm:num_requests_running', 'gauge', 'Number of requests in model execution batches.');
    sample('vllm:num_requests_running', label, live.running);
    family('vllm:num_requests_waiting', 'gauge', 'Number of requests waiting to be processed.');
    sample('vllm:num_requests_waiting', label, live.waiting);
    family('vllm:kv_cache_usage_perc', 'gauge', 'KV-cache usage. 1 means 100 percent usage.');
    sample('vllm:kv_cache_usage_perc', label, live.kvCacheUsage);
    family('vllm:prefix_cache_queries_total', 'counter', 'Prefix cache queries, in terms of number of queried tokens.');
    sample('vllm:prefix_cache_queries_total', label, this.prefixQueries);
    family('vllm:prefix_cache_hits_total', 'counter', 'Prefix cache hits, in terms of number of cached tokens.');
    sample('vllm:prefix_cache_hits_total', label, this.prefixHits);
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
    family('DCGM_FI_DEV_GPU_UTIL', 'gauge', 'GPU utilization (in %).');
    sample('DCGM_FI_DEV_GPU_UTIL', 'gpu="0"', live.gpuUtilPercent);
    family('sim_faults_injected_total', 'counter', 'Faults the simulator injected, by kind.');
    for (const [kind, n] of [...this.faults].sort()) sample('sim_faults_injected_total', `${label},kind="${kind}"`, n);
    return out.join('\n') + '\n';
  }
}

function histogram(out: string[], name: string, help: string, label: string, h: Histogram): void {
  out.push(`# HELP ${name} ${help}`, `# TYPE ${name} histogram`);
  const cumulative = h.cumulative();
  h.bounds.forEach((bound, i) => out.push(`${name}_bucket{${label},le="${formatValue(bound)}"} ${cumulative[i]}`));
  out.push(`${name}_bucket{${label},le="+Inf"} ${h.count}`);
  out.push(`${name}_sum{${label}} ${formatValue(h.sum)}`);
  out.push(`${name}_count{${label}} ${h.count}`);
}

function formatValue(v: number): string {
  if (Number.isInteger(v)) return v.toFixed(1);
  return String(v);
}

function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}
