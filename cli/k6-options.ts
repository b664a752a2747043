// The k6 engine's flags, declared once: `load --engine k6` and `k6:manifest` spread K6_OPTIONS into
// their option tables (same names, same units), check them with checkK6Mode and turn the values
// into what cli/load-k6.ts reads from config.options with k6ScriptOptions.
import type { K6Mode } from '../k6/script/config.ts';
import { num, str, UsageError } from '../core/options.ts';

export const K6_OPTIONS = {
  k6Mode: str({
    default: 'streaming',
    choices: ['streaming', 'buffered'] as const,
    help: 'k6 engine: streaming (xk6-sse, token timing) or buffered (core k6/http: no TTFT, ITL, TPOT); --no-stream also selects buffered',
  }),
  k6MaxVus: num({
    default: 0,
    integer: true,
    min: 0,
    help: 'k6 engine: most VUs per arm (a distributed run splits them across its runners); 0 = derived from --qps × --timeout',
  }),
  k6ExpectedLatency: num({
    default: 3000,
    min: 1,
    meta: 'MS',
    help: 'k6 engine: typical request latency in ms (capped at --timeout); sizes the pre-allocated VUs: --qps × this × 1.5',
  }),
};

/** Option keys only the k6 engine reads. */
export const K6_OPTION_KEYS = Object.keys(K6_OPTIONS) as Array<keyof typeof K6_OPTIONS>;

/** The values k6ScriptOptions reads: the k6 flags and the two general flags they depend on. */
export interface K6FlagValues {
  k6Mode: 'streaming' | 'buffered';
  k6MaxVus: number;
  k6ExpectedLatency: number;
  stream: boolean;
  /** --timeout, seconds. */
  timeout: number;
}

/** --k6-mode streaming and --no-stream contradict each other (without --k6-mode, --no-stream selects buffered). */
export function checkK6Mode(v: K6FlagValues, explicit: ReadonlySet<string | number | symbol>): void {
  if (explicit.has('k6Mode') && v.k6Mode === 'streaming' && !v.stream) {
    throw new UsageError('--k6-mode streaming contradicts --no-stream; give one of them (--no-stream alone selects buffered)');
  }
}

/** The k6 settings as cli/load-k6.ts reads them from config.options: the script's mode names, latency in seconds. */
export function k6ScriptOptions(
  v: K6FlagValues,
  explicit: ReadonlySet<string | number | symbol>,
): { k6Mode: K6Mode; k6MaxVus: number; k6ExpectedLatency: number } {
  // Without --k6-mode, --no-stream selects buffered (as before the flag existed).
  const streaming = explicit.has('k6Mode') ? v.k6Mode !== 'buffered' : v.stream;
  return {
    k6Mode: streaming ? 'sse' : 'buffered',
    k6MaxVus: v.k6MaxVus,
    // seconds = min(--k6-expected-latency ms, --timeout s × 1000) / 1000: a request never lasts longer than its timeout
    k6ExpectedLatency: Math.min(v.k6ExpectedLatency, v.timeout * 1000) / 1000,
  };
}
