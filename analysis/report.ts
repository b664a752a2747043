// From collected columns to the report (the content of summary.json): per-arm metrics, the paired
// comparison, output similarity, run validity and the verdict. Pure: no files, no clock.
import { fmt } from './format.ts';
import { BASELINE, BASELINE_REPEAT, CANDIDATE, OUTCOME_KINDS, type OutcomeKind } from '../core/record.ts';
import { bootstrap, type Interval } from './stats/bootstrap.ts';
import { HOURS_PER_MONTH, type ArmCost } from './cost.ts';
import { modelWarnings, PRESENT_MEASURED, type ArmColumns, type Comparison, type RunCollector } from './collect.ts';
import { FINISH_DIFFERENT, finishPairName, TOOLS_ARGUMENTS, TOOLS_NAME, TOOLS_NONE } from './compare.ts';
import { comparePolicy, failedParts, PARTS, PART_BIT, type ComparePolicy } from './consistency.ts';
import { armSkewMs } from '../core/metrics.ts';
import type { Gates } from './gates.ts';
import type { ServerMetrics } from './server-metrics.ts';
import { describe, Float64Column, type Stats } from './stats/stats.ts';
import { decide, type Verdict } from './verdict.ts';

/**
 * Bump when a field of summary.json changes meaning or is removed. Adding an optional field does
 * not bump it: `server_metrics` and `cost` were added in version 1 as keys that are absent when the
 * run has no such figures, so readers of older summaries keep working.
 * Version 2: `similarity.*.consistency` is the share of pairs consistent in every part (answer,
 * tool calls, finish reason; reasoning when the gates say so), no longer the answer alone (that is
 * `answer_consistency` now); `ttfa_ms` joined the arm metrics. Every version-1 key is still there
 * with its type, so a version-1 reader still reads a version-2 summary.
 */
export const SUMMARY_VERSION = 2;

export const ARM_METRICS = [
  ['ttft_ms', 'ms', 'time to first token'],
  ['itl_ms', 'ms', 'inter-token latency (pooled over all chunks)'],
  ['tpot_ms', 'ms', 'time per output token'],
  ['e2e_ms', 'ms', 'end-to-end latency'],
  ['ttfb_ms', 'ms', 'time to first byte'],
  ['first_chunk_ms', 'ms', 'time to first chunk'],
  ['ttfa_ms', 'ms', 'time to first answer token (after reasoning)'],
  ['output_tokens', 'tokens', 'output tokens per request'],
  ['output_tokens_per_s', 'tokens/s', 'output tokens/s per request'],
  ['send_lag_ms', 'ms', 'send lag (sent − scheduled)'],
] as const;
export type ArmMetric = (typeof ARM_METRICS)[number][0];

export interface ArmReport {
  arm: string;
  /** Measured requests (warm-up excluded), any outcome. */
  requests: number;
  warmup_excluded: number;
  ok: number;
  outcomes: Record<OutcomeKind, number>;
  /** Share of requests per outcome kind. */
  outcome_rates: Record<OutcomeKind, number>;
  /**
   * (requests − ok − cancelled) / (requests − cancelled): failures of the server, among the requests it
   * was let finish; null when there is none (every request was cancelled): not measured, not 0.
   */
  error_rate: number | null;
  /** timeouts / (requests − cancelled); null as error_rate. */
  timeout_rate: number | null;
  /** Requests without token timing (k6 buffered mode): their TTFT, ITL and TPOT are "not measured". */
  token_timing_missing: number;
  /** Ok responses that carried reasoning text / called at least one tool (record v2; 0 for version-1 records). */
  reasoning_requests: number;
  tool_call_requests: number;
  /** Which token count the output-token figures use: server usage.completion_tokens, chunk count, or both (mixed). */
  output_tokens_source: 'usage' | 'chunks' | 'mixed' | 'none';
  instances: string[];
  metrics: Record<ArmMetric, Stats | null>;
  throughput: {
    /** First send to last response end of the measured requests (s): includes the drain after the last send. */
    window_s: number | null;
    /** Measured requests / window (completed-request rate, as vLLM's bench reports it). */
    requests_per_s: number | null;
    /** Achieved sending rate: (sent requests − 1) / (last send − first send), the offered load (req/s). */
    send_rate_per_s: number | null;
    ok_requests_per_s: number | null;
    /** Σ output tokens of ok requests / window. */
    output_tokens_per_s: number | null;
  };
  /** Ok requests meeting the SLOs individually: TTFT ≤ slo.ttft_p99_ms and TPOT ≤ slo.itl_p99_ms (or ≤ 1 token); share = of the measured requests shadowbench did not cancel. */
  goodput: { requests: number; share: number | null; per_s: number | null };
  slo: { ttft_p99_ms: SloCheck; itl_p99_ms: SloCheck };
}

