// The load command scraping server metrics end to end: real simulated endpoints (their /metrics carry
// vLLM's names and DCGM's GPU gauge), a short run through cli/load.ts, then the analysis it runs:
// summary.json, server-metrics.csv, cost.csv, report.html and the terminal report. Serial: each test
// sends real (loopback) traffic on a shared 2-core machine.
import test from 'ava';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RequestRecord } from '../core/record.ts';
import type { ArmCost } from '../analysis/cost.ts';
import type { Report } from '../analysis/report.ts';
import { parseMetricsLines } from '../core/scrape-entry.ts';
import { readRecords } from '../io/records-file.ts';
import { readMetricsDir } from '../io/prometheus-scrape.ts';
import { run } from '../cli/load.ts';
import { UsageError } from '../core/options.ts';
import { capturingStdout, closedPort, startTestSim as sim, tempDir } from './support/load-helpers.ts';

const readJson = (file: string) => JSON.parse(readFileSync(file, 'utf8'));

test.serial(
  '--baseline-metrics / --candidate-metrics: scraped during the run; summary, CSVs, report and terminal show hit rate, GPU utilisation and cost',
  async (t) => {
    const [b, c] = [await sim(t), await sim(t, { profile: 'dynamo-disaggregated' })];
    const dir = join(tempDir('sb-load-metrics-'), 'run');
    const { value: code, stdout } = await capturingStdout(() =>
      run([
        '--baseline',
        b.url,
        '--candidate',
        c.url,
        '--baseline-metrics',
        `${b.url}/metrics`,
        '--candidate-metrics',
        c.metrics.join(','), // the Dynamo sim: frontend, two worker ports, DCGM with its selector
        '--metrics-interval-ms',
        '100',
        '--qps',
        '10',
        '--requests',
        '20',
        '--no-progress',
        '--out',
        dir,
        '--baseline-cost-per-hour',
        '12',
        '--candidate-nodes',
        '1',
        '--candidate-gpus-per-node',
        '2',
        '--gpu-hour-price',
        '4',
      ]),
    );
    t.true(code === 0 || code === 1, `exit ${code}`);

    // Scrapes are on the records' clock.
    const { records } = await readRecords(join(dir, 'records.jsonl'));
    t.is(records.length, 40);
    const sends = records.map((r: RequestRecord) => r.sent_ns as number);
    const ends = records.map((r: RequestRecord) => r.end_ns as number);
    t.deepEqual(readdirSync(join(dir, 'metrics')).sort(), [
      'baseline.jsonl',
      'candidate.2.jsonl',
      'candidate.3.jsonl',
      'candidate.4.jsonl',
      'candidate.jsonl',
    ]);
    for (const arm of ['baseline', 'candidate']) {
      const file = join(dir, 'metrics', `${arm}.jsonl`);
      const { entries } = parseMetricsLines(readFileSync(file, 'utf8'), file);
      // No gap but a timeout: the scrape limit follows the 100 ms interval (250 ms), which a loaded
      // machine can exceed (it did once: a 307 ms scrape); that is recorded as a gap, as it should be.
      t.true(
        entries.every((e) => e.kind === 'scrape' || /aborted due to timeout/.test(e.error)),
        `${arm}: no gaps but timeouts: ${JSON.stringify(entries.filter((e) => e.kind === 'gap'))}`,
      );
      // What the design guarantees, whatever the machine's load: scraping starts when the run's origin is
      // set (START_DELAY_NS ahead of it, engine/run-load.ts, so on a quiet machine the first scrape comes
      // before the first send; a loaded machine delayed it past the first send by 9.95 ms once, so that
      // order is not asserted), scrapes follow each other, and the final one follows the last response.
      t.deepEqual(
        entries.map((e) => e.seq),
        entries.map((_, i) => i),
        `${arm}: scrapes in sequence`,
      );
      t.true(
        entries.every((e, i) => i === 0 || e.mono_ns > entries[i - 1]!.mono_ns),
        `${arm}: scrape times increase`,
      );
      t.true(Math.min(...sends) >= 0);
      const after = entries.at(-1)!.mono_ns - Math.max(...ends);
      t.true(after >= 0, `${arm}: last scrape ${after} ns after the last response`);
    }

    const manifest = readJson(join(dir, 'run.json'));
    t.like(manifest.config, {
      baselineCostPerHour: 12,
      candidateNodes: 1,
      candidateGpusPerNode: 2,
      gpuHourPrice: 4,
      metricsIntervalMs: 100,
    });
    t.deepEqual(manifest.config.metricsTargets, { baseline: [`${b.url}/metrics`], candidate: c.metrics });

    const summary: Report = readJson(join(dir, 'summary.json'));
    t.deepEqual(
      summary.server_metrics?.map((m) => m.arm),
      ['baseline', 'candidate'],
    );
    const { byArm } = await readMetricsDir(dir);
    for (const m of summary.server_metrics ?? []) {
      const lines = byArm.get(m.arm) ?? []; // every target of the arm (the Dynamo candidate has four)
      t.true(m.scrapes >= 2, `${m.arm}: ${m.scrapes} scrapes`);
      t.deepEqual(
        [m.scrapes, m.gaps],
        [lines.filter((e) => e.kind === 'scrape').length, lines.filter((e) => e.kind === 'gap').length],
        'the summary counts what the file holds',
      );
      // the sample workload's shared system prompts hit the simulated prefix cache
      t.true((m.prefix_cache?.queries ?? 0) > 0, `${m.arm}: prefix-cache queries`);
      const rate = m.prefix_cache?.hit_rate;
      t.true(typeof rate === 'number' && rate > 0 && rate <= 1, `${m.arm}: hit rate ${rate}`);
      t.is(m.gpu_utilization_pct?.gpus, m.arm === 'baseline' ? 1 : 2); // the DCGM selector keeps the foreign GPU out
      t.true((m.gpu_utilization_pct?.max ?? -1) >= 0);
      t.truthy(m.requests_running);
    }
    // cost = price ÷ measured throughput, from the summary's own throughput figures
    const costs = summary.cost as ArmCost[];
    t.deepEqual(
      costs.map((x) => [x.arm, x.cost_per_hour]),
      [
        ['baseline', 12],
        ['candidate', 8],
      ],
    );
    for (const x of costs) {
      const arm = summary.arms.find((a) => a.arm === x.arm)!;
      t.is(x.cost_per_1k_queries, (x.cost_per_hour / (arm.throughput.ok_requests_per_s! * 3600)) * 1000);
    }
    t.is(readFileSync(join(dir, 'server-metrics.csv'), 'utf8').trim().split('\n').length, 3);
    t.regex(readFileSync(join(dir, 'cost.csv'), 'utf8'), /^arm,cost_per_hour,.*\nbaseline,12,direct,8760,/);

    const html = readFileSync(join(dir, 'report.html'), 'utf8');
    for (const label of ['KV-cache (prefix) hit rate', 'GPU utilisation (mean)', 'Cost per 1,000 queries', 'Cost per 1M output tokens'])
      t.true(html.includes(`<th scope="row">${label}</th>`), label);
    t.regex(stdout, /Server metrics \(scraped/);
    t.regex(stdout, /prefix-cache hit rate +\d/);
    t.regex(stdout, /GPU utilisation mean \/ max +\d/);
    t.regex(stdout, /\nCost\nbaseline +12\.00\/h \(direct\)/);
  },
);

test.serial('a metrics target that is down: the run completes, the gap is recorded and reported, the other arm is scraped', async (t) => {
  const [b, c] = [await sim(t), await sim(t)];
  const dir = join(tempDir('sb-load-metrics-'), 'run');
  const down = `http://127.0.0.1:${await closedPort()}/metrics`;
  const { value: code, stdout } = await capturingStdout(() =>
    run([
      '--baseline',
      b.url,
      '--candidate',
      c.url,
      '--baseline-metrics',
      `${b.url}/metrics`,
      '--candidate-metrics',
      down,
      '--metrics-interval-ms',
      '100',
      '--qps',
      '20',
      '--requests',
      '10',
      '--no-progress',
      '--out',
      dir,
    ]),
  );
  t.true(code === 0 || code === 1, `exit ${code}`);
  const { records } = await readRecords(join(dir, 'records.jsonl'));
  t.is(records.length, 20);
  t.true(records.every((r) => r.outcome.kind === 'ok'));
  const summary: Report = readJson(join(dir, 'summary.json'));
  const [base, cand] = summary.server_metrics ?? [];
  t.true((base?.scrapes ?? 0) >= 2, 'the reachable arm is scraped'); // its gaps, if any, are timeouts on a loaded machine
  t.true(
    base?.gap_list.every((g) => /aborted due to timeout/.test(g.error)),
    JSON.stringify(base?.gap_list),
  );
  t.is(cand?.arm, 'candidate');
  t.is(cand?.scrapes, 0);
  t.true((cand?.gaps ?? 0) >= 2, 'first and final scrape at least');
  t.true(cand?.gap_list.every((g) => /ECONNREFUSED/.test(g.error)));
  t.is(cand?.prefix_cache, null);
  t.is(summary.cost, undefined, 'no price given: no cost key');
  t.false(existsSync(join(dir, 'cost.csv')));
  t.true(summary.notes.some((n) => /^candidate: \d+ of \d+ metrics scrapes failed/.test(n)));
  t.regex(stdout, /! candidate: \d+ of \d+ scrapes failed \(first: .*ECONNREFUSED/);
});

test.serial('with the simulated endpoints, --no-metrics scrapes nothing and the summary has no server_metrics key', async (t) => {
  const dir = join(tempDir('sb-load-metrics-'), 'run');
  const { value: code } = await capturingStdout(() =>
    run(['--no-metrics', '--qps', '20', '--requests', '4', '--no-progress', '--out', dir]),
  );
  t.true(code === 0 || code === 1, `exit ${code}`);
  t.false(existsSync(join(dir, 'metrics')));
  t.false(existsSync(join(dir, 'server-metrics.csv')));
  t.deepEqual(readJson(join(dir, 'run.json')).config.metricsTargets, {});
  t.false('server_metrics' in readJson(join(dir, 'summary.json')));
});

test('start-up validation of the metrics, cost, gates and k6 flags names the flag (nothing is started)', async (t) => {
  const ends = ['--baseline', 'http://127.0.0.1:9', '--candidate', 'http://127.0.0.1:9'];
  await t.throwsAsync(run([...ends, '--no-metrics', '--baseline-metrics', 'http://127.0.0.1:9/metrics']), {
    instanceOf: UsageError,
    message: /--no-metrics contradicts --baseline-metrics/,
  });
  await t.throwsAsync(run([...ends, '--candidate-metrics', 'not-a-url']), {
    instanceOf: UsageError,
    message: /^--candidate-metrics: got "not-a-url"/,
  });
  await t.throwsAsync(run([...ends, '--candidate-metrics', 'http://127.0.0.1:9/metrics{pod=~"("}']), {
    instanceOf: UsageError,
    message: /^--candidate-metrics: pod=~"\(": not a valid regular expression/,
  });
  await t.throwsAsync(run([...ends, '--candidate-metrics', '@/nonexistent/targets.txt']), {
    instanceOf: UsageError,
    message: '--candidate-metrics @/nonexistent/targets.txt: cannot read (ENOENT)',
  });
  await t.throwsAsync(run([...ends, '--candidate-nodes', '2']), {
    instanceOf: UsageError,
    message: /--candidate-nodes needs --gpu-hour-price/,
  });
  await t.throwsAsync(run([...ends, '--k6-mode', 'buffered']), {
    instanceOf: UsageError,
    message: '--k6-mode applies only with --engine k6 (this run uses --engine node)',
  });
  await t.throwsAsync(run([...ends, '--k6-max-vus', '4']), {
    instanceOf: UsageError,
    message: /^--k6-max-vus applies only with --engine k6/,
  });
  await t.throwsAsync(run([...ends, '--k6-expected-latency', '800']), {
    instanceOf: UsageError,
    message: /^--k6-expected-latency applies only with --engine k6/,
  });
  await t.throwsAsync(run([...ends, '--engine', 'k6', '--k6-mode', 'streaming', '--no-stream']), {
    instanceOf: UsageError,
    message: /--k6-mode streaming contradicts --no-stream/,
  });
  await t.throwsAsync(run([...ends, '--gates', 'no/such/gates.yaml']), {
    instanceOf: UsageError,
    message: /^--gates no\/such\/gates\.yaml: cannot read \(ENOENT\)/,
  });
  const bad = join(tempDir('sb-load-gates-'), 'gates.yaml');
  writeFileSync(bad, 'rollback:\n  max_candidate_error_rate: lots\n');
  await t.throwsAsync(run([...ends, '--gates', bad]), {
    instanceOf: UsageError,
    message: /^--gates .*gates\.yaml: .*max_candidate_error_rate/,
  });
});
