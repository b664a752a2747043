// The nightly regression gate: tonight's candidate against the candidate of a stored reference run.
// Pure: samples of both runs in, one result per rule out.
//
// Each rule measures how much WORSE tonight is than the reference ("worsening", w):
//   regression.max_ttft_p99_increase    w = P99_tonight / P99_reference − 1           (TTFT of ok candidate requests)
//   regression.max_throughput_decrease  w = 1 − tput_tonight / tput_reference          (output tokens/s = Σ ok tokens / window)
//   regression.max_consistency_decrease w = consistency_reference − consistency_tonight (share of ok pairs consistent:
//                                       answer similarity ≥ threshold, tool calls and finish reasons as the gates' consistency section says)
//   regression.max_error_rate_increase  w = error_rate_tonight − error_rate_reference   (non-ok / measured candidate requests, cancelled left out)
// and is decided with a bootstrap of both runs, so noise does not fail the build:
//   - each run's per-request values are resampled independently (seeded, B = bootstrap.resamples;
//     bootstrap.ts's bootstrapReplicates, or exact Binomial draws for 0/1 values),
//     giving B replicates of w; its confidence interval is their (1 − c)/2 and (1 + c)/2 percentiles;
//   - PASS   when the point estimate w ≤ threshold;
//   - FAIL   when w > threshold AND the whole interval lies above it (low > threshold): even the
//            most favourable plausible reading of the two runs is a regression beyond the threshold;
//   - NOISE  when w > threshold but the interval reaches the threshold: reported, does not fail;
//   - SKIPPED when either run has nothing to measure for the rule (reported, does not fail).
// One more rule, regression.comparable, FAILS when the two runs were not driven alike (live or
// replayed traffic, arrival process, rate, time scale, in-flight cap, timeout, streaming, workload:
// from their run.json) or when no metric rule could be compared at all: a reference that cannot be
// compared must not pass the gate silently.
// Throughput treats each run's window as fixed: its variability comes from the requests' output.
// Both runs are evaluated with tonight's gates (same similarity threshold), from per-request values:
// the reference folder's records.jsonl is re-read, so an old reference needs no extra stored data
// (its summary.json, of whatever summary version, is not read). A reference of version-1 records has
// no tool calls and no separate reasoning: its pairs are judged on the answer (and finish reason) alone.
import { hash32, seededRandom } from '../core/random.ts';
import { CANDIDATE, OUTCOME_KINDS } from '../core/record.ts';
import { bootstrapReplicates, type Interval } from './stats/bootstrap.ts';
import { PRESENT_MEASURED, type RunCollector } from './collect.ts';
import type { Gates } from './gates.ts';
import { comparePolicy, failedParts } from './consistency.ts';
import { fmt } from './format.ts';
import { type Report } from './report.ts';
import { percentileSorted } from './stats/stats.ts';

export interface RegressionSamples {
  run_id: string;
  /** TTFT (ms) of the ok candidate requests (warm-up excluded). */
  ttft_ms: Float64Array;
  /** Output tokens of each measured candidate request, 0 when it failed: Σ / window_s = output tokens/s. */
  ok_tokens: Float64Array;
  /** The candidate's measurement window (s): first send to last end. */
  window_s: number | null;
  /** 1 for each measured candidate request that did not succeed, else 0 (cancelled requests left out, as in the error rate). */
  errors: Float64Array;
  /** 1 for each consistent ok pair (analysis/consistency.ts, with the gates' policy), else 0. */
  consistent: Float64Array;
}

export type RuleStatus = 'pass' | 'fail' | 'noise' | 'skipped';