export interface SloCheck {
  limit: number;
  value: number | null;
  /** null when not measured. */
  met: boolean | null;
}

export interface Improvement {
  /** baseline − candidate (ms) per ok pair: positive = candidate faster. */
  stats: Stats | null;
  ci: { resamples: number; confidence: number; mean: Interval; p99: Interval } | null;
}

export interface SimilarityReport {
  pairs: number;
  /**
   * Share of pairs consistent in every part: answer ratio ≥ threshold AND tool calls match AND
   * finish reasons equal (consistency.finish_reason) AND reasoning ratio ≥ consistency.reasoning_threshold
   * (when set). Version 1: answer only.
   */
  consistency: number | null;
  /** Answer ratio of the pairs. */
  ratio: Stats | null;
  /** Share of pairs with answer ratio ≥ threshold (the answer alone; version 1's `consistency`). */
  answer_consistency: number | null;
  /** Pairs failing each part; a pair may fail several, so the parts can add up to more than `pairs`. */
  inconsistent: { pairs: number; text: number; tool_name: number; tool_arguments: number; finish_reason: number; reasoning: number };
  /** Reasoning similarity of the pairs where either side reasoned; null when none did. */
  reasoning: {
    pairs: number;
    /** Share with ratio ≥ consistency.reasoning_threshold (similarity_threshold when that is null). */
    consistency: number | null;
    threshold: number;
    ratio: Stats | null;
  } | null;
  tool_calls: {
    /** Pairs where either side called a tool. */
    pairs_with_tools: number;
    /** The count, a name or the order of the calls differs. */
    name_mismatch: number;
    /** Same names, arguments different after canonicalisation (some may be accepted as similar). */
    arguments_differ: number;
    /** Arguments that make the pair inconsistent under consistency.tool_arguments. */
    argument_mismatch: number;
    /** Lowest per-call argument score of the pairs whose arguments differ (string arguments by difflib ratio). */
    arguments_similarity: Stats | null;
  };
  finish_reason: {
    /** Pairs whose finish reasons differ (inconsistent only when consistency.finish_reason). */
    mismatch: number;
    /** "baseline→other": pairs, for the differing ones. */
    table: Record<string, number>;
  };
}

export interface Report {
  schema: 'shadowbench.summary';
  version: typeof SUMMARY_VERSION;
  run_id: string;
  records: { read: number; warnings: string[] };
  arms: ArmReport[];
  comparison: {
    baseline: string;
    candidate: string;
    /** Indices measured on both arms. */
    pairs: number;
    /** Indices where both arms succeeded. */
    ok_pairs: number;
    ttft_improvement_ms: Improvement;
    e2e_improvement_ms: Improvement;
    /** candidate sent − baseline sent, per index sent on both arms. */
    arm_skew_ms: Stats | null;
    /** P99 of |arm skew| (the validity check). */
    arm_skew_abs_p99_ms: number | null;
  };
  similarity: {
    threshold: number;
    /** Python difflib.SequenceMatcher(None, baseline, other).ratio() over ok pairs. */
    method: string;
    baseline_vs_candidate: SimilarityReport;
    /** The baseline against its own repeat (A/A): how much it diverges from itself. null without a baseline_repeat arm. */
    baseline_vs_repeat: SimilarityReport | null;
  };
  validity: {
    valid: boolean;
    problems: string[];
    dropped_iterations: number | null;
    /** Planned requests without a record, per arm (run.json `planned` − records); absent when run.json plans none. Optional, added in version 1. */
    not_sent?: Record<string, number>;
  };
  gates: Gates;
  verdict: Verdict;
  notes: string[];
  /** Server-side figures per scraped arm (analysis/server-metrics.ts); absent when the run was not scraped. Optional, added in version 1. */
  server_metrics?: ServerMetrics[];
  /** Cost per priced arm at the tested load (analysis/cost.ts); absent when no arm has a price. Optional, added in version 1. */
  cost?: ArmCost[];
}

