// The simulated deployments reproduce the migration guide's table from its mechanism, not from
// per-profile hit rates: each engine's prefix cache is the part of its KV pool that running requests
// do not hold (LRU over 16-token blocks), a disaggregated deployment's engines are prefill workers
// whose pool decode KV never enters, and the multi-worker profiles route round_robin (colocated:
// Dynamo's default, `--router-mode` defaults to round-robin, docs.nvidia.com/dynamo "Router Guide",
// CLI arguments) or kv_aware (disaggregated: the prefill router scores prefill workers by prefix
// overlap, docs.nvidia.com/dynamo "Disaggregated Serving"). The workload is sim/workload.ts
// (multi-turn conversations over Zipf-popular system prompts, documented in docs/SERVER-METRICS.md).
// Virtual time (sim/virtual.ts, engines on an injected clock): the figures replay exactly and
// nothing depends on the machine's speed.
//
// The guide's table (Llama 70B, 100 QPS), which every profile is checked against:
//   vllm-single-node      TTFT P50/P99 85/420 ms, KV hit 15 %, GPU 87 %
//   dynamo-colocated      78/350 ms, 15 %, 72 %
//   dynamo-disaggregated  52/185 ms, 45 %, 78 %
// Tolerances: hit rate ±5 pp, TTFT P50 and P99 ±10 %, GPU ±4 pp.
import test from 'ava';
import { PROFILE_NAMES, PROFILES, type ProfileName } from '../sim/profiles.ts';
import { runVirtual, type VirtualResult } from '../sim/virtual.ts';
import { conversationWorkload } from '../sim/workload.ts';

const REQUESTS = 5000;
const requests = conversationWorkload({ seed: 1, requests: REQUESTS });
const results = new Map<string, VirtualResult>();
const run = (name: ProfileName): VirtualResult => {
  let r = results.get(name);
  if (r === undefined) results.set(name, (r = runVirtual(PROFILES[name], requests, { qps: 100, seed: 1 })));
  return r;
};
const pct = (x: number) => `${(100 * x).toFixed(1)} %`;

for (const name of PROFILE_NAMES) {
  const g = PROFILES[name].guide;
  test(`${name}: hit ${pct(g.prefixHitRate)} ±5 pp, TTFT ${g.ttftP50Ms}/${g.ttftP99Ms} ms ±10 %, GPU ${g.gpuUtilPct} % ±4 pp`, (t) => {
    const r = run(name);
    t.log(
      `${name}: hit ${pct(r.prefixHitRate)}, TTFT ${r.ttftP50Ms.toFixed(1)}/${r.ttftP99Ms.toFixed(1)} ms, GPU ${r.gpuUtilPct.toFixed(1)} %`,
    );
    t.true(Math.abs(r.prefixHitRate - g.prefixHitRate) <= 0.05, `hit ${pct(r.prefixHitRate)}`);
    t.true(Math.abs(r.ttftP50Ms / g.ttftP50Ms - 1) <= 0.1, `TTFT P50 ${r.ttftP50Ms}`);
    t.true(Math.abs(r.ttftP99Ms / g.ttftP99Ms - 1) <= 0.1, `TTFT P99 ${r.ttftP99Ms}`);
    t.true(Math.abs(r.gpuUtilPct - g.gpuUtilPct) <= 4, `gpu ${r.gpuUtilPct}`);
    t.is(r.workerHitRates.length, PROFILES[name].workers);
  });
}

test('the ordering of the guide: TTFT P50 and P99 disaggregated < colocated < one node; hit disaggregated > colocated ≈ one node (±3 pp)', (t) => {
  const [single, colocated, disaggregated] = (['vllm-single-node', 'dynamo-colocated', 'dynamo-disaggregated'] as const).map(run) as [
    VirtualResult,
    VirtualResult,
    VirtualResult,
  ];
  for (const key of ['ttftP50Ms', 'ttftP99Ms'] as const) {
    t.true(
      disaggregated[key] < colocated[key] && colocated[key] < single[key],
      `${key} ${single[key]} ${colocated[key]} ${disaggregated[key]}`,
    );
  }
  t.true(
    disaggregated.prefixHitRate - colocated.prefixHitRate >= 0.2,
    `disaggregated ${disaggregated.prefixHitRate} vs ${colocated.prefixHitRate}`,
  );
  t.true(
    Math.abs(colocated.prefixHitRate - single.prefixHitRate) <= 0.03,
    `colocated ${colocated.prefixHitRate} vs ${single.prefixHitRate}`,
  );
});

test('the mechanism: the disaggregated gain goes away in part with round robin and in part with decode KV in the pool', (t) => {
  // Same engines, one cause removed at a time (3,000 requests). Measured when calibrated: 44.8 % as
  // shipped, 35.4 % with round robin, 33.6 % with decode KV in the prefill workers' pool; and the
  // colocated profile with kv_aware routing 25.4 % (15 % with round robin).
  const part = requests.slice(0, 3000);
  const d = PROFILES['dynamo-disaggregated'];
  const hit = (profile: typeof d) => runVirtual(profile, part, { qps: 100, seed: 1 }).prefixHitRate;
  const shipped = hit(d);
  const roundRobin = hit({ ...d, router: 'round_robin' });
  const sharedPool = hit({ ...d, decodeKvInPool: true });
  const colocatedKv = hit({ ...PROFILES['dynamo-colocated'], router: 'kv_aware' });
  t.log(
    `disaggregated ${pct(shipped)}; round robin ${pct(roundRobin)}; decode KV in pool ${pct(sharedPool)}; colocated kv_aware ${pct(colocatedKv)}`,
  );
  t.true(shipped - roundRobin >= 0.05, 'kv_aware routing is worth ≥ 5 pp');
  t.true(shipped - sharedPool >= 0.05, 'keeping decode KV out of the prefill pool is worth ≥ 5 pp');
  t.true(colocatedKv - run('dynamo-colocated').prefixHitRate >= 0.05, 'kv_aware helps a colocated deployment too');
});
