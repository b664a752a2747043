// The migration guide's "should we migrate?" decision, from measured figures of a baseline run:
// is the single vLLM node running out of headroom (GPU utilisation, TTFT P99 against its SLO), and
// does the traffic have the shape that llm-d / Dynamo serve better (several models, bursty arrivals,
// shared prompt prefixes that KV-aware routing can exploit)? Each criterion met adds its points;
// the score picks the recommendation. Pure: figures in, assessment out; thresholds configurable.
import { parse as parseYaml } from 'yaml';
import type { WorkloadItem } from '../core/workload/workload.ts';

export interface AssessThresholds {
  /** GPU utilisation (mean over the run, %) above which the node is short of headroom. Guide: 75 %. */
  gpu_utilization_above_pct: number;
  gpu_utilization_points: number;
  /** TTFT SLO (ms); null = the SLO the analysis used (its gates' TTFT P99 limit). */
  ttft_slo_ms: number | null;
  /** TTFT P99 above this fraction of the SLO counts as "approaching the SLO". Guide: 0.8. */
  ttft_p99_above_slo_fraction: number;
  ttft_points: number;
  /** Distinct models served at least this many: multi-model serving. */
  models_at_least: number;
  models_points: number;
  /** Peak / average arrivals per bin above this: bursty traffic that autoscaling absorbs. */
  peak_to_average_above: number;
  peak_to_average_points: number;
  /** Share of prompt text in prefixes an earlier request already sent, above this: KV-aware routing pays. */
  prefix_reuse_above: number;
  prefix_reuse_points: number;
  /** Score at or above which the recommendation is MIGRATE. */
  migrate_at_score: number;
  /** Score at or above which the recommendation is PILOT (shadow-test a candidate first). */
  pilot_at_score: number;
  /** Width of the arrival-count bins for the peak-to-average ratio, seconds. */
  arrival_bin_s: number;
  /** Block size of the prefix-reuse estimate, characters (≈ vLLM's 16-token block at ~4 characters a token). */
  prefix_block_chars: number;
}

export const DEFAULT_THRESHOLDS: AssessThresholds = {
  gpu_utilization_above_pct: 75,
  gpu_utilization_points: 3,
  ttft_slo_ms: null,
  ttft_p99_above_slo_fraction: 0.8,
  ttft_points: 3,
  models_at_least: 2,
  models_points: 2,
  peak_to_average_above: 2.5,
  peak_to_average_points: 2,
  prefix_reuse_above: 0.3,
  prefix_reuse_points: 2,
  migrate_at_score: 5,
  pilot_at_score: 3,
  arrival_bin_s: 1,
  prefix_block_chars: 64,
};

/** What each threshold accepts. */
const RULES: Record<keyof AssessThresholds, { min: '>0' | '>=0'; max?: number; integer?: boolean; expected: string }> = {
  gpu_utilization_above_pct: { min: '>=0', max: 100, expected: 'a percentage from 0 to 100' },
  gpu_utilization_points: { min: '>=0', expected: 'a number ≥ 0' },
  ttft_slo_ms: { min: '>0', expected: "milliseconds > 0, or null for the analysis's SLO" },
  ttft_p99_above_slo_fraction: { min: '>0', expected: 'a fraction > 0 (0.8 = 80 % of the SLO)' },
  ttft_points: { min: '>=0', expected: 'a number ≥ 0' },
  models_at_least: { min: '>0', integer: true, expected: 'a positive integer' },
  models_points: { min: '>=0', expected: 'a number ≥ 0' },
  peak_to_average_above: { min: '>0', expected: 'a ratio > 0' },
  peak_to_average_points: { min: '>=0', expected: 'a number ≥ 0' },
  prefix_reuse_above: { min: '>=0', max: 1, expected: 'a fraction from 0 to 1' },
  prefix_reuse_points: { min: '>=0', expected: 'a number ≥ 0' },
  migrate_at_score: { min: '>=0', expected: 'a number ≥ 0' },
  pilot_at_score: { min: '>=0', expected: 'a number ≥ 0' },
  arrival_bin_s: { min: '>0', expected: 'seconds > 0' },
  prefix_block_chars: { min: '>0', integer: true, expected: 'a positive integer' },
};