export interface RunContext {
  /** Warnings from reading records.jsonl (truncated last line...). */
  readWarnings: string[];
  /** run.json `warnings`, when the manifest exists. */
  manifestWarnings: string[];
  /** Dropped iterations reported in run.json (a `dropped_iterations` counter or a warning starting with it). */
  droppedIterations: number | null;
  /** Why the run is not complete (run.json `status` interrupted, failed or still running), else null. */
  interrupted?: string | null;
  /** Planned requests without a record, per arm (null: run.json plans none). */
  notSent?: Record<string, number> | null;
  /** The folder has no run.json: its status and plan are unknown (a warning; a validity problem with manifestRequired). */
  noManifest?: boolean;
  /** A missing run.json is a validity problem (`gate`: a run not known to be complete never passes). */
  manifestRequired?: boolean;
  /** Per arm, the models its requests asked for (run.json: the arm's model, else the workload's); unknown arms absent. */
  askedModels?: ReadonlyMap<string, readonly string[]> | null;
}

/** The validity problem of planned requests that have no record, or null when every one was recorded. */
export function notSentProblem(notSent: Record<string, number> | null | undefined): string | null {
  if (notSent === null || notSent === undefined) return null;
  const missing = Object.entries(notSent).filter(([, n]) => n > 0);
  if (missing.length === 0) return null;
  return `planned requests never sent or never recorded: ${missing.map(([arm, n]) => `${arm} ${n}`).join(', ')} (not_sent): the run did not carry out its plan`;
}

const okCode = 0; // OUTCOME_KINDS[0] === 'ok'

function armReport(a: ArmColumns, size: number, gates: Gates): ArmReport {
  const outcomes = Object.fromEntries(OUTCOME_KINDS.map((k) => [k, 0])) as Record<OutcomeKind, number>;
  let windowStart = Infinity;
  let windowEnd = -Infinity;
  let okTokens = 0;
  let good = 0;
  let timedOk = 0;
  let lastSend = -Infinity;
  let sends = 0;
  for (let i = 0; i < Math.min(size, a.capacity); i++) {
    if (a.present[i] !== PRESENT_MEASURED) continue;
    const kind = OUTCOME_KINDS[a.outcome[i] as number] as OutcomeKind;
    outcomes[kind]++;
    const sent = a.sentNs[i] as number;
    const end = a.endNs[i] as number;
    if (sent === sent) {
      sends++;
      if (sent < windowStart) windowStart = sent;
      if (sent > lastSend) lastSend = sent;
    }
    if (end === end && end > windowEnd) windowEnd = end;
    if (a.outcome[i] !== okCode) continue;
    const tokens = a.tokens[i] as number;
    if (tokens === tokens) okTokens += tokens;
    const ttft = a.ttft[i] as number;
    if (ttft !== ttft) continue;
    timedOk++;
    const tpot = a.tpot[i] as number;
    if (ttft <= gates.slo.ttft_p99_ms && (tpot !== tpot || tpot <= gates.slo.itl_p99_ms)) good++;
  }
  const n = a.requests;
  const rate = (count: number) => (n > 0 ? count / n : 0);
  const judged = n - outcomes.cancelled;
  const window_s = windowEnd > windowStart ? (windowEnd - windowStart) / 1e9 : null;
  const perS = (count: number) => (window_s === null ? null : count / window_s);
  const column = (c: Float64Array) => describe(c.subarray(0, Math.min(size, a.capacity)));
  const metrics: Record<ArmMetric, Stats | null> = {
    ttft_ms: column(a.ttft),
    itl_ms: describe(a.itl),
    tpot_ms: column(a.tpot),
    e2e_ms: column(a.e2e),
    ttfb_ms: column(a.ttfb),
    first_chunk_ms: column(a.firstChunk),
    // Only where something precedes the answer: without reasoning it would repeat TTFT.
    ttfa_ms: a.reasoningRequests > 0 ? column(a.ttfa) : null,
    output_tokens: column(a.tokens),
    output_tokens_per_s: column(a.tokensPerS),
    send_lag_ms: column(a.sendLag),
  };
  const slo = (value: number | null, limit: number): SloCheck => ({ limit, value, met: value === null ? null : value <= limit });
  return {
    arm: a.arm,
    requests: n,
    warmup_excluded: a.warmup,
    ok: outcomes.ok,
    outcomes,
    outcome_rates: Object.fromEntries(OUTCOME_KINDS.map((k) => [k, rate(outcomes[k])])) as Record<OutcomeKind, number>,
    // A cancelled request was ended by shadowbench (Ctrl-C past the grace period), not by the server:
    // it is counted (outcomes) but is neither a success nor a server failure.
    error_rate: judged > 0 ? (judged - outcomes.ok) / judged : null,
    timeout_rate: judged > 0 ? outcomes.timeout / judged : null,
    token_timing_missing: a.untimed,
    output_tokens_source: a.tokensFromUsage > 0 ? (a.tokensFromChunks > 0 ? 'mixed' : 'usage') : a.tokensFromChunks > 0 ? 'chunks' : 'none',
    instances: [...a.instances].sort(),
    metrics,
    reasoning_requests: a.reasoningRequests,
    tool_call_requests: a.toolCallRequests,
    throughput: {
      window_s,
      requests_per_s: perS(n),
      send_rate_per_s: sends > 1 && lastSend > windowStart ? (sends - 1) / ((lastSend - windowStart) / 1e9) : null,
      ok_requests_per_s: perS(outcomes.ok),
      output_tokens_per_s: perS(okTokens),
    },
    // goodput share = good / judged requests (SLO attainment, as DistServe and vLLM's bench define it:
    // a failed request is not good; one shadowbench cancelled is left out, as in the error rate);
    // null when no request had token timing to judge.
    goodput: { requests: good, share: timedOk > 0 && judged > 0 ? good / judged : null, per_s: timedOk > 0 ? perS(good) : null },
    slo: {
      ttft_p99_ms: slo(metrics.ttft_ms?.p99 ?? null, gates.slo.ttft_p99_ms),
      itl_p99_ms: slo(metrics.itl_ms?.p99 ?? null, gates.slo.itl_p99_ms),
    },
  };
}

