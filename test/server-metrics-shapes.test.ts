// Server metrics from expositions in the real shapes (fixtures and sources: test/fixtures/server-metrics/README.md):
// vLLM V1 single- and multi-process, the Dynamo frontend, two Dynamo worker pods with identical
// labels, DCGM with a foreign GPU. Each test checks the true figure the issue names.
import test from 'ava';
import { mkdtemp, mkdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bucketQuantile, deriveServerMetrics } from '../analysis/server-metrics.ts';
import { parseExposition, readMetricsDir } from '../io/prometheus-scrape.ts';
import type { ScrapeEntry, ScrapeSample } from '../core/scrape-entry.ts';
import { formatServerMetrics } from '../report/server-metrics.ts';

const fixture = (name: string) => readFile(new URL(`./fixtures/server-metrics/${name}`, import.meta.url), 'utf8');
const S = 1e9;
let seq = 0;
/** A v2 scrape line of target `index` at `second` (scrape interval 1 s). */
function at(index: number, second: number, text: string, selector = ''): ScrapeSample {
  return {
    v: 2,
    kind: 'scrape',
    arm: 'candidate',
    target: { index, instance: `10.0.0.${10 + index}:9090` },
    selector,
    interval_ms: 1000,
    seq: seq++,
    mono_ns: second * S + index * 1e6, // targets of one round start a few ms apart
    wall: new Date(Date.UTC(2026, 0, 1, 0, 0, second)).toISOString(),
    duration_ms: 1,
    samples: parseExposition(text),
  };
}

test('vLLM V1 single process (verbatim dynamo.vllm capture): _created is its own gauge family, never read as the counter', async (t) => {
  const text = await fixture('vllm-v1-worker.prom');
  const samples = parseExposition(text);
  const names = new Set(samples.map((s) => s.name));
  t.true(names.has('vllm:prefix_cache_queries_total'));
  t.true(names.has('vllm:prefix_cache_queries_created'));
  // a later scrape: queries 66 → 1066, hits 0 → 400; the _created values (1.77e9) must not enter the rate
  const later = text
    .replace(
      'vllm:prefix_cache_queries_total{engine="0",model_name="Qwen/Qwen3-0.6B"} 0.0',
      'vllm:prefix_cache_queries_total{engine="0",model_name="Qwen/Qwen3-0.6B"} 1000.0',
    )
    .replace(
      'vllm:prefix_cache_hits_total{engine="0",model_name="Qwen/Qwen3-0.6B"} 0.0',
      'vllm:prefix_cache_hits_total{engine="0",model_name="Qwen/Qwen3-0.6B"} 400.0',
    )
    .replace(
      'vllm:external_prefix_cache_hits_total{engine="0",model_name="Qwen/Qwen3-0.6B"} 0.0',
      'vllm:external_prefix_cache_hits_total{engine="0",model_name="Qwen/Qwen3-0.6B"} 33.0',
    )
    .replace(
      'vllm:external_prefix_cache_queries_total{engine="0",model_name="Qwen/Qwen3-0.6B"} 66.0',
      'vllm:external_prefix_cache_queries_total{engine="0",model_name="Qwen/Qwen3-0.6B"} 132.0',
    );
  const m = deriveServerMetrics('candidate', [at(1, 0, text), at(1, 1, later)]);
  t.deepEqual(m.prefix_cache, { queries: 1000, hits: 400, hit_rate: 0.4 });
  // the KV connector's cache is counted apart: 33 of 66 more queried tokens
  t.deepEqual(m.external_prefix_cache, { queries: 66, hits: 33, hit_rate: 0.5 });
  t.is(m.sources?.prefix_cache?.role, 'worker');
  // no frontend: the server TTFT comes from the engine's histogram, which did not move between the two scrapes
  t.is(m.ttft_server_ms, null);
});

