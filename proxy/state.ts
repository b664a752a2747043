// The proxy's state, without HTTP: request numbering and routing (which arm is primary, whether the
// shadow goes), the totals, the rollback window and checks, operator actions, and where records and
// journal lines go. proxy/server.ts is the HTTP layer around it; tests drive it directly with their
// own clock, journal and record sink.
import { BASELINE, CANDIDATE, type Arm, type RequestRecord } from '../core/record.ts';
import { derivedRandom } from '../core/random.ts';
import type { RecordingStatus, SafeRecords } from './recording.ts';
import { evaluateRollback, type RollbackDecision, type RollbackThresholds } from './rollback.ts';
import type { JournalFailure, ProxyEvent, RoutingLine } from './run-folder.ts';
import type { WeightSchedule } from './schedule.ts';
import { choosePrimary, TrafficControl } from './traffic.ts';
import { SlidingWindow, type WindowStats } from './window.ts';

export interface ArmTotals {
  primary: number;
  shadow: number;
  ok: number;
  failed: number;
  timeouts: number;
  cancelled: number;
}

export interface ProxyTotals {
  requests: number;
  /** Requests forwarded without a record (not a completions endpoint, or a body that is not JSON). */
  unrecorded: number;
  shadow_dropped: number;
  shadow_inflight: number;
  primary_inflight: number;
  baseline: ArmTotals;
  candidate: ArmTotals;
}

export interface ProxyState {
  run_id: string;
  run_dir: string;
  weight: number;
  source: 'manual' | 'schedule';
  requested_weight: number;
  schedule: unknown;
  rolled_back: boolean;
  reason: string | null;
  rollback: { at: string; reasons: string[] } | null;
  check_interval_ms: number;
  last_check: { at: string; trigger: boolean; reasons: string[]; skipped: string[] } | null;
  window: WindowStats;
  totals: ProxyTotals;
  /** Whether records reach the disk (paused after a write failure such as a full disk). */
  recording: RecordingStatus;
  /** routing.jsonl / events.jsonl that stopped being written (a full disk), with the error; empty while both are. */
  journal: JournalFailure[];
}

/** routing.jsonl and events.jsonl (proxy/run-folder.ts). */
export interface ProxyJournal {
  route(line: RoutingLine): void;
  event(event: ProxyEvent, t_ns: number): void;
  /** The journal files that stopped being written (a full disk); none when absent. */
  journalFailures?(): JournalFailure[];
}

/** The proxy's time: monotonic ns since the run's origin (the records' time base) and wall-clock ms. */
export interface ProxyClock {
  monoNs(): number;
  nowMs(): number;
}

export interface ProxyCoreOptions {
  runId: string;
  runDir: string;
  seed: number;
  weight: number;
  schedule: WeightSchedule | null;
  scheduleDayMs: number;
  windowMs: number;
  checkIntervalMs: number;
  thresholds: RollbackThresholds;
  shadow: boolean;
  shadowMaxInflight: number;
  log: (message: string) => void;
}

/** What happens to one recorded request: its index, who serves it, and whether the shadow goes. */
export interface Admission {
  index: number;
  primary: Arm;
  shadowArm: Arm;
  weight: number;
  shadow: 'sent' | 'dropped' | 'off';
}

const emptyTotals = (): ArmTotals => ({ primary: 0, shadow: 0, ok: 0, failed: 0, timeouts: 0, cancelled: 0 });

