// What one server-metrics scrape costs the load generator: parsing a /metrics page the size of a
// real vLLM server's (labelled histograms with vLLM's bucket counts) and the bytes appended per scrape.
// Decides how small --metrics-interval-ms can go without disturbing the sender's timestamps.
import type { Benchmark, BenchTable } from './run.ts';
import { isBucket, parseExposition } from '../io/prometheus-scrape.ts';
import { METRICS_FILE_VERSION } from '../core/scrape-entry.ts';

/** An exposition with `models` model_name series, vLLM-like: gauges, counters and 12 histograms of ~20 buckets. */
function exposition(models: number): string {
  const out: string[] = [];
  for (const [name, type] of [
    ['vllm:num_requests_running', 'gauge'],
    ['vllm:num_requests_waiting', 'gauge'],
    ['vllm:kv_cache_usage_perc', 'gauge'],
    ['vllm:prefix_cache_queries_total', 'counter'],
    ['vllm:prefix_cache_hits_total', 'counter'],
    ['vllm:prompt_tokens_total', 'counter'],
    ['vllm:generation_tokens_total', 'counter'],
  ] as const) {
    out.push(`# HELP ${name} help text`, `# TYPE ${name} ${type}`);
    for (let m = 0; m < models; m++) out.push(`${name}{engine="0",model_name="org/model-${m}"} ${m * 1234.5}`);
  }
  for (let h = 0; h < 12; h++) {
    const name = `vllm:histogram_${h}_seconds`;
    out.push(`# HELP ${name} help text`, `# TYPE ${name} histogram`);
    for (let m = 0; m < models; m++) {
      const labels = `engine="0",model_name="org/model-${m}"`;
      for (let b = 0; b < 20; b++) out.push(`${name}_bucket{${labels},le="${(0.001 * 2 ** b).toPrecision(3)}"} ${b * 10}`);
      out.push(`${name}_bucket{${labels},le="+Inf"} 200`, `${name}_count{${labels}} 200`, `${name}_sum{${labels}} 12.5`);
    }
  }
  for (let g = 0; g < 8; g++) out.push(`DCGM_FI_DEV_GPU_UTIL{gpu="${g}",UUID="GPU-${g}",Hostname="node-1"} ${50 + g}`);
  return out.join('\n') + '\n';
}

export const benchmark: Benchmark = {
  name: 'scrape',
  async run(): Promise<BenchTable[]> {
    const rows: Array<Array<string | number>> = [];
    for (const models of [1, 4]) {
      const text = exposition(models);
      const lines = text.split('\n').length - 1;
      for (let i = 0; i < 20; i++) parseExposition(text); // warm-up
      const runs = 200;
      const started = performance.now();
      let samples = 0;
      for (let i = 0; i < runs; i++) samples = parseExposition(text).length;
      const perScrapeMs = (performance.now() - started) / runs;
      const entryBytes = (kept: ReturnType<typeof parseExposition>) =>
        Buffer.byteLength(
          JSON.stringify({
            v: METRICS_FILE_VERSION,
            kind: 'scrape',
            arm: 'baseline',
            seq: 0,
            mono_ns: 0,
            wall: new Date(0).toISOString(),
            duration_ms: 1,
            samples: kept,
          }),
        ) + 1;
      const all = parseExposition(text);
      const bytes = entryBytes(all);
      const noBuckets = entryBytes(all.filter((s) => !isBucket(s)));
      rows.push([
        models,
        lines,
        samples,
        perScrapeMs,
        ((perScrapeMs / 2000) * 100).toFixed(3),
        bytes,
        ((bytes * 1800) / 1e6).toFixed(1),
        noBuckets,
        ((noBuckets * 1800) / 1e6).toFixed(1),
      ]);
    }
    return [
      {
        title: 'Server-metrics scrape: parse cost and disk per scrape (vLLM-sized /metrics)',
        columns: [
          'models',
          'exposition lines',
          'samples',
          'parse ms / scrape',
          '% of a core at 2 s',
          'bytes / scrape (all)',
          'MB / h at 2 s (all)',
          'bytes / scrape (no buckets, default)',
          'MB / h at 2 s (default)',
        ],
        rows,
        notes: ['Parse = parseExposition (parse-prometheus-text-format + flattening). Network time not included.'],
      },
    ];
  },
};