export interface RuleResult {
  /** Gate key path, e.g. "regression.max_ttft_p99_increase". */
  rule: string;
  label: string;
  status: RuleStatus;
  /** The figure on each run (ms, tokens/s or a fraction). */
  tonight: number | null;
  reference: number | null;
  /** Worsening w (relative for TTFT and throughput, a fraction — points/100 — for rates). */
  worsening: number | null;
  /** Bootstrap interval of w. */
  ci: Interval | null;
  /** Largest worsening allowed (null for regression.comparable). */
  threshold: number | null;
  /** The rule watches a decrease: the signed change readers see is −w (as in the message). */
  decrease: boolean;
  message: string;
}

export interface RegressionResult {
  tonight_run_id: string;
  reference_run_id: string;
  rules: RuleResult[];
  /** Whether any rule failed. */
  failed: boolean;
  /** How the rules are decided, for summary.md and the report. */
  method: string;
}

export const REGRESSION_METHOD =
  "Each rule compares tonight's candidate with the reference run's candidate. Both runs' per-request values are resampled independently (seeded bootstrap); " +
  'a rule FAILS only when the worsening exceeds its threshold and the whole confidence interval of the worsening lies beyond the threshold. ' +
  'Beyond the threshold but within the interval is NOISE and does not fail the build.';

const OK = 0; // OUTCOME_KINDS[0] === 'ok'
const CANCELLED = OUTCOME_KINDS.indexOf('cancelled');

/** The per-request values the rules need, from a collector and its report (candidate arm). */
export function regressionSamples(collector: RunCollector, report: Report): RegressionSamples {
  const cand = collector.arms.get(CANDIDATE);
  const arm = report.arms.find((a) => a.arm === CANDIDATE);
  const ttft: number[] = [];
  const okTokens: number[] = [];
  const errors: number[] = [];
  if (cand) {
    for (let i = 0; i < Math.min(collector.size, cand.capacity); i++) {
      if (cand.present[i] !== PRESENT_MEASURED) continue;
      const ok = cand.outcome[i] === OK;
      if (cand.outcome[i] !== CANCELLED) errors.push(ok ? 0 : 1); // as report.ts's error rate

      const tokens = cand.tokens[i] as number;
      okTokens.push(ok && tokens === tokens ? tokens : 0);
      const t = cand.ttft[i] as number;
      if (ok && t === t) ttft.push(t);
    }
  }
  // Consistency per ok pair, with the same pairing as report.ts (both arms measured and ok, ratio known).
  const base = collector.arms.get('baseline');
  const sim = collector.similarity.candidate;
  const policy = comparePolicy(report.gates);
  const columns = collector.pairs.candidate;
  const consistent: number[] = [];
  if (base && cand) {
    for (let i = 0; i < Math.min(collector.size, base.capacity, cand.capacity, sim.length); i++) {
      if (base.present[i] !== PRESENT_MEASURED || cand.present[i] !== PRESENT_MEASURED || base.outcome[i] !== OK || cand.outcome[i] !== OK)
        continue;
      const ratio = sim[i] as number;
      if (ratio !== ratio) continue;
      const failed = failedParts(
        ratio,
        columns.reasoning[i] as number,
        columns.tools[i] as number,
        columns.toolArgs[i] as number,
        columns.finish[i] as number,
        policy,
      );
      consistent.push(failed === 0 ? 1 : 0);
    }
  }
  return {
    run_id: report.run_id,
    ttft_ms: Float64Array.from(ttft),
    ok_tokens: Float64Array.from(okTokens),
    window_s: arm?.throughput.window_s ?? null,
    errors: Float64Array.from(errors),
    consistent: Float64Array.from(consistent),
  };
}

/**
 * B bootstrap replicates of the mean of 0/1 values. Resampling n values of which k are 1 gives
 * Binomial(n, k/n) ones: drawn exactly by skipping geometric gaps between the rarer outcome, so a
 * replicate costs O(min(k, n − k)) instead of O(n) (errors and inconsistent pairs are rare).
 */
