// End to end against the simulated endpoints: the baseline's /metrics carries vLLM's names and a DCGM
// GPU gauge; the Dynamo candidate is a frontend (dynamo_frontend_*), two worker metrics ports with
// identical engine="0" label sets and kvstats, and a DCGM endpoint with a foreign GPU behind a selector.
import test from 'ava';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { startSim } from '../sim/server.ts';
import { readMetricsDir, startRunScrapers } from '../io/prometheus-scrape.ts';
import { serverMetricsForRun } from '../pipeline/server-metrics.ts';
import { scrapeTargets, SERVER_METRICS_OPTIONS } from '../cli/metrics-options.ts';
import { parseOptions, UsageError } from '../core/options.ts';
import { closedPort } from './support/load-helpers.ts';

const SYSTEM = 'You are a careful assistant for the finance team. Answer only from the ledger excerpts. '.repeat(20);

async function chat(url: string, question: string): Promise<void> {
  const res = await request(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      model: 'meta-llama/Llama-3.1-8B-Instruct',
      max_tokens: 8,
      messages: [
        { role: 'system', content: SYSTEM },
        { role: 'user', content: question },
      ],
    }),
  });
  await res.body.text();
  if (res.statusCode !== 200) throw new Error(`sim answered ${res.statusCode}`);
}