test('vLLM multiprocess (constructed from prometheus_client multiprocess.py): pid replicas of a gauge are one value, not a sum', (t) => {
  const mp = (
    running: number,
    kv: number,
    queries: number,
    hits: number,
  ) => `# HELP vllm:num_requests_running Number of requests in model execution batches.
# TYPE vllm:num_requests_running gauge
vllm:num_requests_running{engine="0",model_name="meta-llama/Llama-3.1-70B-Instruct"} ${running}.0
# HELP vllm:kv_cache_usage_perc KV-cache usage. 1 means 100 percent usage.
# TYPE vllm:kv_cache_usage_perc gauge
vllm:kv_cache_usage_perc{engine="0",model_name="meta-llama/Llama-3.1-70B-Instruct",pid="4711"} ${kv}
vllm:kv_cache_usage_perc{engine="0",model_name="meta-llama/Llama-3.1-70B-Instruct",pid="4712"} ${kv}
# HELP vllm:prefix_cache_queries_total Multiprocess metric
# TYPE vllm:prefix_cache_queries_total counter
vllm:prefix_cache_queries_total{engine="0",model_name="meta-llama/Llama-3.1-70B-Instruct"} ${queries}.0
# HELP vllm:prefix_cache_hits_total Multiprocess metric
# TYPE vllm:prefix_cache_hits_total counter
vllm:prefix_cache_hits_total{engine="0",model_name="meta-llama/Llama-3.1-70B-Instruct"} ${hits}.0
`;
  const m = deriveServerMetrics('baseline', [at(1, 0, mp(28, 0.41, 0, 0)), at(1, 1, mp(28, 0.41, 100000, 54000))]);
  t.is(m.kv_cache_usage_pct?.mean, 41);
  t.is(m.kv_cache_usage_pct?.method, 'mean');
  t.is(m.requests_running?.mean, 28);
  t.is(m.prefix_cache?.hit_rate, 0.54);
});

/** The A6 shape: a Dynamo vLLM worker's system port, label sets identical on every pod. */
const pod = (
  running: number,
  queries: number,
  hits: number,
  active: number,
) => `# HELP vllm:num_requests_running Number of requests in model execution batches.
# TYPE vllm:num_requests_running gauge
vllm:num_requests_running{engine="0",model_name="meta-llama/Llama-3.3-70B-Instruct"} ${running}.0
# HELP vllm:kv_cache_usage_perc KV-cache usage. 1 means 100 percent usage.
# TYPE vllm:kv_cache_usage_perc gauge
vllm:kv_cache_usage_perc{engine="0",model_name="meta-llama/Llama-3.3-70B-Instruct"} ${active / 5943}
# HELP vllm:prefix_cache_queries_total Prefix cache queries, in terms of number of queried tokens.
# TYPE vllm:prefix_cache_queries_total counter
vllm:prefix_cache_queries_total{engine="0",model_name="meta-llama/Llama-3.3-70B-Instruct"} ${queries}.0
# HELP vllm:prefix_cache_hits_total Prefix cache hits, in terms of number of cached tokens.
# TYPE vllm:prefix_cache_hits_total counter
vllm:prefix_cache_hits_total{engine="0",model_name="meta-llama/Llama-3.3-70B-Instruct"} ${hits}.0
# HELP dynamo_component_kvstats_active_blocks Number of active KV cache blocks currently in use
# TYPE dynamo_component_kvstats_active_blocks gauge
dynamo_component_kvstats_active_blocks{dynamo_component="backend",dynamo_namespace="dynamo"} ${active}
# HELP dynamo_component_kvstats_total_blocks Total number of KV cache blocks available
# TYPE dynamo_component_kvstats_total_blocks gauge
dynamo_component_kvstats_total_blocks{dynamo_component="backend",dynamo_namespace="dynamo"} 5943
`;

test('two Dynamo worker pods with identical labels: counters per pod summed (200,000 queries, 54 %), running summed (56), KV from blocks', (t) => {
  // interleaved a, b, a, b... growing from 0; pod a ends at 100,000 / 52,000, pod b at 100,000 / 56,000
  const entries: ScrapeEntry[] = [];
  for (let s = 0; s <= 4; s++) {
    entries.push(at(1, s, pod(27, 25000 * s, 13000 * s, 2100)));
    entries.push(at(2, s, pod(29, 25000 * s, 14000 * s, 3000)));
  }
  const m = deriveServerMetrics('candidate', entries);
  t.deepEqual(m.prefix_cache, { queries: 200000, hits: 108000, hit_rate: 0.54 });
  t.deepEqual(m.requests_running, { mean: 56, max: 56, samples: 5 });
  // (2100 + 3000) / (2 × 5943) = 42.9 %
  t.is(m.kv_cache_usage_pct?.method, 'blocks');
  t.is(Number(m.kv_cache_usage_pct?.mean.toFixed(3)), Number(((100 * 5100) / 11886).toFixed(3)));
  t.deepEqual(m.sources?.requests_running, { role: 'worker', names: ['vllm:num_requests_running'], targets: 2, method: 'sum' });
  t.regex(formatServerMetrics([m]).join('\n'), /prefix-cache hit rate\s+54 % \(worker ×2\)/);
});