export function bernoulliReplicates(values: Float64Array, resamples: number, seed: number): Float64Array {
  const n = values.length;
  let k = 0;
  for (let i = 0; i < n; i++) if (values[i] === 1) k++;
  const random = seededRandom(seed);
  const rareOnes = k <= n - k;
  const q = (rareOnes ? k : n - k) / n; // probability of the rarer outcome per draw
  const out = new Float64Array(resamples);
  const logMiss = Math.log1p(-q);
  for (let b = 0; b < resamples; b++) {
    let rare = 0;
    if (q === 1) rare = n;
    else if (q > 0) {
      // position of the next rare draw: geometric gap ⌊ln U / ln(1 − q)⌋ draws of the common outcome before it
      for (let at = Math.floor(Math.log(1 - random()) / logMiss); at < n; at += 1 + Math.floor(Math.log(1 - random()) / logMiss)) rare++;
    }
    out[b] = (rareOnes ? rare : n - rare) / n;
  }
  return out;
}

function interval(values: Float64Array, confidence: number): Interval {
  const sorted = Float64Array.from(values).sort();
  return { low: percentileSorted(sorted, ((1 - confidence) / 2) * 100), high: percentileSorted(sorted, ((1 + confidence) / 2) * 100) };
}

interface RuleSpec {
  rule: keyof Gates['regression'];
  label: string;
  /** Per-request values of one run. */
  values: (s: RegressionSamples) => Float64Array;
  /** The run's figure from the replicate statistic (mean or P99) of its values. */
  statistic: 'mean' | 'p99';
  figure: (stat: number, s: RegressionSamples) => number | null;
  /** Worsening from the two figures. */
  worsening: (tonight: number, reference: number) => number;
  show: (v: number) => string;
  /** The rule watches a decrease: the signed change shown to readers is −w. */
  decrease: boolean;
  /** A signed change (tonight relative to / minus the reference) for messages. */
  showChange: (change: number) => string;
}

const pct = (v: number) => `${fmt(v * 100)} %`;
const points = (v: number) => `${fmt(v * 100)} point${fmt(v * 100) === '1' ? '' : 's'}`;
const signed = (show: (v: number) => string) => (v: number) => `${v > 0 ? '+' : v < 0 ? '−' : '±'}${show(Math.abs(v))}`;

const RULES: RuleSpec[] = [
  {
    rule: 'max_ttft_p99_increase',
    label: 'TTFT P99 increase',
    values: (s) => s.ttft_ms,
    statistic: 'p99',
    figure: (p99) => p99,
    worsening: (t, r) => t / r - 1,
    show: (v) => `${fmt(v)} ms`,
    decrease: false,
    showChange: signed(pct),
  },
  {
    rule: 'max_throughput_decrease',
    label: 'Output throughput decrease',
    values: (s) => s.ok_tokens,
    statistic: 'mean',
    // output tokens/s = mean ok tokens per request × requests / window (s)
    figure: (mean, s) => (s.window_s ? (mean * s.ok_tokens.length) / s.window_s : null),
    worsening: (t, r) => 1 - t / r,
    show: (v) => `${fmt(v)} tokens/s`,
    decrease: true,
    showChange: signed(pct),
  },
  {
    rule: 'max_consistency_decrease',
    label: 'Output consistency decrease',
    values: (s) => s.consistent,
    statistic: 'mean',
    figure: (mean) => mean,
    worsening: (t, r) => r - t,
    show: pct,
    decrease: true,
    showChange: signed(points),
  },
  {
    rule: 'max_error_rate_increase',
    label: 'Error rate increase',
    values: (s) => s.errors,
    statistic: 'mean',
    figure: (mean) => mean,
    worsening: (t, r) => t - r,
    show: pct,
    decrease: false,
    showChange: signed(points),
  },
];