function improvement(values: Float64Column, gates: Gates, purpose: number): Improvement {
  const stats = describe(values);
  if (stats === null) return { stats, ci: null };
  const flat = new Float64Array(values.length);
  let n = 0;
  for (const c of values.chunks()) for (let i = 0; i < c.length; i++) if (c[i] === c[i]) flat[n++] = c[i] as number;
  const b = bootstrap(flat.subarray(0, n), { ...gates.bootstrap, seed: (gates.bootstrap.seed + purpose) >>> 0, p: 99 });
  return {
    stats,
    ci: { resamples: b.resamples, confidence: b.confidence, mean: b.mean, p99: { low: b.percentile.low, high: b.percentile.high } },
  };
}

/**
 * The pairs of one comparison, part by part. `indices` are the compared pairs (both arms measured
 * and ok, answer ratio known), in index order.
 */
function similarityReport(collector: RunCollector, comparison: Comparison, indices: number[], policy: ComparePolicy): SimilarityReport {
  const answers = collector.similarity[comparison];
  const columns = collector.pairs[comparison];
  const answerRatios = new Float64Array(indices.length);
  const reasoningRatios: number[] = [];
  const argumentScores: number[] = [];
  const inconsistent = { pairs: 0, text: 0, tool_name: 0, tool_arguments: 0, finish_reason: 0, reasoning: 0 };
  const tools = { pairs_with_tools: 0, name_mismatch: 0, arguments_differ: 0, argument_mismatch: 0 };
  const finishTable: Record<string, number> = {};
  let finishMismatch = 0;
  let answerConsistent = 0;
  const reasoningThreshold = policy.reasoning_threshold ?? policy.similarity_threshold;
  let reasoningConsistent = 0;
  for (let k = 0; k < indices.length; k++) {
    const i = indices[k] as number;
    const answer = answers[i] as number;
    const reasoning = columns.reasoning[i] as number;
    const toolCode = columns.tools[i] as number;
    const toolArgs = columns.toolArgs[i] as number;
    const finish = columns.finish[i] as number;
    answerRatios[k] = answer;
    if (answer >= policy.similarity_threshold) answerConsistent++;
    if (reasoning === reasoning) {
      reasoningRatios.push(reasoning);
      if (reasoning >= reasoningThreshold) reasoningConsistent++;
    }
    if (toolCode !== TOOLS_NONE) tools.pairs_with_tools++;
    if (toolCode === TOOLS_NAME) tools.name_mismatch++;
    if (toolCode === TOOLS_ARGUMENTS) {
      tools.arguments_differ++;
      argumentScores.push(toolArgs);
    }
    if (finish === FINISH_DIFFERENT) {
      finishMismatch++;
      const key = finishPairName(columns.finishPair[i] as number);
      finishTable[key] = (finishTable[key] ?? 0) + 1;
    }
    const bits = failedParts(answer, reasoning, toolCode, toolArgs, finish, policy);
    if (bits === 0) continue;
    inconsistent.pairs++;
    for (const part of PARTS) if ((bits & PART_BIT[part]) !== 0) inconsistent[part]++;
  }
  tools.argument_mismatch = inconsistent.tool_arguments;
  const n = indices.length;
  const sortedTable = Object.fromEntries(Object.entries(finishTable).sort(([a, x], [b, y]) => y - x || (a < b ? -1 : a > b ? 1 : 0)));
  return {
    pairs: n,
    consistency: n > 0 ? (n - inconsistent.pairs) / n : null,
    ratio: describe(answerRatios),
    answer_consistency: n > 0 ? answerConsistent / n : null,
    inconsistent,
    reasoning:
      reasoningRatios.length > 0
        ? {
            pairs: reasoningRatios.length,
            consistency: reasoningConsistent / reasoningRatios.length,
            threshold: reasoningThreshold,
            ratio: describe(Float64Array.from(reasoningRatios)),
          }
        : null,
    tool_calls: { ...tools, arguments_similarity: describe(Float64Array.from(argumentScores)) },
    finish_reason: { mismatch: finishMismatch, table: sortedTable },
  };
}

