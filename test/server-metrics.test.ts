import test from 'ava';
import { counterIncrease, deriveServerMetrics } from '../analysis/server-metrics.ts';
import { formatServerMetrics, serverMetricsCsv } from '../report/server-metrics.ts';
import { parseMetricsLines, type MetricSample, type ScrapeEntry, type ScrapeSample } from '../core/scrape-entry.ts';

const S = 1_000_000_000;
let seq = 0;
function scrape(second: number, samples: Array<[string, Record<string, string>, MetricSample['value']]>): ScrapeSample {
  return {
    v: 1,
    kind: 'scrape',
    arm: 'baseline',
    seq: seq++,
    mono_ns: second * S,
    wall: new Date(Date.UTC(2025, 0, 1, 0, 0, second)).toISOString(),
    duration_ms: 1,
    samples: samples.map(([name, labels, value]) => ({ name, labels, value })),
  };
}
const gap = (second: number, error: string): ScrapeEntry => ({
  v: 1,
  kind: 'gap',
  arm: 'baseline',
  seq: seq++,
  mono_ns: second * S,
  wall: '2025-01-01T00:00:00.000Z',
  duration_ms: 1,
  error,
});

test('counter increase sums per-series deltas and treats a drop as a reset', (t) => {
  const q = 'vllm:prefix_cache_queries_total';
  const scrapes = [
    scrape(0, [
      [q, { engine: '0' }, 100],
      [q, { engine: '1' }, 10],
    ]),
    scrape(1, [
      [q, { engine: '0' }, 150],
      [q, { engine: '1' }, 30],
    ]),
    // engine 0 restarted: counter dropped to 20 → 20 counted since the reset
    scrape(2, [
      [q, { engine: '0' }, 20],
      [q, { engine: '1' }, 35],
    ]),
    scrape(3, [
      [q, { engine: '0' }, 60],
      [q, { engine: '1' }, 35],
      [q, { engine: '2' }, 500],
    ]),
  ];
  // engine 0: 50 + 20 + 40 = 110; engine 1: 20 + 5 + 0 = 25; engine 2 absent from the earlier
  // scrapes of its target, so created during the run: 500 from 0
  t.is(counterIncrease(scrapes, [q]), 635);
  t.is(counterIncrease(scrapes, ['absent']), null);
});

test('deriveServerMetrics: hit rate, gauges summed over engines, KV in percent, GPU mean across GPUs, gaps listed', (t) => {
  const entries: ScrapeEntry[] = [
    scrape(0, [
      ['vllm:prefix_cache_queries_total', {}, 1000],
      ['vllm:prefix_cache_hits_total', {}, 400],
      ['vllm:num_requests_running', { engine: '0' }, 2],
      ['vllm:num_requests_running', { engine: '1' }, 4],
      ['vllm:num_requests_waiting', {}, 0],
      ['vllm:kv_cache_usage_perc', { engine: '0' }, 0.5],
      ['vllm:kv_cache_usage_perc', { engine: '1' }, 0.25],
      ['DCGM_FI_DEV_GPU_UTIL', { gpu: '0' }, 80],
      ['DCGM_FI_DEV_GPU_UTIL', { gpu: '1' }, 40],
    ]),
    gap(1, 'ECONNREFUSED: connect ECONNREFUSED 127.0.0.1:9'),
    scrape(2, [
      ['vllm:prefix_cache_queries_total', {}, 3000],
      ['vllm:prefix_cache_hits_total', {}, 1400],
      ['vllm:num_requests_running', { engine: '0' }, 1],
      ['vllm:num_requests_running', { engine: '1' }, 1],
      ['vllm:num_requests_waiting', {}, 3],
      ['vllm:kv_cache_usage_perc', { engine: '0' }, 1],
      ['vllm:kv_cache_usage_perc', { engine: '1' }, 'NaN'],
      ['DCGM_FI_DEV_GPU_UTIL', { gpu: '0' }, 100],
      ['DCGM_FI_DEV_GPU_UTIL', { gpu: '1' }, 100],
    ]),
  ];
  const m = deriveServerMetrics('baseline', entries);
  t.is(m.scrapes, 2);
  t.is(m.gaps, 1);
  t.is(m.gap_list[0]?.error, 'ECONNREFUSED: connect ECONNREFUSED 127.0.0.1:9');
  t.is(m.span_s, 2);
  t.deepEqual(m.prefix_cache, { queries: 2000, hits: 1000, hit_rate: 0.5 });
  t.deepEqual(m.requests_running, { mean: 4, max: 6, samples: 2 });
  t.deepEqual(m.requests_waiting, { mean: 1.5, max: 3, samples: 2 });
  // scrape 0: mean(0.5, 0.25) = 37.5 %; scrape 2: NaN ignored → 100 %
  t.deepEqual(m.kv_cache_usage_pct, { mean: 68.75, max: 100, samples: 2, method: 'mean' });
  t.deepEqual(m.gpu_utilization_pct, { mean: 80, max: 100, samples: 2, gpus: 2 });
});