function evaluate(spec: RuleSpec, tonight: RegressionSamples, reference: RegressionSamples, gates: Gates): RuleResult {
  const threshold = gates.regression[spec.rule];
  const rule = `regression.${spec.rule}`;
  const vt = spec.values(tonight);
  const vr = spec.values(reference);
  const point = (s: RegressionSamples, v: Float64Array): number | null => {
    if (v.length === 0) return null;
    const stat = spec.statistic === 'p99' ? percentileSorted(Float64Array.from(v).sort(), 99) : v.reduce((a, x) => a + x, 0) / v.length;
    return spec.figure(stat, s);
  };
  const t = point(tonight, vt);
  const r = point(reference, vr);
  const skipped = (why: string): RuleResult => ({
    rule,
    label: spec.label,
    status: 'skipped',
    tonight: t,
    reference: r,
    worsening: null,
    ci: null,
    threshold,
    decrease: spec.decrease,
    message: `${spec.label}: not compared (${why})`,
  });
  if (t === null || r === null) return skipped(t === null ? 'nothing measured tonight' : 'nothing measured in the reference run');
  if ((spec.rule === 'max_ttft_p99_increase' || spec.rule === 'max_throughput_decrease') && r <= 0)
    return skipped('the reference figure is 0');
  const w = spec.worsening(t, r);
  const { resamples, confidence, seed } = gates.bootstrap;
  const stat = (s: RegressionSamples, v: Float64Array, run: string): Float64Array => {
    const runSeed = hash32(`${seed}:${rule}:${run}`);
    const raw =
      spec.statistic === 'p99'
        ? bootstrapReplicates(v, { resamples, seed: runSeed, p: 99 }).pcts
        : v.every((x) => x === 0 || x === 1)
          ? bernoulliReplicates(v, resamples, runSeed)
          : bootstrapReplicates(v, { resamples, seed: runSeed, p: 99 }).means;
    return raw.map((x) => spec.figure(x, s) as number);
  };
  const st = stat(tonight, vt, 'tonight');
  const sr = stat(reference, vr, 'reference');
  const ws = new Float64Array(resamples);
  for (let b = 0; b < resamples; b++) ws[b] = spec.worsening(st[b] as number, sr[b] as number);
  const ci = interval(ws, confidence);
  const status: RuleStatus = !(w > threshold) ? 'pass' : ci.low > threshold ? 'fail' : 'noise';
  const change = (x: number) => (spec.decrease ? -x : x);
  const ends = [change(ci.low), change(ci.high)].sort((a, b) => a - b) as [number, number];
  const ciText = `${fmt(confidence * 100)} % CI ${spec.showChange(ends[0])} to ${spec.showChange(ends[1])}`;
  const limit = spec.rule === 'max_ttft_p99_increase' || spec.rule === 'max_throughput_decrease' ? pct(threshold) : points(threshold);
  const verdict =
    status === 'pass'
      ? `within the ${limit} allowed`
      : status === 'fail'
        ? `beyond the ${limit} allowed, and the whole interval is beyond it: a regression`
        : `beyond the ${limit} allowed, but the interval reaches the threshold: within noise, not failing`;
  return {
    rule,
    label: spec.label,
    status,
    tonight: t,
    reference: r,
    worsening: w,
    ci,
    threshold,
    decrease: spec.decrease,
    message: `${spec.label}: tonight ${spec.show(t)} vs reference ${spec.show(r)} (${spec.showChange(change(w))}, ${ciText}); ${verdict}`,
  };
}

/** What of a run's run.json says how it was driven (any engine; absent keys are not compared). */
export interface RunSetup {
  engine?: string;
  config?: Record<string, unknown>;
  workload?: { path?: string; format?: string; items?: number } | null;
}

/**
 * The load setup of a run, as comparable strings: live or replayed traffic, arrival process, rate,
 * time scale, concurrency cap, request timeout, streaming, workload.
 */