export class ProxyCore {
  readonly #o: ProxyCoreOptions;
  readonly #journal: ProxyJournal;
  readonly #records: SafeRecords;
  readonly #clock: ProxyClock;
  readonly #traffic: TrafficControl;
  readonly #window: SlidingWindow;
  readonly #draw: () => number;
  readonly #totals: ProxyTotals = {
    requests: 0,
    unrecorded: 0,
    shadow_dropped: 0,
    shadow_inflight: 0,
    primary_inflight: 0,
    baseline: emptyTotals(),
    candidate: emptyTotals(),
  };
  #nextIndex = 0;
  #lastCheck: ProxyState['last_check'] = null;
  #lastWeight: number;

  constructor(options: ProxyCoreOptions, journal: ProxyJournal, records: SafeRecords, clock: ProxyClock) {
    this.#o = options;
    this.#journal = journal;
    this.#records = records;
    this.#clock = clock;
    this.#traffic = new TrafficControl({
      weight: options.weight,
      schedule: options.schedule,
      dayMs: options.scheduleDayMs,
      nowMs: clock.nowMs(),
    });
    this.#window = new SlidingWindow(options.windowMs);
    this.#draw = derivedRandom(options.seed, 'proxy-routing');
    this.#lastWeight = this.#traffic.weight(clock.nowMs());
  }

  #monoMs(): number {
    return this.#clock.monoNs() / 1e6;
  }

  /** A recorded request arrived: numbers it, picks its primary, decides its shadow, writes its routing line. */
  admit(parsed: Record<string, unknown>): Admission {
    const index = this.#nextIndex++;
    this.#totals.requests++;
    const weight = this.#traffic.weight(this.#clock.nowMs());
    const primary = choosePrimary(weight, typeof parsed.user === 'string' ? parsed.user : null, this.#o.seed, this.#draw);
    const shadowArm = primary === BASELINE ? CANDIDATE : BASELINE;
    let shadow: Admission['shadow'] = 'off';
    if (this.#o.shadow) {
      if (this.#totals.shadow_inflight >= this.#o.shadowMaxInflight) {
        shadow = 'dropped';
        this.#totals.shadow_dropped++;
      } else {
        shadow = 'sent';
        this.#totals.shadow_inflight++;
      }
    }
    this.#totals.primary_inflight++;
    this.#journal.route({ index, primary, weight, shadow });
    return { index, primary, shadowArm, weight, shadow };
  }

  /** A request forwarded without a record. */
  passedThrough(): void {
    this.#totals.unrecorded++;
  }

  /** A recorded exchange finished: its record goes to disk (never on the client's path) and into the window. */
  complete(record: RequestRecord, role: 'primary' | 'shadow'): void {
    if (role === 'primary') this.#totals.primary_inflight--;
    else this.#totals.shadow_inflight--;
    this.#records.add(record);
    this.#window.add(record, this.#monoMs());
    const t = this.#totals[record.arm as 'baseline' | 'candidate'];
    t[role]++;
    const kind = record.outcome.kind;
    if (kind === 'ok') t.ok++;
    else if (kind === 'cancelled') t.cancelled++;
    else t.failed++;
    if (kind === 'timeout') t.timeouts++;
  }

  #noteWeight(source: 'manual' | 'schedule' | 'admin'): void {
    const weight = this.#traffic.weight(this.#clock.nowMs());
    if (weight !== this.#lastWeight) {
      this.#lastWeight = weight;
      this.#journal.event({ event: 'weight', weight, source }, this.#clock.monoNs());
      this.#o.log(`proxy: candidate weight now ${weight} (${source})`);
    }
  }

  /** The periodic rollback check: applies the triggers to the window; a trigger latches weight 0. */
  check(): RollbackDecision {
    const stats = this.#window.stats(this.#monoMs());
    const decision = evaluateRollback(stats, this.#o.thresholds);
    const at = new Date(this.#clock.nowMs()).toISOString();
    this.#lastCheck = { at, trigger: decision.trigger, reasons: decision.reasons, skipped: decision.skipped };
    if (decision.trigger && this.#traffic.rollback(decision.reasons, at)) {
      this.#journal.event({ event: 'rollback', reasons: decision.reasons, window: stats }, this.#clock.monoNs());
      this.#o.log(`proxy: ROLLBACK — candidate weight set to 0 until an operator resets it: ${decision.reasons.join('; ')}`);
    }
    this.#noteWeight(this.#traffic.snapshot(this.#clock.nowMs()).source);
    return decision;
  }

  setWeight(weight: number): void {
    this.#traffic.setWeight(weight);
    this.#noteWeight('admin');
  }

  resetRollback(weight: number | undefined): void {
    this.#traffic.resetRollback(weight);
    this.#window.clear();
    this.#journal.event({ event: 'rollback_reset', weight: this.#traffic.weight(this.#clock.nowMs()) }, this.#clock.monoNs());
    this.#o.log('proxy: rollback reset by operator');
    this.#noteWeight('admin');
  }

  started(): void {
    this.#journal.event(
      { event: 'started', weight: this.#lastWeight, source: this.#traffic.snapshot(this.#clock.nowMs()).source },
      this.#clock.monoNs(),
    );
  }

  /** Writes what is queued, journals the stop, and returns run.json's warnings. */
  stopped(reason: string): string[] {
    this.#records.flush();
    this.#journal.event({ event: 'stopped', reason, totals: this.#totals }, this.#clock.monoNs());
    const warnings: string[] = [];
    const t = this.#totals;
    if (t.shadow_dropped > 0) {
      warnings.push(
        `${t.shadow_dropped} shadow requests were dropped because ${this.#o.shadowMaxInflight} were already in flight (--shadow-max-inflight); those requests have a record for the primary only`,
      );
    }
    const recording = this.#records.status();
    if (recording.lost > 0) {
      warnings.push(
        `${recording.lost} records could not be written (${recording.last_error ?? 'a write failed'}; recording paused ${recording.pauses} time(s)); their requests were served but are missing from records.jsonl`,
      );
    }
    return warnings;
  }

  get totals(): Readonly<ProxyTotals> {
    return this.#totals;
  }

  state(): ProxyState {
    const snap = this.#traffic.snapshot(this.#clock.nowMs());
    return {
      run_id: this.#o.runId,
      run_dir: this.#o.runDir,
      weight: snap.weight,
      source: snap.source,
      requested_weight: snap.requested_weight,
      schedule: snap.schedule,
      rolled_back: snap.rolled_back,
      reason: snap.rollback?.reasons.join('; ') ?? null,
      rollback: snap.rollback,
      check_interval_ms: this.#o.checkIntervalMs,
      last_check: this.#lastCheck,
      window: this.#window.stats(this.#monoMs()),
      totals: structuredClone(this.#totals),
      recording: this.#records.status(),
      journal: this.#journal.journalFailures?.() ?? [],
    };
  }
}
