// The sliding window of recently completed requests, per arm, that the rollback triggers and the
// admin endpoint's live stats are computed from. Bounded by the window length: entries older than
// the window are dropped as new ones arrive and whenever stats are read.
import { percentileSorted } from '../analysis/stats/stats.ts';
import { BASELINE, CANDIDATE, type RequestRecord } from '../core/record.ts';
import { countsForLatency, ttftMs } from '../core/metrics.ts';

interface Entry {
  /** Completion time at the proxy, ms (monotonic). */
  at_ms: number;
  arm: string;
  /** `cancelled` = the client went away: not the endpoint's fault, so outside every rate. */
  kind: 'ok' | 'error' | 'timeout' | 'cancelled';
  /** TTFT (core/metrics.ts ttftMs), ms; null when the request does not count for latency or carried no content. */
  ttft_ms: number | null;
}

export interface ArmWindowStats {
  /** Completed requests in the window, client cancellations excluded. */
  requests: number;
  /** Requests whose outcome was not ok (timeouts included). */
  errors: number;
  timeouts: number;
  /** Requests the client cancelled (not counted in `requests`). */
  cancelled: number;
  ttft_samples: number;
  /** TTFT percentiles, ms: numpy linear interpolation, i = p·(n−1). */
  ttft_p50_ms: number | null;
  ttft_p99_ms: number | null;
}

export interface WindowStats {
  window_s: number;
  baseline: ArmWindowStats;
  candidate: ArmWindowStats;
}

export class SlidingWindow {
  readonly windowMs: number;
  #entries: Entry[] = [];
  #head = 0;
  constructor(windowMs: number) {
    this.windowMs = windowMs;
  }

  /** Adds a completed request; `nowMs` is the monotonic completion time. */
  add(record: RequestRecord, nowMs: number): void {
    const kind = record.outcome.kind;
    // The analysis' definition and rule (core/metrics.ts): ok, measured requests with token timing.
    const ttft = countsForLatency(record) ? ttftMs(record) : null;
    const entryKind = kind === 'ok' || kind === 'timeout' || kind === 'cancelled' ? kind : 'error';
    this.#entries.push({ at_ms: nowMs, arm: record.arm, kind: entryKind, ttft_ms: ttft });
    this.#prune(nowMs);
  }

  #prune(nowMs: number): void {
    const oldest = nowMs - this.windowMs;
    while (this.#head < this.#entries.length && (this.#entries[this.#head] as Entry).at_ms < oldest) this.#head++;
    // Compact once the dead prefix dominates, so memory follows the window, not the run.
    if (this.#head > 1024 && this.#head * 2 > this.#entries.length) {
      this.#entries = this.#entries.slice(this.#head);
      this.#head = 0;
    }
  }

  /** Forgets everything (after an operator's reset: the errors that caused a rollback must not trigger it again). */
  clear(): void {
    this.#entries = [];
    this.#head = 0;
  }

  stats(nowMs: number): WindowStats {
    this.#prune(nowMs);
    const live = this.#entries.slice(this.#head);
    return { window_s: this.windowMs / 1000, baseline: armStats(live, BASELINE), candidate: armStats(live, CANDIDATE) };
  }
}

function armStats(entries: Entry[], arm: string): ArmWindowStats {
  let requests = 0;
  let errors = 0;
  let timeouts = 0;
  let cancelled = 0;
  const ttfts: number[] = [];
  for (const e of entries) {
    if (e.arm !== arm) continue;
    if (e.kind === 'cancelled') {
      cancelled++;
      continue;
    }
    requests++;
    if (e.kind !== 'ok') errors++;
    if (e.kind === 'timeout') timeouts++;
    if (e.ttft_ms !== null) ttfts.push(e.ttft_ms);
  }
  // A typed-array sort (numeric, no comparator calls): this runs on the proxy's event loop every check.
  const sorted = Float64Array.from(ttfts).sort();
  const q = (p: number) => (sorted.length === 0 ? null : percentileSorted(sorted, p));
  return { requests, errors, timeouts, cancelled, ttft_samples: sorted.length, ttft_p50_ms: q(50), ttft_p99_ms: q(99) };
}
