// The gates file: every threshold the verdict uses, with the migration guide's defaults.
// JSON or YAML; any subset of keys may be given (the rest keep their defaults). Unknown keys and
// wrong types are errors naming the key path and what is accepted.
//
//   proceed:   { min_mean_ttft_improvement_ms: 0, min_consistency: 0.95, similarity_threshold: 0.9, aa_tolerance: 0.02 }
//   rollback:  { max_candidate_error_rate: 0.01, max_ttft_p99_ratio: 2.0, max_candidate_timeout_rate: 0.05 }
//   slo:       { ttft_p99_ms: 500, itl_p99_ms: 50, enforce: false }
//   validity:  { min_ok_pairs: 20, max_send_lag_p99_ms: 10, max_arm_skew_p99_ms: 10, allow_dropped_iterations: false }
//   bootstrap: { resamples: 1000, seed: 1, confidence: 0.95 }
//   consistency: { tool_arguments: similar, finish_reason: true, reasoning_threshold: null, min_reasoning_consistency: null }
//              (what a consistent pair is besides its answer similarity: analysis/consistency.ts)
//   regression: { max_ttft_p99_increase: 0.10, max_throughput_decrease: 0.05, max_consistency_decrease: 0.01, max_error_rate_increase: 0.005 }
//              (tonight's candidate against a reference run: `gate --against`; see analysis/regression.ts)
import { parse as parseYaml } from 'yaml';

export interface Gates {
  proceed: {
    /** PROCEED needs mean TTFT improvement (baseline − candidate, ms) strictly greater than this. */
    min_mean_ttft_improvement_ms: number;
    /** PROCEED needs output consistency strictly greater than this. */
    min_consistency: number;
    /** A pair is consistent when its similarity ratio is at least this. */
    similarity_threshold: number;
    /** With an A/A arm, low consistency is only flagged when below the baseline's own consistency minus this. */
    aa_tolerance: number;
  };
  rollback: {
    /** INVESTIGATE when the candidate's error rate (non-ok / requests) exceeds this. */
    max_candidate_error_rate: number;
    /** INVESTIGATE when candidate TTFT P99 exceeds this multiple of the baseline's. */
    max_ttft_p99_ratio: number;
    /** INVESTIGATE when the candidate's timeout rate exceeds this. */
    max_candidate_timeout_rate: number;
  };
  slo: {
    ttft_p99_ms: number;
    itl_p99_ms: number;
    /** When true, a candidate SLO miss forces INVESTIGATE; otherwise SLOs are reported only. */
    enforce: boolean;
  };
  validity: {
    /** Fewer ok pairs than this and the comparison means nothing. */
    min_ok_pairs: number;
    max_send_lag_p99_ms: number;
    max_arm_skew_p99_ms: number;
    /** When false, dropped iterations reported in run.json make the run invalid. */
    allow_dropped_iterations: boolean;
  };
  bootstrap: {
    resamples: number;
    seed: number;
    /** Confidence level of the intervals (0.95 → 2.5th and 97.5th percentiles of the resampled statistic). */
    confidence: number;
  };
  /**
   * A pair is consistent when its answer similarity ≥ proceed.similarity_threshold AND its tool calls
   * match AND (when finish_reason) its finish reasons are equal AND (when reasoning_threshold is a
   * number) its reasoning similarity ≥ reasoning_threshold.
   */
  consistency: {
    /**
     * exact: tool arguments must be equal after canonicalisation (keys sorted, whitespace removed);
     * similar: or each string argument that differs has similarity ≥ proceed.similarity_threshold.
     * Tool names, their count and order must always match.
     */
    tool_arguments: 'exact' | 'similar';
    /** A pair whose finish reasons differ (stop against length, tool_calls...) is inconsistent. */
    finish_reason: boolean;
    /** null: reasoning similarity is reported only; a number: a pair whose reasoning ratio is below it is inconsistent. */
    reasoning_threshold: number | null;
    /** null: reported only (info); a number: PROCEED needs the share of reasoning pairs with ratio ≥ reasoning_threshold (0.9 when null) above it. */
    min_reasoning_consistency: number | null;
  };
  /** `gate --against <reference>`: how much worse than the reference run tonight's candidate may be (analysis/regression.ts). */
  regression: {
    /** Fail when candidate TTFT P99 rose by more than this fraction (0.10 = 10 %). */
    max_ttft_p99_increase: number;
    /** Fail when candidate output tokens/s fell by more than this fraction (0.05 = 5 %). */
    max_throughput_decrease: number;
    /** Fail when output consistency fell by more than this (a fraction: 0.01 = 1 percentage point). */
    max_consistency_decrease: number;
    /** Fail when the candidate error rate rose by more than this (a fraction: 0.005 = 0.5 percentage point). */
    max_error_rate_increase: number;
  };
}

export const DEFAULT_GATES: Gates = {
  proceed: { min_mean_ttft_improvement_ms: 0, min_consistency: 0.95, similarity_threshold: 0.9, aa_tolerance: 0.02 },
  rollback: { max_candidate_error_rate: 0.01, max_ttft_p99_ratio: 2.0, max_candidate_timeout_rate: 0.05 },
  slo: { ttft_p99_ms: 500, itl_p99_ms: 50, enforce: false },
  validity: { min_ok_pairs: 20, max_send_lag_p99_ms: 10, max_arm_skew_p99_ms: 10, allow_dropped_iterations: false },
  bootstrap: { resamples: 1000, seed: 1, confidence: 0.95 },
  regression: { max_ttft_p99_increase: 0.1, max_throughput_decrease: 0.05, max_consistency_decrease: 0.01, max_error_rate_increase: 0.005 },
  consistency: { tool_arguments: 'similar', finish_reason: true, reasoning_threshold: null, min_reasoning_consistency: null },
};