/** Builds the full report. `collector` must have received every record and every similarity answer. */
export function buildReport(collector: RunCollector, gates: Gates, context: RunContext): Report {
  const size = collector.size;
  const order = [BASELINE, CANDIDATE, BASELINE_REPEAT];
  const armNames = [...collector.arms.keys()].sort((x, y) => {
    const ix = order.indexOf(x) === -1 ? 99 : order.indexOf(x);
    const iy = order.indexOf(y) === -1 ? 99 : order.indexOf(y);
    return ix - iy || x.localeCompare(y);
  });
  const arms = armNames.map((name) => armReport(collector.arms.get(name) as ArmColumns, size, gates));

  const base = collector.arms.get(BASELINE);
  const cand = collector.arms.get(CANDIDATE);
  const ttftDiff = new Float64Column();
  const e2eDiff = new Float64Column();
  const skew = new Float64Column();
  const absSkew = new Float64Column();
  const candidatePairs: number[] = [];
  const repeatPairs: number[] = [];
  let pairs = 0;
  let okPairs = 0;
  if (base && cand) {
    const limit = Math.min(size, base.capacity, cand.capacity);
    const sim = collector.similarity.candidate;
    for (let i = 0; i < limit; i++) {
      if (base.present[i] !== PRESENT_MEASURED || cand.present[i] !== PRESENT_MEASURED) continue;
      pairs++;
      const bs = base.sentNs[i] as number;
      const cs = cand.sentNs[i] as number;
      if (bs === bs && cs === cs) {
        const s = armSkewMs(bs, cs);
        skew.push(s);
        absSkew.push(Math.abs(s));
      }
      if (base.outcome[i] !== okCode || cand.outcome[i] !== okCode) continue;
      okPairs++;
      // improvement = baseline − candidate (ms); NaN (not measured) on either side stays NaN and is skipped
      ttftDiff.push((base.ttft[i] as number) - (cand.ttft[i] as number));
      e2eDiff.push((base.e2e[i] as number) - (cand.e2e[i] as number));
      if (i < sim.length && sim[i] === sim[i]) candidatePairs.push(i);
    }
  }
  const rep = collector.arms.get(BASELINE_REPEAT);
  if (base && rep) {
    const sim = collector.similarity.repeat;
    for (let i = 0; i < Math.min(sim.length, base.capacity, rep.capacity); i++) {
      if (base.present[i] === PRESENT_MEASURED && rep.present[i] === PRESENT_MEASURED && sim[i] === sim[i]) repeatPairs.push(i);
    }
  }
  const threshold = gates.proceed.similarity_threshold;
  const policy = comparePolicy(gates);
  const comparison: Report['comparison'] = {
    baseline: BASELINE,
    candidate: CANDIDATE,
    pairs,
    ok_pairs: okPairs,
    ttft_improvement_ms: improvement(ttftDiff, gates, 1),
    e2e_improvement_ms: improvement(e2eDiff, gates, 2),
    arm_skew_ms: describe(skew),
    arm_skew_abs_p99_ms: describe(absSkew)?.p99 ?? null,
  };
  const similarity: Report['similarity'] = {
    threshold,
    method:
      'difflib.SequenceMatcher(None, baseline, other).ratio() over code points of the answers (and, apart, of the reasoning); pairs where both arms are ok. ' +
      'A pair is consistent when its answer ratio ≥ the threshold, its tool calls match (same names in order; arguments equal after canonicalisation' +
      (gates.consistency.tool_arguments === 'similar' ? ', or each differing string argument ≥ the threshold' : '') +
      ')' +
      (gates.consistency.finish_reason ? ', and its finish reasons are equal' : '') +
      (gates.consistency.reasoning_threshold !== null ? `, and its reasoning ratio ≥ ${gates.consistency.reasoning_threshold}` : '') +
      '.',
    baseline_vs_candidate: similarityReport(collector, 'candidate', candidatePairs, policy),
    baseline_vs_repeat: rep ? similarityReport(collector, 'repeat', repeatPairs, policy) : null,
  };

  const problems: string[] = [];
  if (!base) problems.push(`no "${BASELINE}" records: nothing to compare against`);
  if (!cand) problems.push(`no "${CANDIDATE}" records: nothing to compare`);
  if (okPairs < gates.validity.min_ok_pairs)
    problems.push(`only ${okPairs} ok pairs (validity.min_ok_pairs: ${gates.validity.min_ok_pairs})`);
  for (const a of arms) {
    if (a.arm !== BASELINE && a.arm !== CANDIDATE) continue;
    const lag = a.metrics.send_lag_ms?.p99;
    if (lag !== undefined && lag > gates.validity.max_send_lag_p99_ms) {
      problems.push(
        `${a.arm} P99 send lag ${fmt(lag)} ms > ${gates.validity.max_send_lag_p99_ms} ms (validity.max_send_lag_p99_ms): requests left late, the load generator was overloaded`,
      );
    }
  }
  if (comparison.arm_skew_abs_p99_ms !== null && comparison.arm_skew_abs_p99_ms > gates.validity.max_arm_skew_p99_ms) {
    problems.push(
      `P99 |arm skew| ${fmt(comparison.arm_skew_abs_p99_ms)} ms > ${gates.validity.max_arm_skew_p99_ms} ms (validity.max_arm_skew_p99_ms): the arms did not receive each request at the same instant`,
    );
  }
  if (context.interrupted) {
    // Shorter than planned, and ended by an operator or a failure: not the run the gate was set up to judge.
    problems.push(`the run is not complete, run.json ${context.interrupted}: its figures cover only the part that ran`);
  }
  const notSent = notSentProblem(context.notSent);
  if (notSent !== null) problems.push(notSent);
  const manifestProblem = context.noManifest === true && context.manifestRequired === true;
  if (manifestProblem)
    problems.push(
      'no run.json: the run cannot be known to be complete (an interrupted or killed run never passes a gate); gate the whole run folder, or pass --allow-incomplete',
    );
  if (context.droppedIterations !== null && context.droppedIterations > 0 && !gates.validity.allow_dropped_iterations) {
    problems.push(
      `${context.droppedIterations} dropped iterations reported in run.json: the target rate was not sustained (validity.allow_dropped_iterations: false)`,
    );
  }

  const notes = [
    'Warm-up records are excluded from every figure.',
    'ITL percentiles pool every inter-chunk gap of every ok request (gap ÷ tokens the later chunk carried).',
    "Percentiles use numpy's default linear interpolation; std is the population standard deviation.",
    'Improvement = baseline − candidate: positive means the candidate is faster.',
  ];
  for (const a of arms) {
    notes.push(
      `${a.arm}: output tokens from ${a.output_tokens_source === 'usage' ? 'server usage.completion_tokens' : a.output_tokens_source === 'chunks' ? 'the content chunk count (no usage reported)' : a.output_tokens_source === 'mixed' ? 'usage.completion_tokens where reported, else the chunk count' : 'no ok requests'}.`,
    );
    if (a.reasoning_requests > 0)
      notes.push(
        `${a.arm}: ${a.reasoning_requests} responses reasoned before answering: TTFT is their first reasoning token; "time to first answer token" (ttfa_ms) is when the answer began.`,
      );
    if (a.tool_call_requests > 0)
      notes.push(`${a.arm}: ${a.tool_call_requests} responses called tools: TTFT and E2E count tool-call deltas as tokens.`);
    if (a.token_timing_missing > 0)
      notes.push(
        `${a.arm}: ${a.token_timing_missing} requests without token timing (buffered responses): TTFT, ITL and TPOT not measured for them.`,
      );
  }
  const report: Omit<Report, 'verdict'> = {
    schema: 'shadowbench.summary',
    version: SUMMARY_VERSION,
    run_id: collector.runId ?? '',
    records: {
      read: collector.records,
      warnings: [
        ...context.readWarnings,
        ...(context.noManifest && !manifestProblem
          ? ['no run.json: the run status and plan are unknown (requests never sent cannot be counted)']
          : []),
        ...context.manifestWarnings.map((w) => `run.json: ${w}`),
        ...modelWarnings(collector.arms, context.askedModels ?? null),
      ],
    },
    arms,
    comparison,
    similarity,
    validity: {
      valid: problems.length === 0,
      problems,
      dropped_iterations: context.droppedIterations,
      ...(context.notSent !== null && context.notSent !== undefined && { not_sent: context.notSent }),
    },
    gates,
    notes,
  };
  return { ...report, verdict: decide(report, gates) };
}

