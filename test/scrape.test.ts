import test, { type ExecutionContext } from 'ava';
import { createServer, type Server } from 'node:http';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { clockFromOrigin, ExpositionError, parseExposition, readMetricsDir, startScraping } from '../io/prometheus-scrape.ts';
import { deriveServerMetrics } from '../analysis/server-metrics.ts';
import { parseMetricsLines } from '../core/scrape-entry.ts';

// What vLLM (prometheus_client) writes: colons in names, labelled histograms with `le` last,
// _count before _sum, a _created gauge, DCGM exporter series with several labels.
const VLLM_TEXT = `# HELP vllm:num_requests_running Number of requests in model execution batches.
# TYPE vllm:num_requests_running gauge
vllm:num_requests_running{engine="0",model_name="meta-llama/Llama-3.1-8B-Instruct"} 3.0
# HELP vllm:prefix_cache_queries_total Prefix cache queries, in terms of number of queried tokens.
# TYPE vllm:prefix_cache_queries_total counter
vllm:prefix_cache_queries_total{engine="0",model_name="meta-llama/Llama-3.1-8B-Instruct"} 1200.0
# HELP vllm:time_to_first_token_seconds Histogram of time to first token in seconds.
# TYPE vllm:time_to_first_token_seconds histogram
vllm:time_to_first_token_seconds_bucket{engine="0",model_name="m",le="0.001"} 0.0
vllm:time_to_first_token_seconds_bucket{engine="0",model_name="m",le="+Inf"} 5.0
vllm:time_to_first_token_seconds_count{engine="0",model_name="m"} 5.0
vllm:time_to_first_token_seconds_sum{engine="0",model_name="m"} 0.25
vllm:time_to_first_token_seconds_bucket{engine="1",model_name="m",le="0.001"} 1.0
vllm:time_to_first_token_seconds_bucket{engine="1",model_name="m",le="+Inf"} 2.0
vllm:time_to_first_token_seconds_count{engine="1",model_name="m"} 2.0
vllm:time_to_first_token_seconds_sum{engine="1",model_name="m"} 0.5
# TYPE rpc_seconds summary
rpc_seconds{quantile="0.5",path="a"} 4
rpc_seconds_sum{path="a"} 10
rpc_seconds_count{path="a"} 3
escaped{path="C:\\\\DIR\\\\F.TXT",msg="say \\"hi\\"\\nbye"} 1
DCGM_FI_DEV_GPU_UTIL{gpu="0",UUID="GPU-abc",Hostname="h"} 87
DCGM_FI_DEV_GPU_UTIL{gpu="1",UUID="GPU-def",Hostname="h"} 63
nan_gauge NaN
last_line_without_newline 7`;

test('parseExposition keeps every sample with its labels, histograms and summaries included', (t) => {
  const samples = parseExposition(VLLM_TEXT);
  const find = (name: string, labels: Record<string, string> = {}) =>
    samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)).map((s) => s.value);
  t.deepEqual(find('vllm:num_requests_running'), [3]);
  t.deepEqual(find('vllm:prefix_cache_queries_total'), [1200]);
  // labelled histogram series stay apart (the parser alone would collapse them into one)
  t.deepEqual(find('vllm:time_to_first_token_seconds_bucket', { engine: '1', le: '+Inf' }), [2]);
  t.deepEqual(find('vllm:time_to_first_token_seconds_bucket', { engine: '0', le: '0.001' }), [0]);
  t.deepEqual(find('vllm:time_to_first_token_seconds_sum', { engine: '1' }), [0.5]);
  t.deepEqual(find('vllm:time_to_first_token_seconds_count', { engine: '0' }), [5]);
  t.deepEqual(find('rpc_seconds', { quantile: '0.5' }), [4]);
  t.deepEqual(find('rpc_seconds_count', { path: 'a' }), [3]);
  const escaped = samples.find((s) => s.name === 'escaped');
  t.deepEqual(escaped?.labels, { path: 'C:\\DIR\\F.TXT', msg: 'say "hi"\nbye' });
  t.deepEqual(find('DCGM_FI_DEV_GPU_UTIL'), [87, 63]);
  t.deepEqual(find('nan_gauge'), ['NaN']);
  t.deepEqual(find('last_line_without_newline'), [7]);
});

test('parseExposition refuses a body that is not Prometheus text', (t) => {
  t.throws(() => parseExposition('<html><body>Not Found</body></html>\n'), { instanceOf: ExpositionError, message: /not Prometheus text/ });
  t.throws(() => parseExposition('metric{label=unquoted} 1\n'), { instanceOf: ExpositionError });
  t.deepEqual(parseExposition(''), []);
});

/** A /metrics endpoint whose counters move on every request; `failFirst` requests answer 503. */
function metricsServer(failFirst: number): Promise<{ url: string; server: Server; served: (n: number) => Promise<void> }> {
  let count = 0;
  const waiters: Array<{ n: number; resolve: () => void }> = [];
  const server = createServer((req, res) => {
    count++;
    if (req.url !== '/metrics') {
      res.writeHead(404).end();
    } else if (count <= failFirst) {
      res.writeHead(503).end('warming up');
    } else {
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
      res.end(
        `vllm:num_requests_running{engine="0"} ${count % 3}\n` +
          `vllm:num_requests_waiting{engine="0"} 1\n` +
          `vllm:prefix_cache_queries_total{engine="0"} ${count * 100}\n` +
          `vllm:prefix_cache_hits_total{engine="0"} ${count * 25}\n` +
          `DCGM_FI_DEV_GPU_UTIL{gpu="0"} 50\nDCGM_FI_DEV_GPU_UTIL{gpu="1"} 70\n`,
      );
    }
    for (const w of waiters.filter((w) => count >= w.n)) w.resolve();
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      resolve({
        url: `http://127.0.0.1:${port}/metrics`,
        server,
        served: (n) => (count >= n ? Promise.resolve() : new Promise((r) => waiters.push({ n, resolve: r }))),
      });
    });
  });
}

