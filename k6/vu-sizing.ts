// Whether a k6 run pre-allocated far more VUs than its requests needed. Each k6 VU is a whole
// JavaScript runtime that stays in k6's heap for the run, and k6 hands iterations to idle VUs in
// turn, so every one of them is used: oversizing costs heap, GC and CPU, and with them send lag
// (k6/README.md, "VUs beyond preAllocatedVUs"). load-k6 feeds the tracker every record; the
// warning itself is a pure function of the peak.
import { VU_HEADROOM } from './script/config.ts';

/** Per arm, the records' [sent, end] intervals (ns), as the converter streams them. */
export class InFlightTracker {
  readonly #byArm = new Map<string, { starts: number[]; ends: number[] }>();

  add(arm: string, sentNs: number | null, endNs: number | null): void {
    if (sentNs === null || endNs === null) return;
    let slot = this.#byArm.get(arm);
    if (slot === undefined) this.#byArm.set(arm, (slot = { starts: [], ends: [] }));
    slot.starts.push(sentNs);
    slot.ends.push(endNs);
  }

  /** The most requests of one arm in flight at once (an end and a start at the same instant do not overlap). */
  peak(): number {
    let peak = 0;
    for (const { starts, ends } of this.#byArm.values()) peak = Math.max(peak, peakOverlap(starts, ends));
    return peak;
  }
}

export function peakOverlap(starts: number[], ends: number[]): number {
  const s = Float64Array.from(starts).sort();
  const e = Float64Array.from(ends).sort();
  let inFlight = 0;
  let peak = 0;
  for (let i = 0, j = 0; i < s.length; i++) {
    while (j < e.length && e[j]! <= s[i]!) {
      j++;
      inFlight--;
    }
    inFlight++;
    if (inFlight > peak) peak = inFlight;
  }
  return peak;
}

/** Warn only when this many VUs of one arm, or more, sat idle beyond the peak (a few are harmless). */
export const IDLE_VUS_WORTH_A_WARNING = 100;

/**
 * A run.json warning when the pre-allocated VUs of an arm were at least 3 × the peak in flight and
 * at least IDLE_VUS_WORTH_A_WARNING more; it suggests the expected latency that pre-allocates about
 * 3 × the peak (the script pre-allocates qps × latency × VU_HEADROOM). Null when the sizing was reasonable.
 */
export function vuSizingWarning(preAllocatedVUs: number, peakInFlight: number, qps: number): string | null {
  if (peakInFlight <= 0 || preAllocatedVUs < 3 * peakInFlight || preAllocatedVUs - peakInFlight < IDLE_VUS_WORTH_A_WARNING) return null;
  const suggestedMs = Math.ceil(((3 * peakInFlight) / VU_HEADROOM / qps) * 10) * 100; // rounded up to 100 ms
  return `k6 VUs oversized: ${preAllocatedVUs} pre-allocated per arm, at most ${peakInFlight} requests of one arm in flight; each VU is a JavaScript runtime k6 keeps and cycles through (heap, GC and CPU, which show as send lag: k6/README.md) — --k6-expected-latency ${suggestedMs} would pre-allocate about 3 × that peak`;
}