test('scrapes both simulated arms during traffic; a down target records gaps and the rest carries on', async (t) => {
  const runDir = await mkdtemp(join(tmpdir(), 'sb-scrape-sim-'));
  t.teardown(() => rm(runDir, { recursive: true, force: true }));
  const baseline = await startSim({ profile: 'vllm-single-node', timeScale: 0, seed: 1 });
  const candidate = await startSim({ profile: 'dynamo-disaggregated', timeScale: 0, seed: 2 });
  t.teardown(() => Promise.all([baseline.close(), candidate.close()]));
  const down = `http://127.0.0.1:${await closedPort()}/metrics`;

  const { values } = parseOptions(SERVER_METRICS_OPTIONS, [
    '--baseline-metrics',
    `${baseline.url}/metrics`,
    '--candidate-metrics',
    candidate.metrics.join(','),
    '--candidate-metrics',
    down, // e.g. a DCGM exporter that is not running
    '--metrics-interval-ms',
    '50',
  ]);
  const scraping = await startRunScrapers({
    runDir,
    originNs: process.hrtime.bigint(),
    targets: scrapeTargets(values),
    intervalMs: values.metricsIntervalMs,
  });
  for (let i = 0; i < 6; i++) {
    await Promise.all([chat(baseline.url, `question ${i}`), chat(candidate.url, `question ${i}`)]);
  }
  const summaries = await scraping.stop();
  t.deepEqual(
    summaries.map((s) => [s.arm, s.file.split('/').pop()]),
    [
      ['baseline', 'baseline.jsonl'],
      ['candidate', 'candidate.jsonl'],
      ['candidate', 'candidate.2.jsonl'],
      ['candidate', 'candidate.3.jsonl'],
      ['candidate', 'candidate.4.jsonl'],
      ['candidate', 'candidate.5.jsonl'],
    ],
  );
  t.is((await readdir(join(runDir, 'metrics'))).length, 6);
  const downSummary = summaries[5];
  t.is(downSummary?.scrapes, 0);
  t.true((downSummary?.gaps ?? 0) >= 2); // first scrape + final scrape at least

  // by default only the server latency / length histograms keep their buckets; _sum and _count always kept
  const { byArm } = await readMetricsDir(runDir);
  const names = new Set(byArm.get('baseline')?.flatMap((e) => (e.kind === 'scrape' ? e.samples.map((x) => x.name) : [])));
  t.true(names.has('vllm:time_to_first_token_seconds_bucket'));
  t.true(names.has('vllm:time_to_first_token_seconds_count'));
  // ground truth: the two workers' own counters, read straight from their ports at the end
  const workerCounter = async (url: string, name: string) => {
    const text = await (await request(url)).body.text();
    return Number(new RegExp(`^${name}\\{[^}]*\\} (\\S+)$`, 'm').exec(text)?.[1]);
  };
  const workerUrls = candidate.metrics.slice(1, 3);
  const queries = (await Promise.all(workerUrls.map((u) => workerCounter(u, 'vllm:prefix_cache_queries_total')))).reduce(
    (a, b) => a + b,
    0,
  );
  const hits = (await Promise.all(workerUrls.map((u) => workerCounter(u, 'vllm:prefix_cache_hits_total')))).reduce((a, b) => a + b, 0);

  const result = await serverMetricsForRun(runDir);
  t.deepEqual(
    result.arms.map((a) => a.arm),
    ['baseline', 'candidate'],
  );
  for (const arm of result.arms) {
    t.true(arm.scrapes >= 2, `${arm.arm} scrapes`);
    // six requests sharing a long system prompt: the later ones hit the prefix cache
    t.true((arm.prefix_cache?.queries ?? 0) > 0, `${arm.arm} prefix queries`);
    t.true((arm.prefix_cache?.hit_rate ?? 0) > 0.3, `${arm.arm} hit rate ${arm.prefix_cache?.hit_rate}`);
    t.truthy(arm.requests_running);
    t.truthy(arm.requests_waiting);
    t.truthy(arm.kv_cache_usage_pct);
    t.deepEqual(arm.warnings, []);
  }
  const cand = result.arms[1];
  t.is(result.arms[0]?.gpu_utilization_pct?.gpus, 1);
  // the candidate: frontend, two workers, DCGM (+ the down target); the foreign GPU kept out by the selector
  t.deepEqual(
    cand?.targets?.map((x) => x.roles.join('+')),
    ['frontend', 'worker', 'worker', 'dcgm', ''],
  );
  t.is(cand?.gpu_utilization_pct?.gpus, 2);
  // the workers' identical label sets add up, target by target, to their own counters
  t.is(cand?.prefix_cache?.queries, queries);
  t.is(cand?.prefix_cache?.hits, hits);
  t.is(cand?.kv_cache_usage_pct?.method, 'blocks');
  t.is(cand?.sources?.requests_running?.targets, 2);
  // server-side TTFT from the frontend's histogram: all six requests
  t.is(cand?.ttft_server_ms?.count, 6);
  t.is(cand?.sources?.ttft_server?.role, 'frontend');
  t.deepEqual(cand?.requests, { success: 6 });
  t.is(cand?.gaps, downSummary?.gaps);
  t.true(cand?.gap_list.every((g) => /ECONNREFUSED/.test(g.error)));
  t.regex(result.csv ?? '', /^arm,scrapes,gaps,/);
  t.is(result.csv?.trim().split('\n').length, 3);
});

test('metrics flags: repeatable URLs per arm, bad URL named', (t) => {
  const parse = (argv: string[]) => scrapeTargets(parseOptions(SERVER_METRICS_OPTIONS, argv).values);
  t.deepEqual(parse([]), {});
  t.deepEqual(parse(['--baseline-metrics', 'http://a:1/metrics', '--baseline-metrics', 'http://a:9400/metrics']), {
    baseline: ['http://a:1/metrics', 'http://a:9400/metrics'],
  });
  t.throws(() => parse(['--candidate-metrics', 'localhost:8000']), {
    instanceOf: UsageError,
    message: /--candidate-metrics: localhost: URLs are not supported|--candidate-metrics: got/,
  });
  t.throws(() => parse(['--baseline-metrics', 'not-a-url']), {
    instanceOf: UsageError,
    message: /--baseline-metrics: got "not-a-url"; expected an http\(s\) URL/,
  });
});

test('a run without scrapes has no server metrics (analysis adds nothing)', async (t) => {
  const runDir = await mkdtemp(join(tmpdir(), 'sb-scrape-none-'));
  t.teardown(() => rm(runDir, { recursive: true, force: true }));
  t.deepEqual(await serverMetricsForRun(runDir), { arms: [], csv: null, lines: [], warnings: [] });
});