const closePort = async (): Promise<number> => {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
};

/** A run folder, a metrics server failing its first `failures` scrapes, and a baseline scraper of it every `intervalMs`; all torn down with the test. */
async function scrapeFixture(t: ExecutionContext, failures: number, intervalMs: number) {
  const runDir = await mkdtemp(join(tmpdir(), 'sb-scrape-'));
  t.teardown(() => rm(runDir, { recursive: true, force: true }));
  const target = await metricsServer(failures);
  t.teardown(() => new Promise<void>((r) => target.server.close(() => r())));
  const scraper = await startScraping({
    arm: 'baseline',
    url: target.url,
    intervalMs,
    runDir,
    clock: clockFromOrigin(process.hrtime.bigint()),
  });
  return { runDir, target, scraper };
}

test('scraper appends scrapes, records failed scrapes as gaps and keeps going', async (t) => {
  const { runDir, target, scraper } = await scrapeFixture(t, 2, 20);
  await target.served(6);
  const summary = await scraper.stop();
  t.is(summary.gaps, 2);
  t.true(summary.scrapes >= 5); // 4 before stop (at least) + the final scrape
  const { entries } = parseMetricsLines(await readFile(scraper.file, 'utf8'), scraper.file);
  t.is(entries.length, summary.scrapes + summary.gaps);
  t.deepEqual(
    entries.slice(0, 2).map((e) => (e.kind === 'gap' ? e.error : 'scrape')),
    ['HTTP 503', 'HTTP 503'],
  );
  t.deepEqual(
    entries.map((e) => e.seq),
    entries.map((_, i) => i),
  );
  for (let i = 1; i < entries.length; i++) t.true((entries[i]?.mono_ns ?? 0) >= (entries[i - 1]?.mono_ns ?? 0));
  // the derivation sees the counters move by 100 queries / 25 hits per request
  const derived = deriveServerMetrics('baseline', entries);
  t.is(derived.gaps, 2);
  t.is(derived.prefix_cache?.hit_rate, 0.25);
  t.is(derived.gpu_utilization_pct?.mean, 60);
  t.is(derived.gpu_utilization_pct?.gpus, 2);
  t.is(derived.requests_waiting?.max, 1);
  const read = await readMetricsDir(runDir);
  t.deepEqual([...read.byArm.keys()], ['baseline']);
});

test('startScraping returns once the first scrape is written: traffic sent after it is counted from that baseline', async (t) => {
  // a long interval: only the first scrape can have happened when startScraping resolves
  const { scraper } = await scrapeFixture(t, 0, 60_000);
  const { entries } = parseMetricsLines(await readFile(scraper.file, 'utf8'), scraper.file);
  t.deepEqual(
    entries.map((e) => [e.kind, e.seq]),
    [['scrape', 0]],
  );
  await scraper.stop();
});

test('a target that is down leaves only gaps, with the connection error, and stop() still returns', async (t) => {
  const runDir = await mkdtemp(join(tmpdir(), 'sb-scrape-'));
  t.teardown(() => rm(runDir, { recursive: true, force: true }));
  const port = await closePort();
  const scraper = await startScraping({
    arm: 'candidate',
    url: `http://127.0.0.1:${port}/metrics`,
    intervalMs: 10,
    runDir,
    clock: clockFromOrigin(process.hrtime.bigint()),
  });
  // wait until at least three attempts are on disk (polling the file, bounded)
  for (let i = 0; i < 500; i++) {
    const text = await readFile(scraper.file, 'utf8');
    if (text.split('\n').length > 3) break;
    await new Promise((r) => setImmediate(r));
  }
  const summary = await scraper.stop();
  t.is(summary.scrapes, 0);
  t.true(summary.gaps >= 4);
  const { entries } = parseMetricsLines(await readFile(scraper.file, 'utf8'), scraper.file);
  t.true(entries.every((e) => e.kind === 'gap' && /ECONNREFUSED/.test(e.error)));
  const derived = deriveServerMetrics('candidate', entries);
  t.is(derived.scrapes, 0);
  t.is(derived.prefix_cache, null);
  t.is(derived.gpu_utilization_pct, null);
  t.is(derived.gap_list.length, summary.gaps);
});

test('startScraping refuses a bad interval or URL before writing anything', async (t) => {
  const clock = clockFromOrigin(process.hrtime.bigint());
  await t.throwsAsync(startScraping({ arm: 'baseline', url: 'http://127.0.0.1:1/metrics', intervalMs: 0, runDir: '/nonexistent', clock }), {
    instanceOf: RangeError,
  });
  await t.throwsAsync(startScraping({ arm: 'baseline', url: 'not a url', intervalMs: 10, runDir: '/nonexistent', clock }), {
    instanceOf: TypeError,
  });
});
