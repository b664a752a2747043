// One definition of the per-request metrics (core/metrics.ts): the analysis (analysis/collect.ts),
// the k6 Trends and thresholds (k6/script/metrics.ts, fed to the k6 metric doubles and judged the
// way k6 judges thresholds) and the proxy's sliding window (proxy/window.ts) take the same TTFT and
// ITL samples from the same records. The records are chosen where a re-derived definition drifts:
// chunks carrying several tokens (ITL = gap ÷ tokens, not the raw gap), failed requests that did
// stream content (no TTFT / ITL sample), a warm-up request, a buffered record (no token timing).
import test from 'ava';
import { emptyRecord, type RequestRecord } from '../core/record.ts';
import { RunCollector, PRESENT_MEASURED } from '../analysis/collect.ts';
import { DEFAULT_GATES } from '../analysis/gates.ts';
import { percentileSorted } from '../analysis/stats/stats.ts';
import { addRecordMetrics, thresholdReads } from '../k6/script/metrics.ts';
import { gatesToThresholds } from '../k6/script/thresholds.ts';
import { K6_METRICS } from '../k6/script/config.ts';
import { SlidingWindow } from '../proxy/window.ts';
import { Rate, samples, Trend } from './doubles/k6/metrics.ts';
import { state } from './doubles/k6/execution.ts';
import { summaryData } from './doubles/k6/runtime.ts';

const MS = 1e6;

function rec(arm: 'baseline' | 'candidate', index: number, over: Partial<RequestRecord>): RequestRecord {
  const r = emptyRecord({ run_id: 'one', arm, index, item_id: `i${index}`, warmup: false, source: 'k6', streaming: true, scheduled_ns: 0 });
  return { ...r, sent_ns: 0, headers_ns: 5 * MS, end_ns: 400 * MS, outcome: { kind: 'ok' }, ...over };
}

/** Content at these ms after send; first content = first entry. */
const stream = (times: number[], tokens: number[] | null = null): Partial<RequestRecord> => ({
  first_chunk_ns: times[0]! * MS - MS,
  first_content_ns: times[0]! * MS,
  content_ns: times.map((t) => t * MS),
  content_tokens: tokens,
});

const RECORDS: RequestRecord[] = [];
for (const arm of ['baseline', 'candidate'] as const) {
  const k = arm === 'candidate' ? 7 : 0;
  const at = (...ms: number[]) => ms.map((x) => x + k);
  RECORDS.push(
    rec(arm, 0, { ...stream(at(50, 60, 90)), warmup: true }), // warm-up: nothing
    rec(arm, 1, stream(at(40, 52, 100, 130), [1, 1, 4, 2])), // ITL 12, 12 (48/4), 15 (30/2)
    rec(arm, 2, stream(at(70, 80, 95))), // no per-chunk counts: 1 token each (ITL 10, 15)
    rec(arm, 3, { ...stream(at(20, 390)), outcome: { kind: 'protocol_error', message: 'cut' } }), // failed, but content came
    rec(arm, 4, { ...stream(at(35, 300)), outcome: { kind: 'timeout', phase: 'stream', message: 'late' } }),
    rec(arm, 5, stream(at(55, 58, 61, 64), [1, 3, 3, 3])), // ITL 1 ms each
    rec(arm, 6, { ...stream(at(90)), token_timing: false, streaming: false }), // buffered: not measured
  );
}