test('a counter reset on one pod (a restart) resets that series only', (t) => {
  const entries: ScrapeEntry[] = [
    at(1, 0, pod(1, 1000, 500, 1)),
    at(2, 0, pod(1, 5000, 1000, 1)),
    at(1, 1, pod(1, 2000, 1000, 1)),
    // pod b restarted: its counters start again from 0 and reach 300 / 100
    at(2, 1, pod(1, 300, 100, 1)),
    at(1, 2, pod(1, 3000, 1500, 1)),
    at(2, 2, pod(1, 700, 300, 1)),
  ];
  const m = deriveServerMetrics('candidate', entries);
  // pod a: 2000 / 1000; pod b: 300 + 400 = 700 / 100 + 200 = 300
  t.deepEqual(m.prefix_cache, { queries: 2700, hits: 1300, hit_rate: 1300 / 2700 });
});

test('Dynamo frontend (verbatim fe.log): in-flight / queued / requests read; server TTFT P50 / P99 from its le="0"-first buckets', async (t) => {
  const text = await fixture('dynamo-frontend.prom');
  const samples = parseExposition(text);
  t.true(samples.some((s) => s.name === 'dynamo_frontend_disconnected_clients' && Object.keys(s.labels).length === 0));
  t.true(samples.some((s) => s.name === 'dynamo_frontend_time_to_first_token_seconds_bucket' && s.labels.le === '0'));
  // an empty frontend before the run, the capture after it: one request, TTFT in the (1, 2.2] s bucket
  const empty = text.replace(/^(dynamo_frontend_\w+(?:_bucket|_sum|_count|_total)\{[^}]*\}) [0-9.e+]+$/gm, '$1 0');
  const m = deriveServerMetrics('candidate', [at(1, 0, empty), at(1, 1, text)]);
  // histogram_quantile(0.5) over one observation in (1, 2.2]: rank 0.5 → 1 + 1.2 × 0.5 = 1.6 s
  t.is(m.ttft_server_ms?.count, 1);
  t.is(Math.round(m.ttft_server_ms?.p50 ?? 0), 1600);
  t.deepEqual(m.ttft_server_ms?.p50_bucket, [1000, 2200]);
  t.is(Math.round(m.ttft_server_ms?.mean ?? 0), 1563); // Δsum / Δcount = 1.5625701570000001 s
  // ITL: 21 of 299 ≤ 1.9 ms, 298 ≤ 3.5 ms: P50 rank 149.5 → 1.9 + 1.6 × (149.5 − 21) / 277
  t.is(Number(m.itl_server_ms?.p50?.toFixed(4)), Number((1.9 + (1.6 * 128.5) / 277).toFixed(4)));
  t.deepEqual(m.requests, { success: 1 });
  t.is(m.sources?.ttft_server?.role, 'frontend');
  t.is(m.inflight?.mean, 0);
  t.is(m.output_tokens?.count, 1);
});

test('a histogram series first exposed after its target’s first scrape counts from 0, like a counter; at the first scrape it is the baseline', async (t) => {
  // The frontend's TTFT / ITL histograms are HistogramVecs labelled by `model`, whose child is made at
  // the model's first request (ai-dynamo/dynamo lib/llm/src/http/service/metrics.rs,
  // ResponseMetricCollector resolves the per-model handles per request): a scrape before it has none
  // of their lines. Prometheus' increase() would drop that first request.
  const text = await fixture('dynamo-frontend.prom');
  const without = text
    .split('\n')
    .filter((l) => !l.startsWith('dynamo_frontend_time_to_first_token_seconds'))
    .join('\n');
  const late = deriveServerMetrics('candidate', [at(1, 0, without), at(1, 1, text)]);
  t.is(late.ttft_server_ms?.count, 1);
  t.is(Math.round(late.ttft_server_ms?.p50 ?? 0), 1600);
  // the same capture as the target's first scrape: its counts may predate the run, nothing counted
  const first = deriveServerMetrics('candidate', [at(1, 0, text), at(1, 1, text)]);
  t.is(first.ttft_server_ms, null, 'no observation during the run: no server TTFT');
});