export class ThresholdsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ThresholdsError';
  }
}

/** Thresholds from a JSON or YAML file: a mapping of the keys above; unknown keys and bad values are errors naming the key. */
export function parseThresholds(text: string, file: string): AssessThresholds {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (error) {
    throw new ThresholdsError(`${file}: not valid JSON or YAML (${(error as Error).message.split('\n')[0]})`);
  }
  if (doc === null || doc === undefined) return { ...DEFAULT_THRESHOLDS };
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new ThresholdsError(`${file}: expected a mapping of threshold names to numbers`);
  const out: AssessThresholds = { ...DEFAULT_THRESHOLDS };
  const known = Object.keys(DEFAULT_THRESHOLDS);
  for (const [key, value] of Object.entries(doc as Record<string, unknown>)) {
    if (!known.includes(key)) throw new ThresholdsError(`${file}: ${key}: unknown threshold (accepted: ${known.join(', ')})`);
    if (key === 'ttft_slo_ms' && value === null) {
      out.ttft_slo_ms = null;
      continue;
    }
    const rule = RULES[key as keyof AssessThresholds];
    const ok =
      typeof value === 'number' &&
      Number.isFinite(value) &&
      (rule.min === '>0' ? value > 0 : value >= 0) &&
      (rule.max === undefined || value <= rule.max) &&
      (!rule.integer || Number.isInteger(value));
    if (!ok) throw new ThresholdsError(`${file}: ${key}: expected ${rule.expected}, got ${JSON.stringify(value)}`);
    (out as unknown as Record<string, number>)[key] = value;
  }
  if (out.pilot_at_score > out.migrate_at_score)
    throw new ThresholdsError(`${file}: pilot_at_score (${out.pilot_at_score}) must not exceed migrate_at_score (${out.migrate_at_score})`);
  return out;
}

/** The measured figures the decision uses; null = not measured, with the reason in `*_note`. */
export interface AssessInputs {
  run_id: string;
  /** Mean GPU utilisation of the baseline over the run, %. */
  gpu_utilization_pct: number | null;
  gpu_note: string;
  ttft_p99_ms: number | null;
  /** The SLO the analysis used, ms. */
  ttft_slo_ms: number | null;
  ttft_note: string;
  /** Distinct models the workload asks for. */
  models: string[] | null;
  models_note: string;
  peak_to_average: number | null;
  peak_to_average_note: string;
  prefix_reuse: number | null;
  prefix_reuse_note: string;
  /** Server-side prefix-cache hit rate over the run (information; the decision uses the workload's reuse). */
  server_prefix_cache_hit_rate: number | null;
}

export type Recommendation = 'MIGRATE' | 'PILOT' | 'STAY';

export interface Criterion {
  name: 'gpu_utilization' | 'ttft_p99' | 'models' | 'peak_to_average' | 'prefix_reuse';
  /** true = met, false = not met, null = not measured (scores 0). */
  met: boolean | null;
  points: number;
  reason: string;
}

export interface Assessment {
  run_id: string;
  score: number;
  max_score: number;
  recommendation: Recommendation;
  criteria: Criterion[];
  summary: string;
  thresholds: AssessThresholds;
  inputs: AssessInputs;
}

const pct = (x: number) => `${Number((x * 100).toPrecision(3))} %`;
const fix = (x: number, digits = 1) => x.toFixed(digits);