/**
 * The report with the figures that come from beside the records: the scraped server metrics and the
 * cost of each priced arm (computed from the report's own throughput). Each key is added only when
 * there is something to say, with a note on how to read it, so an unscraped, unpriced run's summary
 * is unchanged.
 */
export function withServerFigures(report: Report, serverMetrics: readonly ServerMetrics[], cost: readonly ArmCost[]): Report {
  const notes = [...report.notes];
  if (serverMetrics.length > 0) {
    notes.push(
      "Server metrics come from the arms' Prometheus endpoints, scraped during the run: prefix-cache hit rate = increase of hits ÷ increase of queries over the run; gauges are means and maxima over the scrapes; GPU utilisation is DCGM_FI_DEV_GPU_UTIL averaged over GPUs.",
    );
    notes.push(
      'Each scrape target is its own instance (as Prometheus adds `instance`): counter increases are taken per series per target and summed; counts (running, waiting, in-flight, queued) are summed over targets at each scrape round; KV usage is Σ used ÷ Σ total blocks where exposed; server TTFT / ITL P50 / P99 come from histogram buckets (histogram_quantile), so they are exact only to a bucket. server_metrics[].sources says which target role (frontend, worker, DCGM) each figure came from.',
    );
    for (const m of serverMetrics) for (const w of m.warnings ?? []) notes.push(w);
    for (const m of serverMetrics) {
      if (m.gaps > 0)
        notes.push(
          `${m.arm}: ${m.gaps} of ${m.gaps + m.scrapes} metrics scrapes failed (first: ${m.gap_list[0]?.error ?? 'unknown'}); its server figures cover the successful scrapes only.`,
        );
    }
  }
  if (cost.length > 0)
    notes.push(
      `Cost per 1,000 queries and per 1M output tokens divide the hourly price by the throughput measured at the tested load, not by maximum capacity; monthly = ${HOURS_PER_MONTH} h.`,
    );
  return {
    ...report,
    notes,
    ...(serverMetrics.length > 0 && { server_metrics: [...serverMetrics] }),
    ...(cost.length > 0 && { cost: [...cost] }),
  };
}

/**
 * A figure's change from baseline to candidate (candidate − baseline): a function of the figure,
 * or null when the run lacks either arm (nothing to compare: no delta column at all).
 */
export function candidateMinusBaseline(report: Report): ((get: (a: ArmReport) => number | null | undefined) => number | null) | null {
  const baseline = report.arms.find((a) => a.arm === BASELINE);
  const candidate = report.arms.find((a) => a.arm === CANDIDATE);
  if (baseline === undefined || candidate === undefined) return null;
  return (get) => {
    const [b, c] = [get(baseline), get(candidate)];
    return b === null || b === undefined || c === null || c === undefined ? null : c - b;
  };
}