test('bucketQuantile follows Prometheus: highest bucket → 2nd-highest bound, lowest bucket ≤ 0 → its bound, interpolation from 0', (t) => {
  const b = (pairs: Array<[number, number]>) => pairs.map(([upperBound, count]) => ({ upperBound, count }));
  // rank falls in +Inf: the upper bound of the second highest bucket
  t.is(
    bucketQuantile(
      0.99,
      b([
        [0.1, 10],
        [0.2, 20],
        [Infinity, 100],
      ]),
    ).value,
    0.2,
  );
  // lowest bucket has bound 0 and holds the rank: 0
  t.is(
    bucketQuantile(
      0.5,
      b([
        [0, 10],
        [1, 10],
        [Infinity, 10],
      ]),
    ).value,
    0,
  );
  // lowest bucket bound > 0: interpolated between 0 and it
  t.is(
    bucketQuantile(
      0.5,
      b([
        [2, 10],
        [4, 20],
        [Infinity, 20],
      ]),
    ).value,
    2,
  );
  t.is(
    bucketQuantile(
      0.25,
      b([
        [2, 10],
        [4, 20],
        [Infinity, 20],
      ]),
    ).value,
    1,
  );
  // no observations / no +Inf bucket / fewer than two buckets: NaN; q out of range: ±Inf
  t.true(
    Number.isNaN(
      bucketQuantile(
        0.5,
        b([
          [1, 0],
          [Infinity, 0],
        ]),
      ).value,
    ),
  );
  t.true(
    Number.isNaN(
      bucketQuantile(
        0.5,
        b([
          [1, 3],
          [2, 3],
        ]),
      ).value,
    ),
  );
  t.true(Number.isNaN(bucketQuantile(0.5, b([[Infinity, 3]])).value));
  t.is(
    bucketQuantile(
      -1,
      b([
        [1, 3],
        [Infinity, 3],
      ]),
    ).value,
    -Infinity,
  );
  t.is(
    bucketQuantile(
      2,
      b([
        [1, 3],
        [Infinity, 3],
      ]),
    ).value,
    Infinity,
  );
  // a non-monotonic count (float noise) is fixed up: [2, 2, 6] → rank 3 in (2, 3]: 2 + 1/4 (2.4 without the fix)
  t.is(
    bucketQuantile(
      0.5,
      b([
        [1, 2],
        [2, 1],
        [3, 6],
        [Infinity, 6],
      ]),
    ).value,
    2.25,
  );
  // duplicate bounds coalesce (counts added): [1: 2, 2: 4] → rank 2 at the top of (0, 1] (1.33 without)
  t.is(
    bucketQuantile(
      0.5,
      b([
        [1, 1],
        [1, 1],
        [2, 4],
        [Infinity, 4],
      ]),
    ).value,
    1,
  );
});

test('two frontends with different bucket layouts: increases summed at their common bounds (+Inf kept), marked coarsened', (t) => {
  const fe = (les: number[], counts: number[]) =>
    les.map((le, i) => `dynamo_frontend_time_to_first_token_seconds_bucket{model="m",le="${le}"} ${counts[i]}`).join('\n') +
    `\ndynamo_frontend_time_to_first_token_seconds_bucket{model="m",le="+Inf"} ${counts[counts.length - 1]}\n` +
    `dynamo_frontend_time_to_first_token_seconds_count{model="m"} ${counts[counts.length - 1]}\n` +
    `dynamo_frontend_time_to_first_token_seconds_sum{model="m"} 1\n`;
  const entries = [
    at(1, 0, fe([0.1, 0.22, 0.47], [0, 0, 0])),
    at(2, 0, fe([0.1, 0.3], [0, 0])),
    at(1, 1, fe([0.1, 0.22, 0.47], [40, 80, 100])),
    at(2, 1, fe([0.1, 0.3], [60, 100])),
  ];
  const m = deriveServerMetrics('candidate', entries);
  // common bounds 0.1 and +Inf: 100 of 200 ≤ 0.1 s → P50 = 100 ms exactly; P99 in +Inf → 0.1 s
  t.is(m.ttft_server_ms?.p50, 100);
  t.is(m.ttft_server_ms?.p99, 100);
  t.is(m.ttft_server_ms?.count, 200);
  t.true(m.ttft_server_ms?.coarsened);
  t.is(m.sources?.ttft_server?.method, 'buckets coarsened');
});