interface KeySpec {
  type: 'number' | 'integer' | 'boolean' | 'enum';
  min?: number;
  max?: number;
  /** type enum: the accepted strings. */
  values?: readonly string[];
  /** null is accepted too. */
  nullable?: boolean;
}
const num = (min?: number, max?: number): KeySpec => ({
  type: 'number',
  ...(min !== undefined && { min }),
  ...(max !== undefined && { max }),
});
const int = (min: number, max?: number): KeySpec => ({ type: 'integer', min, ...(max !== undefined && { max }) });
const bool: KeySpec = { type: 'boolean' };
const oneOf = (...values: string[]): KeySpec => ({ type: 'enum', values });
const orNull = (spec: KeySpec): KeySpec => ({ ...spec, nullable: true });

const SCHEMA: { [S in keyof Gates]: { [K in keyof Gates[S]]: KeySpec } } = {
  proceed: { min_mean_ttft_improvement_ms: num(), min_consistency: num(0, 1), similarity_threshold: num(0, 1), aa_tolerance: num(0, 1) },
  rollback: { max_candidate_error_rate: num(0, 1), max_ttft_p99_ratio: num(0), max_candidate_timeout_rate: num(0, 1) },
  slo: { ttft_p99_ms: num(0), itl_p99_ms: num(0), enforce: bool },
  validity: { min_ok_pairs: int(1), max_send_lag_p99_ms: num(0), max_arm_skew_p99_ms: num(0), allow_dropped_iterations: bool },
  bootstrap: { resamples: int(10, 1_000_000), seed: int(0, 0xffffffff), confidence: num(0.5, 0.999) },
  regression: {
    max_ttft_p99_increase: num(0),
    max_throughput_decrease: num(0, 1),
    max_consistency_decrease: num(0, 1),
    max_error_rate_increase: num(0, 1),
  },
  consistency: {
    tool_arguments: oneOf('exact', 'similar'),
    finish_reason: bool,
    reasoning_threshold: orNull(num(0, 1)),
    min_reasoning_consistency: orNull(num(0, 1)),
  },
};

/** Version of the gates file format; a file may say `version: 1`. */
export const GATES_VERSION = 1;

export class GatesError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'GatesError';
  }
}

function describeSpec(spec: KeySpec): string {
  const orNullText = spec.nullable ? ', or null' : '';
  if (spec.type === 'boolean') return `true or false${orNullText}`;
  if (spec.type === 'enum') return `one of ${(spec.values ?? []).join(', ')}${orNullText}`;
  const kind = spec.type === 'integer' ? 'an integer' : 'a number';
  if (spec.min !== undefined && spec.max !== undefined) return `${kind} from ${spec.min} to ${spec.max}${orNullText}`;
  if (spec.min !== undefined) return `${kind} ≥ ${spec.min}${orNullText}`;
  return kind + orNullText;
}

/** Parses a gates file (JSON or YAML) over the defaults; throws GatesError naming the file and key path. */
export function parseGates(text: string, file: string): Gates {
  let doc: unknown;
  try {
    doc = parseYaml(text); // YAML is a superset of JSON
  } catch (error) {
    throw new GatesError(`${file}: not valid JSON or YAML (${(error as Error).message.split('\n')[0]})`);
  }
  if (doc === null || doc === undefined) return structuredClone(DEFAULT_GATES);
  if (typeof doc !== 'object' || Array.isArray(doc))
    throw new GatesError(`${file}: expected a mapping of sections (${Object.keys(SCHEMA).join(', ')})`);
  const gates = structuredClone(DEFAULT_GATES);
  for (const [section, body] of Object.entries(doc as Record<string, unknown>)) {
    if (section === 'version') {
      if (body !== GATES_VERSION)
        throw new GatesError(`${file}: version: got ${JSON.stringify(body)}; this build reads gates version ${GATES_VERSION}`);
      continue;
    }
    const keys = (SCHEMA as Record<string, Record<string, KeySpec>>)[section];
    if (!keys) throw new GatesError(`${file}: unknown section "${section}"; accepted: version, ${Object.keys(SCHEMA).join(', ')}`);
    if (typeof body !== 'object' || body === null || Array.isArray(body))
      throw new GatesError(`${file}: ${section}: expected a mapping of ${Object.keys(keys).join(', ')}`);
    const target = (gates as unknown as Record<string, Record<string, unknown>>)[section] as Record<string, unknown>;
    for (const [key, value] of Object.entries(body as Record<string, unknown>)) {
      const spec = keys[key];
      if (!spec) throw new GatesError(`${file}: ${section}.${key}: unknown key; accepted in ${section}: ${Object.keys(keys).join(', ')}`);
      const ok =
        (spec.nullable === true && value === null) ||
        (spec.type === 'boolean'
          ? typeof value === 'boolean'
          : spec.type === 'enum'
            ? typeof value === 'string' && (spec.values ?? []).includes(value)
            : typeof value === 'number' &&
              Number.isFinite(value) &&
              (spec.type !== 'integer' || Number.isInteger(value)) &&
              (spec.min === undefined || value >= spec.min) &&
              (spec.max === undefined || value <= spec.max));
      if (!ok) throw new GatesError(`${file}: ${section}.${key}: got ${JSON.stringify(value)}; expected ${describeSpec(spec)}`);
      target[key] = value;
    }
  }
  return gates;
}