export function assess(inputs: AssessInputs, t: AssessThresholds = DEFAULT_THRESHOLDS): Assessment {
  const criteria: Criterion[] = [];
  const add = (name: Criterion['name'], met: boolean | null, points: number, reason: string) =>
    criteria.push({ name, met, points: met === true ? points : 0, reason });

  if (inputs.gpu_utilization_pct === null)
    add('gpu_utilization', null, t.gpu_utilization_points, `GPU utilisation not measured: ${inputs.gpu_note}`);
  else {
    const met = inputs.gpu_utilization_pct > t.gpu_utilization_above_pct;
    add(
      'gpu_utilization',
      met,
      t.gpu_utilization_points,
      `GPU utilisation ${fix(inputs.gpu_utilization_pct)} % ${met ? '>' : '≤'} ${t.gpu_utilization_above_pct} %${met ? ': the node is approaching its limit' : ': headroom left'}`,
    );
  }

  const slo = t.ttft_slo_ms ?? inputs.ttft_slo_ms;
  if (inputs.ttft_p99_ms === null || slo === null) {
    add(
      'ttft_p99',
      null,
      t.ttft_points,
      `TTFT P99 not measured: ${inputs.ttft_p99_ms === null ? inputs.ttft_note : 'no SLO (set ttft_slo_ms)'}`,
    );
  } else {
    const limit = slo * t.ttft_p99_above_slo_fraction;
    const met = inputs.ttft_p99_ms > limit;
    const over = inputs.ttft_p99_ms > slo ? ' (over the SLO)' : '';
    add(
      'ttft_p99',
      met,
      t.ttft_points,
      `TTFT P99 ${fix(inputs.ttft_p99_ms)} ms ${met ? '>' : '≤'} ${fix(t.ttft_p99_above_slo_fraction * 100, 0)} % of the ${slo} ms SLO${met ? `: approaching the SLO${over}` : ''}`,
    );
  }

  if (inputs.models === null) add('models', null, t.models_points, `models not counted: ${inputs.models_note}`);
  else {
    const met = inputs.models.length >= t.models_at_least;
    add(
      'models',
      met,
      t.models_points,
      `${inputs.models.length} model${inputs.models.length === 1 ? '' : 's'} served${met ? ` (≥ ${t.models_at_least}): multi-model serving shares one cluster` : ` (< ${t.models_at_least})`}`,
    );
  }

  if (inputs.peak_to_average === null)
    add('peak_to_average', null, t.peak_to_average_points, `peak-to-average arrivals not measured: ${inputs.peak_to_average_note}`);
  else {
    const met = inputs.peak_to_average > t.peak_to_average_above;
    add(
      'peak_to_average',
      met,
      t.peak_to_average_points,
      `peak-to-average arrival ratio ${fix(inputs.peak_to_average, 2)} ${met ? '>' : '≤'} ${t.peak_to_average_above} (${inputs.peak_to_average_note})${met ? ': bursty traffic, autoscaling pays' : ''}`,
    );
  }

  if (inputs.prefix_reuse === null)
    add('prefix_reuse', null, t.prefix_reuse_points, `prefix reuse not measured: ${inputs.prefix_reuse_note}`);
  else {
    const met = inputs.prefix_reuse > t.prefix_reuse_above;
    add(
      'prefix_reuse',
      met,
      t.prefix_reuse_points,
      `prefix reuse ${pct(inputs.prefix_reuse)} of prompt text ${met ? '>' : '≤'} ${pct(t.prefix_reuse_above)} (${inputs.prefix_reuse_note})${met ? ': KV-aware routing keeps shared prefixes hot' : ''}`,
    );
  }

  const score = criteria.reduce((sum, c) => sum + c.points, 0);
  const maxScore = t.gpu_utilization_points + t.ttft_points + t.models_points + t.peak_to_average_points + t.prefix_reuse_points;
  const recommendation: Recommendation = score >= t.migrate_at_score ? 'MIGRATE' : score >= t.pilot_at_score ? 'PILOT' : 'STAY';
  const unmeasured = criteria.filter((c) => c.met === null).length;
  const summary =
    (recommendation === 'MIGRATE'
      ? `Migrate: score ${score} ≥ ${t.migrate_at_score}. Start colocated (npm run convert), then shadow-test it against this baseline (npm run load).`
      : recommendation === 'PILOT'
        ? `Pilot: score ${score} ≥ ${t.pilot_at_score} but < ${t.migrate_at_score}. Shadow-test a candidate before deciding.`
        : `Stay on single-node vLLM: score ${score} < ${t.pilot_at_score}.`) +
    (unmeasured > 0 ? ` ${unmeasured} ${unmeasured === 1 ? 'criterion was' : 'criteria were'} not measured and scored 0.` : '');
  return { run_id: inputs.run_id, score, max_score: maxScore, recommendation, criteria, summary, thresholds: t, inputs };
}