test('DCGM with a foreign GPU: 72 % with the selector; 61 % and a warning naming pod / namespace without it', async (t) => {
  const text = await fixture('dcgm-foreign-gpu.prom');
  const selected = deriveServerMetrics('candidate', [
    at(3, 0, text, '{namespace="llm",pod=~"vllm-.*"}'),
    at(3, 1, text, '{namespace="llm",pod=~"vllm-.*"}'),
  ]);
  t.is(selected.gpu_utilization_pct?.mean, 72);
  t.is(selected.gpu_utilization_pct?.gpus, 2);
  t.deepEqual(selected.warnings, []);
  const all = deriveServerMetrics('candidate', [at(3, 0, text), at(3, 1, text)]);
  t.is(all.gpu_utilization_pct?.mean, 61);
  t.is(all.warnings?.length, 1);
  t.regex(all.warnings?.[0] ?? '', /DCGM at 10\.0\.0\.13:9090 reports GPUs of 4 pods/);
  t.regex(all.warnings?.[0] ?? '', /pod="vllm-worker-a", "vllm-worker-b", "finetune-7f9c", \(none\)/);
  t.regex(all.warnings?.[0] ?? '', /namespace="llm", "research", \(none\)/);
  // an anchored regex: pod=~"vllm" matches no pod name (they are longer), and says which labels exist
  const none = deriveServerMetrics('candidate', [at(3, 0, text, '{pod=~"vllm"}')]);
  t.is(none.gpu_utilization_pct, null);
  t.regex(none.warnings?.[0] ?? '', /selector \{pod=~"vllm"\} matches no GPU .* labels .*Hostname.*pod/);
});

test('DCGM exporter capture (verbatim, DataDog fixture) parses: unassigned GPU, no pod labels, no warning', async (t) => {
  const text = await fixture('dcgm-datadog.prom');
  const m = deriveServerMetrics('baseline', [at(1, 0, text), at(1, 1, text)]);
  t.is(m.gpu_utilization_pct?.mean, 0);
  t.deepEqual(m.warnings, []);
  // the space after the comma in dcgm-exporter's README quickstart line
  const spaced = parseExposition('DCGM_FI_DEV_GPU_UTIL{gpu="0", UUID="GPU-604ac",container="",namespace="",pod=""} 15\n');
  t.is(spaced[0]?.labels.UUID, 'GPU-604ac');
});

test('frontend + two workers + DCGM as one arm: each figure from its role; the worker kvstats capture (verbatim) reads as blocks', async (t) => {
  const kv = await fixture('dynamo-worker-kvstats.prom');
  const fe = await fixture('dynamo-frontend.prom');
  const dcgm = await fixture('dcgm-foreign-gpu.prom');
  const sel = '{namespace="llm",pod=~"vllm-.*"}';
  const m = deriveServerMetrics('candidate', [
    at(1, 0, fe),
    at(2, 0, kv),
    at(3, 0, kv),
    at(4, 0, dcgm, sel),
    at(1, 1, fe),
    at(2, 1, kv),
    at(3, 1, kv),
    at(4, 1, dcgm, sel),
  ]);
  t.deepEqual(
    m.targets?.map((x) => x.roles),
    [['frontend'], ['worker'], ['worker'], ['dcgm']],
  );
  t.is(m.kv_cache_usage_pct?.method, 'blocks');
  t.is(m.kv_cache_usage_pct?.mean, 0);
  t.is(m.sources?.kv_cache_usage?.targets, 2);
  t.is(m.gpu_utilization_pct?.mean, 72);
  t.is(m.sources?.inflight?.role, 'frontend');
});

test('v1 metrics files are still read: the target comes from the file name, so two targets with one label set stay apart', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'sm-v1-'));
  await mkdir(join(dir, 'metrics'));
  const v1 = (second: number, q: number) =>
    JSON.stringify({
      v: 1,
      kind: 'scrape',
      arm: 'candidate',
      seq: second,
      mono_ns: second * S,
      wall: '2026-01-01T00:00:00.000Z',
      duration_ms: 1,
      samples: [
        { name: 'vllm:prefix_cache_queries_total', labels: { engine: '0' }, value: q },
        { name: 'vllm:prefix_cache_hits_total', labels: { engine: '0' }, value: q / 2 },
      ],
    });
  await writeFile(join(dir, 'metrics', 'candidate.jsonl'), [v1(0, 0), v1(1, 100), v1(2, 200)].join('\n') + '\n');
  await writeFile(join(dir, 'metrics', 'candidate.2.jsonl'), [v1(0, 5000), v1(1, 5100), v1(2, 5300)].join('\n') + '\n');
  const { byArm } = await readMetricsDir(dir);
  const entries = byArm.get('candidate') ?? [];
  t.deepEqual([...new Set(entries.map((e) => e.target?.index))].sort(), [1, 2]);
  // 200 + 300; keyed by name and labels only, the alternation 0, 5000, 100, 5100... read as resets
  t.is(deriveServerMetrics('candidate', entries).prefix_cache?.queries, 500);
});