test('k6 thresholds, the analysis and the proxy window take TTFT and ITL from the same functions', (t) => {
  // The analysis.
  const collector = new RunCollector({ expectRepeat: false, keepText: false });
  for (const r of RECORDS) collector.add(r);

  // k6: the script's metric code with k6's Trend / Rate (doubles record each sample with the arm tag).
  samples.clear();
  const m = {
    ttft: new Trend(K6_METRICS.ttft, true),
    itl: new Trend(K6_METRICS.itl, true),
    e2e: new Trend(K6_METRICS.e2e, true),
    failed: new Rate(K6_METRICS.failed),
    timedOut: new Rate(K6_METRICS.timeout),
  };
  // The proxy's window.
  const window = new SlidingWindow(60_000);
  for (const r of RECORDS) {
    state.tags = { arm: r.arm, scenario: r.arm };
    addRecordMetrics(m, r);
    window.add(r, 1);
  }
  const stats = window.stats(1);

  for (const arm of ['baseline', 'candidate'] as const) {
    const a = collector.arms.get(arm)!;
    const analysisTtft: number[] = [];
    for (let i = 0; i < collector.size; i++)
      if (a.present[i] === PRESENT_MEASURED && !Number.isNaN(a.ttft[i]!)) analysisTtft.push(a.ttft[i]!);
    const analysisItl = a.itl.chunks().flatMap((c) => [...c]);
    const k6 = (name: string) =>
      samples
        .get(name)!
        .values.filter((s) => s.tags.arm === arm)
        .map((s) => s.value);
    const sorted = (v: number[]) => [...v].sort((x, y) => x - y);
    t.deepEqual(sorted(k6('ttft')), sorted(analysisTtft), `${arm} TTFT samples`);
    t.deepEqual(sorted(k6('itl')), sorted(analysisItl), `${arm} ITL samples`);
    // Concrete values, so the test fails if both sides drift together.
    const k = arm === 'candidate' ? 7 : 0;
    t.deepEqual(sorted(analysisTtft), sorted([40 + k, 70 + k, 55 + k]));
    t.deepEqual(sorted(analysisItl), sorted([12, 12, 15, 10, 15, 1, 1, 1]));
    // The proxy window: the same TTFT samples, so the same percentiles.
    const w = stats[arm];
    t.is(w.ttft_samples, analysisTtft.length);
    t.is(w.ttft_p50_ms, percentileSorted(sorted(analysisTtft), 50));
    t.is(w.ttft_p99_ms, percentileSorted(sorted(analysisTtft), 99));
    // Rates: over every measured request, failures included.
    t.deepEqual(k6('request_failed'), [0, 0, 1, 1, 0, 0]);
  }

  // The thresholds as k6 evaluates them (p(99) by linear interpolation, as the analysis' percentile)
  // land on the analysis' own P99: a limit just above passes, just below fails.
  const a = collector.arms.get('candidate')!;
  const ttftP99 = percentileSorted(Float64Array.from([47, 77, 62]).sort(), 99);
  const itlP99 = percentileSorted(Float64Array.from(a.itl.chunks().flatMap((c) => [...c])).sort(), 99);
  const judge = (ttftLimit: number, itlLimit: number) => {
    const gates = { ...DEFAULT_GATES, slo: { enforce: true, ttft_p99_ms: ttftLimit, itl_p99_ms: itlLimit } };
    const data = summaryData(gatesToThresholds(gates), { baseline: 6, candidate: 6 }).metrics as Record<
      string,
      { thresholds: Record<string, { ok: boolean }> }
    >;
    return {
      ttft: data[`${K6_METRICS.ttft}{arm:candidate}`]!.thresholds[`p(99)<=${ttftLimit}`]!.ok,
      itl: data[`${K6_METRICS.itl}{arm:candidate}`]!.thresholds[`p(99)<=${itlLimit}`]!.ok,
    };
  };
  t.deepEqual(judge(ttftP99 + 0.01, itlP99 + 0.01), { ttft: true, itl: true });
  t.deepEqual(judge(ttftP99 - 0.01, itlP99 - 0.01), { ttft: false, itl: false });
  // The script feeds the ITL Trend only when a threshold reads it (slo.enforce), as here.
  t.true(thresholdReads(gatesToThresholds({ ...DEFAULT_GATES, slo: { ...DEFAULT_GATES.slo, enforce: true } }), K6_METRICS.itl));
  t.false(thresholdReads(gatesToThresholds(DEFAULT_GATES), K6_METRICS.itl));
});
