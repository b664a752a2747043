// Traffic shifting: which arm serves a live request (the primary) given the candidate's weight,
// where that weight comes from (manual or schedule), and the rollback latch that pins it to 0.
// No I/O and no clock of its own: callers pass the time, so the state machine is testable.
import { BASELINE, CANDIDATE, type Arm } from '../core/record.ts';
import { hash32 } from '../core/random.ts';
import { scheduledWeight, type WeightSchedule } from './schedule.ts';

export interface RollbackState {
  /** Wall-clock ISO time of the rollback. */
  at: string;
  reasons: string[];
}

export interface TrafficSnapshot {
  /** The candidate's share of live requests now (0 while rolled back). */
  weight: number;
  source: 'manual' | 'schedule';
  /** The weight the schedule or operator asks for, ignoring a rollback. */
  requested_weight: number;
  schedule: (WeightSchedule & { day_ms: number; elapsed_days: number }) | null;
  rolled_back: boolean;
  rollback: RollbackState | null;
}

export class TrafficError extends Error {}

export class TrafficControl {
  #manualWeight: number;
  #schedule: WeightSchedule | null;
  #scheduleStartMs: number;
  #dayMs: number;
  #rollback: RollbackState | null = null;

  /** `nowMs` is wall-clock (Date.now()); a schedule without a start begins at it. */
  constructor(options: { weight: number; schedule: WeightSchedule | null; dayMs: number; nowMs: number }) {
    this.#manualWeight = options.weight;
    this.#schedule = options.schedule;
    this.#scheduleStartMs = options.schedule?.start_ms ?? options.nowMs;
    this.#dayMs = options.dayMs;
  }

  requestedWeight(nowMs: number): number {
    return this.#schedule === null ? this.#manualWeight : scheduledWeight(this.#schedule, nowMs - this.#scheduleStartMs, this.#dayMs);
  }

  weight(nowMs: number): number {
    return this.#rollback !== null ? 0 : this.requestedWeight(nowMs);
  }

  get rolledBack(): boolean {
    return this.#rollback !== null;
  }

  /** An operator's weight: replaces the schedule from now on. Refused while rolled back (reset first). */
  setWeight(weight: number): void {
    if (!(weight >= 0 && weight <= 1)) throw new TrafficError(`weight: expected a number from 0 to 1, got ${JSON.stringify(weight)}`);
    if (this.#rollback !== null)
      throw new TrafficError('rolled back: POST /admin/reset-rollback first (the weight stays 0 until an operator resets it)');
    this.#schedule = null;
    this.#manualWeight = weight;
  }

  /** Latches the rollback: weight 0 until reset. Returns false when already rolled back. */
  rollback(reasons: string[], nowIso: string): boolean {
    if (this.#rollback !== null) return false;
    this.#rollback = { at: nowIso, reasons };
    return true;
  }

  /**
   * Clears the rollback. Without a schedule the weight restarts at `weight` (default 0, so the operator
   * raises it deliberately); with one, the schedule resumes unless a weight is given.
   */
  resetRollback(weight?: number): void {
    this.#rollback = null;
    if (weight !== undefined) this.setWeight(weight);
    else if (this.#schedule === null) this.#manualWeight = 0;
  }

  snapshot(nowMs: number): TrafficSnapshot {
    return {
      weight: this.weight(nowMs),
      source: this.#schedule === null ? 'manual' : 'schedule',
      requested_weight: this.requestedWeight(nowMs),
      schedule:
        this.#schedule === null
          ? null
          : {
              start_ms: this.#scheduleStartMs,
              steps: this.#schedule.steps,
              day_ms: this.#dayMs,
              elapsed_days: (nowMs - this.#scheduleStartMs) / this.#dayMs,
            },
      rolled_back: this.#rollback !== null,
      rollback: this.#rollback,
    };
  }
}

/**
 * The primary arm for one request. With a routing key (the OpenAI `user` field) the choice is sticky:
 * the key hashes to a fixed point u in [0, 1) and the candidate serves it iff u < weight, so as the
 * weight grows users only ever move from the baseline to the candidate. Without a key, `draw` (a seeded
 * uniform [0, 1) generator) decides.
 */
export function choosePrimary(weight: number, key: string | null, seed: number, draw: () => number): Arm {
  if (weight <= 0) return BASELINE;
  if (weight >= 1) return CANDIDATE;
  const u = key === null ? draw() : hash32(`${seed}:user:${key}`) / 4294967296;
  return u < weight ? CANDIDATE : BASELINE;
}