test('older vLLM (V0) names are read too; a server without the metrics reports null, never zero', (t) => {
  const v0 = deriveServerMetrics('baseline', [
    scrape(0, [
      ['vllm:gpu_prefix_cache_queries_total', {}, 10],
      ['vllm:gpu_prefix_cache_hits_total', {}, 0],
      ['vllm:gpu_cache_usage_perc', {}, 0.1],
    ]),
    scrape(1, [
      ['vllm:gpu_prefix_cache_queries_total', {}, 20],
      ['vllm:gpu_prefix_cache_hits_total', {}, 8],
      ['vllm:gpu_cache_usage_perc', {}, 0.3],
    ]),
  ]);
  t.is(v0.prefix_cache?.hit_rate, 0.8);
  t.is(v0.kv_cache_usage_pct?.max, 30);
  const none = deriveServerMetrics('candidate', [scrape(0, [['process_cpu_seconds_total', {}, 1]])]);
  t.is(none.prefix_cache, null);
  t.is(none.requests_running, null);
  t.is(none.gpu_utilization_pct, null);
  t.is(none.span_s, null);
  // queried zero tokens: a rate is undefined, not 0
  const idle = deriveServerMetrics('x', [
    scrape(0, [
      ['vllm:prefix_cache_queries_total', {}, 5],
      ['vllm:prefix_cache_hits_total', {}, 5],
    ]),
    scrape(1, [
      ['vllm:prefix_cache_queries_total', {}, 5],
      ['vllm:prefix_cache_hits_total', {}, 5],
    ]),
  ]);
  t.deepEqual(idle.prefix_cache, { queries: 0, hits: 0, hit_rate: null });
});

test('serverMetricsCsv: one row per arm, empty cells for figures the server does not expose', (t) => {
  const a = deriveServerMetrics('baseline', [
    scrape(0, [
      ['vllm:prefix_cache_queries_total', {}, 0],
      ['vllm:prefix_cache_hits_total', {}, 0],
      ['DCGM_FI_DEV_GPU_UTIL', { gpu: '0' }, 90],
    ]),
    scrape(5, [
      ['vllm:prefix_cache_queries_total', {}, 3],
      ['vllm:prefix_cache_hits_total', {}, 1],
      ['DCGM_FI_DEV_GPU_UTIL', { gpu: '0' }, 70],
    ]),
  ]);
  const b = deriveServerMetrics('candidate', [gap(0, 'HTTP 500')]);
  t.is(
    serverMetricsCsv([a, b]),
    'arm,scrapes,gaps,span_s,prefix_cache_queries,prefix_cache_hits,prefix_cache_hit_rate,requests_running_mean,requests_running_max,requests_waiting_mean,requests_waiting_max,kv_cache_usage_pct_mean,kv_cache_usage_pct_max,gpu_utilization_pct_mean,gpu_utilization_pct_max,gpus,' +
      // added at the end with multi-target scraping, so readers of the first 16 columns keep working
      'targets,kv_cache_usage_method,external_prefix_cache_queries,external_prefix_cache_hits,external_prefix_cache_hit_rate,inflight_mean,inflight_max,queued_mean,queued_max,ttft_server_p50_ms,ttft_server_p99_ms,itl_server_p50_ms,itl_server_p99_ms,request_duration_server_p50_ms,request_duration_server_p99_ms\n' +
      'baseline,2,0,5,3,1,0.333333,,,,,,,80,90,1,1,,,,,,,,,,,,,,\n' +
      'candidate,0,1,,,,,,,,,,,,,,1,,,,,,,,,,,,,,\n',
  );
  const lines = formatServerMetrics([a, b]);
  t.regex(lines.find((l) => l.startsWith('prefix-cache hit rate')) ?? '', /33\.3 % \(worker\)\s+not exposed/);
});

test('parseMetricsLines names the file and line of a bad entry and tolerates a truncated last line', (t) => {
  const good = JSON.stringify(gap(0, 'x'));
  t.is(parseMetricsLines(`${good}\n${good}\n{"v":1,"ki`, 'm.jsonl').entries.length, 2);
  t.throws(() => parseMetricsLines(`${good}\n{"v":3}\n${good}\n`, 'm.jsonl'), {
    message: /^m\.jsonl:2: unknown metrics line version 3 \(this build reads 1 and 2\)/,
  });
  t.throws(
    () =>
      parseMetricsLines(`{"v":1,"kind":"scrape","arm":"a","mono_ns":1,"samples":[{"name":"x","labels":{},"value":"lots"}]}\n`, 'm.jsonl'),
    { message: /m\.jsonl:1: samples: bad value "lots"/ },
  );
});