/** Terminal lines: score, each reason (✓ met, · not met, ? not measured), the recommendation. */
export function formatAssessment(a: Assessment): string[] {
  const mark = (c: Criterion) => (c.met === true ? `+${c.points}` : c.met === false ? ' 0' : ' ?');
  const lines = [`Should we migrate? run ${a.run_id}`, ''];
  for (const c of a.criteria) lines.push(`  ${mark(c).padStart(3)}  ${c.reason}`);
  if (a.inputs.server_prefix_cache_hit_rate !== null)
    lines.push(`       (server prefix-cache hit rate during the run: ${pct(a.inputs.server_prefix_cache_hit_rate)})`);
  lines.push('', `Score ${a.score} / ${a.max_score} → ${a.recommendation}`, a.summary);
  return lines;
}

// ---- Figures derived from the workload and the run (pure) ----

/**
 * Peak-to-average ratio of arrivals: arrivals counted in bins of `binS` seconds from the first
 * arrival to the last; ratio = max bin count / mean bin count. Null with fewer than two bins.
 */
export function peakToAverage(arrivalsMs: readonly number[], binS: number): { ratio: number; bins: number } | null {
  if (arrivalsMs.length === 0) return null;
  const start = Math.min(...arrivalsMs);
  const binMs = binS * 1000;
  const bins = Math.floor((Math.max(...arrivalsMs) - start) / binMs) + 1;
  if (bins < 2) return null;
  const counts = new Array<number>(bins).fill(0);
  for (const t of arrivalsMs) {
    const i = Math.floor((t - start) / binMs);
    counts[i] = (counts[i] as number) + 1;
  }
  // ratio = peak bin count / (arrivals / bins)
  return { ratio: Math.max(...counts) / (arrivalsMs.length / bins), bins };
}

/** The text a request's prompt is made of, in the order the model reads it (chat: role and content of each message). */
export function promptText(item: WorkloadItem): string {
  const body = item.body;
  if (item.api === 'completions') {
    const prompt = body.prompt;
    return typeof prompt === 'string'
      ? prompt
      : Array.isArray(prompt)
        ? prompt.map((p) => (typeof p === 'string' ? p : JSON.stringify(p))).join('\n')
        : '';
  }
  const messages = Array.isArray(body.messages) ? body.messages : [];
  return messages
    .map((m) => {
      const msg = (m ?? {}) as Record<string, unknown>;
      const content = typeof msg.content === 'string' ? msg.content : JSON.stringify(msg.content ?? '');
      return `<${String(msg.role ?? '')}>${content}`;
    })
    .join('\n');
}

/** FNV-1a over a string, continuing from `seed` (so a block's hash covers everything before it). */
function fnv1a(text: string, seed: number): number {
  let h = seed >>> 0;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/**
 * Share of prompt text an ideal prefix cache would have served: prompts are cut into blocks of
 * `blockChars` characters, each block identified by a hash chained over all blocks before it (as
 * vLLM's automatic prefix caching does with token blocks); a block whose chain was already seen in
 * an earlier prompt is reused. reuse = reused characters / all characters (full blocks only; the
 * trailing partial block of a prompt is counted as not reused). Two independent 32-bit chains make
 * collisions negligible. The cache is assumed unbounded, so this is the upper bound the workload allows.
 */
export function prefixReuseRate(prompts: Iterable<string>, blockChars: number): { rate: number; chars: number } | null {
  const seen = new Set<string>();
  let total = 0;
  let reused = 0;
  for (const prompt of prompts) {
    total += prompt.length;
    let a = 0x811c9dc5;
    let b = 0x01234567;
    for (let start = 0; start + blockChars <= prompt.length; start += blockChars) {
      const block = prompt.slice(start, start + blockChars);
      a = fnv1a(block, a);
      b = fnv1a(block, b ^ 0x9e3779b9);
      const key = `${a}:${b}`;
      if (seen.has(key)) reused += blockChars;
      else seen.add(key);
    }
  }
  return total === 0 ? null : { rate: reused / total, chars: total };
}

/** Distinct `model` values of the workload's bodies (bodies without one are served by the default model). */
export function modelsOf(items: Iterable<Pick<WorkloadItem, 'body'>>): string[] {
  const models = new Set<string>();
  for (const item of items) models.add(typeof item.body.model === 'string' ? item.body.model : '(default)');
  return [...models].sort();
}