function setupOf(run: RunSetup): Map<string, string> {
  const config = run.config ?? {};
  const plan = (typeof config.plan === 'object' && config.plan !== null ? config.plan : {}) as Record<string, unknown>;
  const out = new Map<string, string>();
  const put = (name: string, value: unknown) => {
    if (value !== undefined && value !== null) out.set(name, String(value));
  };
  // The proxy mirrors live traffic at whatever rate it comes: not a replay at a planned rate.
  if (run.engine !== undefined) put('traffic', run.engine === 'proxy' ? 'live (proxy)' : 'replayed');
  const arrival = plan.arrival ?? config.arrival;
  put('arrival', arrival);
  if (arrival !== 'trace') put('QPS', plan.qps ?? config.qps);
  else put('time scale', plan.timeScale ?? config.timeScale);
  put('max in flight', config.maxInflight); // a cap on pairs in flight changes the load the servers see
  put('timeout (s)', config.timeout); // decides which slow requests count as timeouts (the error rate)
  put('streaming', config.stream);
  put('API', config.api);
  const w = run.workload;
  if (w) {
    put('workload', w.path === undefined ? undefined : w.path.split(/[\\/]/).at(-1));
    put('workload format', w.format);
    put('workload items', w.items);
  }
  put('sample', config.sample);
  return out;
}

/** What the two runs' setups were compared on (the keys both run.json files give) and how they differ ("QPS 8 vs 20"). */
export interface SetupComparison {
  compared: string[];
  differences: string[];
}

/** Compares the load setups of two runs (their run.json); only what both of them state is compared. */
export function compareSetups(tonight: RunSetup, reference: RunSetup): SetupComparison {
  const t = setupOf(tonight);
  const r = setupOf(reference);
  const both = [...t].filter(([k]) => r.has(k));
  return {
    compared: both.map(([k]) => k),
    differences: both.filter(([k, v]) => r.get(k) !== v).map(([k, v]) => `${k} ${v} vs ${r.get(k)}`),
  };
}

function comparable(rules: readonly RuleResult[], setup: SetupComparison | null): RuleResult {
  const base = {
    rule: 'regression.comparable',
    label: 'Comparable runs',
    tonight: null,
    reference: null,
    worsening: null,
    ci: null,
    threshold: null,
    decrease: false,
  } as const;
  if (setup !== null && setup.differences.length > 0) {
    return {
      ...base,
      status: 'fail',
      message: `Comparable runs: no, the runs were driven differently (tonight vs reference: ${setup.differences.join('; ')}); store a reference run with tonight's setup`,
    };
  }
  if (rules.every((r) => r.status === 'skipped')) {
    return {
      ...base,
      status: 'fail',
      message: 'Comparable runs: no, not one rule could be compared (nothing measured on one of the runs)',
    };
  }
  // Unknown is said as unknown, never as "the same": reported, not failing (as any rule with nothing to compare).
  if (setup === null) return { ...base, status: 'skipped', message: 'Comparable runs: not checked, a run folder has no run.json' };
  if (setup.compared.length === 0)
    return {
      ...base,
      status: 'skipped',
      message: 'Comparable runs: not checked, the two run.json files state nothing both can be compared on',
    };
  return { ...base, status: 'pass', message: `Comparable runs: same ${setup.compared.join(', ')}` };
}

/**
 * Compares tonight's candidate with the reference run's candidate, rule by rule; `setup` is how the
 * runs' run.json files compare (compareSetups; null when one is missing): a difference fails
 * regression.comparable.
 */
export function compareRuns(
  tonight: RegressionSamples,
  reference: RegressionSamples,
  gates: Gates,
  setup: SetupComparison | null = null,
): RegressionResult {
  const metricRules = RULES.map((spec) => evaluate(spec, tonight, reference, gates));
  const rules = [comparable(metricRules, setup), ...metricRules];
  return {
    tonight_run_id: tonight.run_id,
    reference_run_id: reference.run_id,
    rules,
    failed: rules.some((r) => r.status === 'fail'),
    method: REGRESSION_METHOD,
  };
}
