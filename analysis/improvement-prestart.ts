// A head start for the two largest computations of buildReport (report.ts): the bootstraps of the
// paired TTFT and E2E improvements (1,000 resamples of every ok pair). Started on the helper
// threads as soon as the records are read, they run while the main thread computes the per-arm
// statistics, and buildReport's bootstrap() calls join them (bootstrap.ts prestartBootstrap).
// The inputs are rebuilt here the way report.ts improvement() builds them; if the two ever differ,
// bootstrap() finds no matching job and computes its own — the head start is lost, never the result.
// test/analysis-read.test.ts checks that buildReport joins both.
import { BASELINE, CANDIDATE } from '../core/record.ts';
import { prestartBootstrap } from './stats/bootstrap.ts';
import { OUTCOME_CODE, PRESENT_MEASURED, type RunCollector } from './collect.ts';
import type { Gates } from './gates.ts';

export function prestartImprovementBootstraps(collector: RunCollector, gates: Gates): void {
  const base = collector.arms.get(BASELINE);
  const cand = collector.arms.get(CANDIDATE);
  if (!base || !cand) return;
  const limit = Math.min(collector.size, base.capacity, cand.capacity);
  const ttft = new Float64Array(limit);
  const e2e = new Float64Array(limit);
  let nTtft = 0;
  let nE2e = 0;
  for (let i = 0; i < limit; i++) {
    if (base.present[i] !== PRESENT_MEASURED || cand.present[i] !== PRESENT_MEASURED) continue;
    if (base.outcome[i] !== OUTCOME_CODE.ok || cand.outcome[i] !== OUTCOME_CODE.ok) continue;
    // improvement = baseline − candidate (ms), pairs measured on both sides (report.ts)
    const dTtft = (base.ttft[i] as number) - (cand.ttft[i] as number);
    const dE2e = (base.e2e[i] as number) - (cand.e2e[i] as number);
    if (dTtft === dTtft) ttft[nTtft++] = dTtft;
    if (dE2e === dE2e) e2e[nE2e++] = dE2e;
  }
  // report.ts seeds each improvement's bootstrap with gates.bootstrap.seed + purpose (1: TTFT, 2: E2E), P99.
  prestartBootstrap(ttft.subarray(0, nTtft), { ...gates.bootstrap, seed: (gates.bootstrap.seed + 1) >>> 0, p: 99 });
  prestartBootstrap(e2e.subarray(0, nE2e), { ...gates.bootstrap, seed: (gates.bootstrap.seed + 2) >>> 0, p: 99 });
}
