// Engine accuracy: achieved rate and first-token timestamps against the server's ground truth.
// These measure real time, so they are not part of `npm test`: `npm run check:timing`
// (ava.timing.config.js) runs them one at a time, and judges them against the machine's own wake-up
// floor measured in the same run. The exact timing behaviour is tested on a virtual clock
// (test/engine-virtual-clock.test.ts).
import test from 'ava';
import { runWakeProbe } from '../../bench/wake-probe.ts';
import { startSimProcess } from '../../sim/process.ts';
import { byArm, endpoints, load } from '../support/engine-run.ts';
import { startTestSim as sim } from '../support/load-helpers.ts';

/** Least-squares rate of events at the given times (ns): 1e9 / slope of time against rank. */
function fittedRate(timesNs: number[]): number {
  const ts = [...timesNs].sort((a, b) => a - b);
  const n = ts.length;
  const meanI = (n - 1) / 2;
  const meanT = ts.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  ts.forEach((t, i) => {
    num += (i - meanI) * (t - meanT);
    den += (i - meanI) ** 2;
  });
  return 1e9 / (num / den);
}

test.serial('constant arrivals: 200 requests at 100 QPS, achieved rate within 1 %, every request recorded on both arms', async (t) => {
  const [b, c] = [await sim(t), await sim(t, { profile: 'dynamo-disaggregated' })];
  const { code, records, manifest } = await load([...endpoints(b, c), '--qps', '100', '--requests', '200']);
  t.is(code, 0);
  t.is(records.length, 400);
  t.is(manifest.counts.pairs_sent, 200);
  for (const arm of ['baseline', 'candidate']) {
    const rs = byArm(records, arm);
    t.deepEqual(
      rs.map((r) => r.index),
      Array.from({ length: 200 }, (_, i) => i),
    );
    t.true(
      rs.every((r) => r.outcome.kind === 'ok'),
      'every request succeeded',
    );
    const rate = fittedRate(rs.map((r) => r.sent_ns!));
    t.true(Math.abs(rate / 100 - 1) < 0.01, `${arm} achieved ${rate.toFixed(2)} QPS`);
    t.deepEqual(rs.map((r) => r.scheduled_ns).slice(0, 3), [0, 10_000_000, 20_000_000]);
  }
  t.is(manifest.interrupted, null);
  t.truthy(manifest.ended_at);
  t.regex(manifest.mono_origin_ns ?? '', /^\d+$/);
});

test.serial('poisson arrivals: seeded, sends follow the schedule, gaps exponential within the statistical tolerance', async (t) => {
  const [b, c] = [await sim(t), await sim(t)];
  const n = 300;
  const first = await load([...endpoints(b, c), '--qps', '100', '--requests', String(n), '--arrival', 'poisson', '--seed', '7']);
  const rs = byArm(first.records, 'baseline');
  t.is(rs.length, n);
  const gaps = rs.slice(1).map((r, i) => (r.scheduled_ns - rs[i]!.scheduled_ns) / 1e9);
  const mean = gaps.reduce((a, b) => a + b, 0) / gaps.length;
  const sd = Math.sqrt(gaps.reduce((a, g) => a + (g - mean) ** 2, 0) / (gaps.length - 1));
  // The mean of n exponential gaps has relative standard error 1/√n; allow 4 of them.
  const tolerance = 4 / Math.sqrt(gaps.length);
  t.true(Math.abs(mean * 100 - 1) < tolerance, `mean gap ${(mean * 1000).toFixed(2)} ms vs 10 ms ± ${(tolerance * 100).toFixed(0)} %`);
  t.true(Math.abs(sd / mean - 1) < 0.3, `coefficient of variation ${(sd / mean).toFixed(2)} (exponential: 1)`);
  // Achieved rate equals the planned one: the engine follows the schedule (within 1 %).
  const planned = fittedRate(rs.map((r) => r.scheduled_ns));
  const achieved = fittedRate(rs.map((r) => r.sent_ns!));
  t.true(Math.abs(achieved / planned - 1) < 0.01, `achieved ${achieved.toFixed(2)} vs planned ${planned.toFixed(2)} QPS`);
  // Same seed, same schedule.
  const again = await load([...endpoints(b, c), '--qps', '100', '--requests', '20', '--arrival', 'poisson', '--seed', '7']);
  t.deepEqual(
    byArm(again.records, 'baseline').map((r) => r.scheduled_ns),
    rs.slice(0, 20).map((r) => r.scheduled_ns),
  );
});

test.serial("measured TTFT is within 2 ms of the server's ground truth at 50 QPS, beyond the machine's own wake-up floor", async (t) => {
  const [b, c] = await Promise.all([
    startSimProcess('vllm-single-node', ['--time-scale', '0.2']),
    startSimProcess('dynamo-disaggregated', ['--time-scale', '0.2']),
  ]);
  t.teardown(async () => {
    await b.close();
    await c.close();
  });
  // Judged against this machine, measured in the same run: a probe process (bench/wake-probe.ts) that
  // only wakes at due instants runs alongside each attempt; how late it gets the CPU (its P95) is what
  // any thread pays under the same load, so the engine's timestamps and sends are allowed that much on
  // top of their own budget (2 ms first-token error, 1 ms send lag at P95). Up to three attempts.
  let passed = false;
  for (let attempt = 1; attempt <= 3 && !passed; attempt++) {
    const [{ records, manifest }, floor] = await Promise.all([
      load(['--baseline', b.url, '--candidate', c.url, '--qps', '50', '--requests', '100']),
      runWakeProbe(200, 2),
    ]);
    const origin = BigInt(manifest.mono_origin_ns!);
    const errorsMs: number[] = [];
    for (const r of records) {
      const url = r.arm === 'baseline' ? b.url : c.url;
      const truth = (await (
        await fetch(`${url}/sim/ground-truth?id=${encodeURIComponent(`${manifest.run_id}:${r.arm}:${r.index}`)}`)
      ).json()) as { first_content_mono_ns: string };
      errorsMs.push(Number(origin + BigInt(r.first_content_ns!) - BigInt(truth.first_content_mono_ns)) / 1e6);
    }
    const lagsMs = records.map((r) => (r.sent_ns! - r.scheduled_ns) / 1e6);
    const p = (xs: number[], q: number) => [...xs].sort((x, y) => x - y)[Math.floor(q * (xs.length - 1))]!;
    const floorMs = floor.p99Ms;
    t.log(
      `attempt ${attempt}: wake-up floor p50 ${floor.p50Ms.toFixed(3)} / p99 ${floor.p99Ms.toFixed(3)} ms; ` +
        `TTFT timestamp error p50 ${p(errorsMs, 0.5).toFixed(3)}, p95 ${p(errorsMs, 0.95).toFixed(3)}, max ${p(errorsMs, 1).toFixed(3)} ms; ` +
        `send lag p95 ${p(lagsMs, 0.95).toFixed(3)} ms; warnings: ${manifest.warnings.join(' / ') || 'none'}`,
    );
    t.is(errorsMs.length, 200);
    t.true(p(errorsMs, 0) >= 0, 'the client never sees a token before the server sent it (shared monotonic clock)');
    t.true(
      lagsMs.every((x) => x >= 0),
      'never sent before its instant',
    );
    passed = p(errorsMs, 0.95) < 2 + floorMs && p(lagsMs, 0.95) < 1 + floorMs;
  }
  t.true(passed, "95 % of first-token timestamps within 2 ms of the server's and send lag within 1 ms, beyond the wake-up floor");
});
