// The request plan: for request index i, which workload item is sent and when (ns after the run's
// origin). Everything is a function of (workload, options, i), so any engine — the Node scheduler,
// or k6 VUs on several machines — computes the same request i without building the whole plan,
// and a plan of millions of requests costs a few kilobytes.
//
// Indices 0 .. warmup−1 are warm-up requests (flagged, sent on the same schedule, excluded from
// analysis); the `requests` measured requests follow, so warm-up is in addition to `requests`.
import { derivedRandom, exponential, shuffle } from './random.ts';
import type { Workload, WorkloadItem, WorkloadSource } from './workload/common.ts';
import { eagerSource, isWorkloadSource } from './workload/source.ts';

/** What a plan reads: a source (items built on demand), or a parsed workload (adapted with eagerSource). */
export type PlanWorkload = Workload | WorkloadSource;

const adapted = new WeakMap<object, WorkloadSource>();
/** The source of a workload; the adapter is cached per workload so its lazy scans run once. */
export function asSource(workload: PlanWorkload): WorkloadSource {
  if (isWorkloadSource(workload)) return workload;
  let source = adapted.get(workload);
  if (source === undefined) adapted.set(workload, (source = eagerSource(workload)));
  return source;
}

export type Arrival = 'constant' | 'poisson' | 'trace';
export const ARRIVALS: readonly Arrival[] = ['constant', 'poisson', 'trace'];
export type ItemOrder = 'sequential' | 'shuffle';
export const ITEM_ORDERS: readonly ItemOrder[] = ['sequential', 'shuffle'];

export interface ItemOrderOptions {
  /** sequential (default): items in file order, cycling; shuffle: a seeded permutation per pass over the items. */
  order?: ItemOrder;
  seed: number;
}

export interface PlanOptions extends ItemOrderOptions {
  /**
   * constant: request i at i / qps; poisson: seeded exponential gaps of mean 1 / qps (first request at 0);
   * trace: the items' timestamp_ms × timeScale, relative to the first item.
   */
  arrival: Arrival;
  /** Requests per second (constant, poisson; ignored by trace). */
  qps?: number;
  /** Measured requests. */
  requests?: number;
  /** Measured requests = every arrival within this many seconds of the first measured one. With `requests`, the shorter wins. */
  durationS?: number;
  /** Warm-up requests sent first, in addition to the measured ones (default 0). */
  warmup?: number;
  /** trace: multiplies the trace's time offsets (0.5 = replay twice as fast; default 1). */
  timeScale?: number;
}

export interface PlannedRequest {
  index: number;
  /** The item's index in the source (source.item(itemIndex) is `item`). */
  itemIndex: number;
  /** Built by request(); scheduledNs never builds items. */
  item: WorkloadItem;
  /** When to send, in integer ns after the run's origin; request 0 is at 0. */
  scheduled_ns: number;
  warmup: boolean;
}

/** A plan option that cannot work; `option` is the PlanOptions key, for the CLI to name its flag. */
export class PlanError extends Error {
  readonly option: keyof PlanOptions | 'workload';
  constructor(option: keyof PlanOptions | 'workload', message: string) {
    super(message);
    this.name = 'PlanError';
    this.option = option;
  }
}

export interface RequestPlan {
  /** Warm-up plus measured requests. */
  readonly total: number;
  readonly warmup: number;
  readonly measured: number;
  /** Request i; O(1) for constant and trace arrivals and for in-order access, O(1024) for a random poisson index. */
  request(index: number): PlannedRequest;
  scheduledNs(index: number): number;
  [Symbol.iterator](): Iterator<PlannedRequest>;
}

/** Above this a plan is surely a mistake (and indices stop being exact small integers everywhere). */
const MAX_REQUESTS = 1e9;
/** Poisson gaps are drawn in blocks with their own seeded generator, so a far index needs only its block. */
const POISSON_BLOCK = 1024;
const NS_PER_S = 1e9;

// --- item order ---------------------------------------------------------------------------------

const permutations = new WeakMap<object, { seed: number; pass: number; order: Uint32Array }>();

/** Position in the workload of request index's item. */
export function itemIndexForIndex(workload: PlanWorkload, index: number, options: ItemOrderOptions): number {
  const key = 'items' in workload ? workload.items : workload;
  const n = 'items' in workload ? workload.items.length : workload.length;
  if (n === 0) throw new PlanError('workload', `${workload.source}: the workload has no items`);
  if (!Number.isSafeInteger(index) || index < 0) throw new RangeError(`request index ${index} must be a non-negative integer`);
  const slot = index % n;
  if ((options.order ?? 'sequential') === 'sequential') return slot;
  const pass = Math.floor(index / n);
  let cached = permutations.get(key);
  if (cached === undefined || cached.seed !== options.seed || cached.pass !== pass) {
    const order = Uint32Array.from({ length: n }, (_, i) => i);
    shuffle(order as unknown as number[], derivedRandom(options.seed, `plan:order:${pass}`));
    cached = { seed: options.seed, pass, order };
    permutations.set(key, cached); // one pass cached per workload: in-order access stays O(1)
  }
  return cached.order[slot]!;
}

/** The item of request index, exactly as the plan has it, without building the plan (k6 calls this per iteration). */
export function itemForIndex(workload: PlanWorkload, index: number, options: ItemOrderOptions): WorkloadItem {
  const i = itemIndexForIndex(workload, index, options);
  return 'items' in workload ? workload.items[i]! : workload.item(i);
}

// --- schedules ----------------------------------------------------------------------------------

/** Unrounded time of request i in ns; schedules are pure functions of i (poisson caches blocks). */
type Schedule = (index: number) => number;

function constantSchedule(qps: number): Schedule {
  return (i) => (i * NS_PER_S) / qps;
}

function poissonSchedule(qps: number, seed: number): Schedule {
  const meanNs = NS_PER_S / qps;
  const blockStarts: number[] = [0]; // time of request b·POISSON_BLOCK
  let cachedBlock = -1;
  const times = new Float64Array(POISSON_BLOCK); // times of the cached block's requests
  const fill = (block: number) => {
    const random = derivedRandom(seed, `plan:poisson:${block}`);
    let t = blockStarts[block]!;
    for (let k = 0; k < POISSON_BLOCK; k++) {
      times[k] = t;
      t += exponential(random, meanNs); // gap from request k to k+1 of this block
    }
    if (blockStarts.length === block + 1) blockStarts.push(t);
    cachedBlock = block;
  };
  return (i) => {
    const block = Math.floor(i / POISSON_BLOCK);
    if (block !== cachedBlock) {
      while (blockStarts.length <= block) fill(blockStarts.length - 1); // first visit: walk the blocks before it once
      fill(block);
    }
    return times[i - block * POISSON_BLOCK]!;
  };
}

function traceSchedule(workload: WorkloadSource, timeScale: number): { schedule: Schedule; periodMs: number } {
  // Only the compact timestamps: no item is built.
  const n = workload.length;
  const timestamps = workload.timestamps;
  if (timestamps === null) {
    let untimed = 'has items without one';
    for (let k = 0; k < Math.min(n, 1000); k++) {
      const item = workload.item(k);
      if (item.timestamp_ms === null) {
        untimed = `item ${item.id} has none`;
        break;
      }
    }
    throw new PlanError(
      'arrival',
      `arrival "trace" needs a timestamp on every item, but ${workload.source} ${untimed} (use a trace or Azure file, or openai lines with timestamp_ms, or arrival constant/poisson)`,
    );
  }
  const first = timestamps[0]!;
  const spanMs = timestamps[n - 1]! - first;
  // A repeated trace starts its next pass one mean inter-arrival gap after its last request.
  const periodMs = n > 1 ? spanMs + spanMs / (n - 1) : 0;
  const schedule: Schedule = (i) => {
    const pass = Math.floor(i / n);
    return (timestamps[i - pass * n]! - first + pass * periodMs) * timeScale * 1e6;
  };
  return { schedule, periodMs };
}

// --- the plan -----------------------------------------------------------------------------------

function checkCount(option: 'requests' | 'warmup', value: number | undefined, min: number): void {
  if (value !== undefined && (!Number.isSafeInteger(value) || value < min || value > MAX_REQUESTS)) {
    throw new PlanError(option, `${option} must be an integer from ${min} to ${MAX_REQUESTS}, got ${value}`);
  }
}

function checkPositive(option: 'qps' | 'durationS' | 'timeScale', value: number | undefined): void {
  if (value !== undefined && !(typeof value === 'number' && Number.isFinite(value) && value > 0)) {
    throw new PlanError(option, `${option} must be a positive number, got ${value}`);
  }
}

export function createPlan(input: PlanWorkload, options: PlanOptions): RequestPlan {
  const workload = asSource(input);
  const { arrival, seed } = options;
  const order = options.order ?? 'sequential';
  if (!ARRIVALS.includes(arrival))
    throw new PlanError('arrival', `arrival must be one of ${ARRIVALS.join(', ')}, got ${JSON.stringify(arrival)}`);
  if (!ITEM_ORDERS.includes(order))
    throw new PlanError('order', `order must be one of ${ITEM_ORDERS.join(', ')}, got ${JSON.stringify(order)}`);
  if (workload.length === 0) throw new PlanError('workload', `${workload.source}: the workload has no items`);
  checkCount('requests', options.requests, 1);
  checkCount('warmup', options.warmup, 0);
  checkPositive('durationS', options.durationS);
  checkPositive('timeScale', options.timeScale);
  const warmup = options.warmup ?? 0;

  let schedule: Schedule;
  let tracePeriodMs = 0;
  if (arrival === 'trace') {
    if (order !== 'sequential')
      throw new PlanError(
        'order',
        'arrival "trace" replays items in file order; order "shuffle" would detach timestamps from their requests (use order sequential)',
      );
    const trace = traceSchedule(workload, options.timeScale ?? 1);
    schedule = trace.schedule;
    tracePeriodMs = trace.periodMs;
  } else {
    if (options.qps === undefined) throw new PlanError('qps', `arrival "${arrival}" needs qps (requests per second)`);
    checkPositive('qps', options.qps);
    schedule = arrival === 'constant' ? constantSchedule(options.qps) : poissonSchedule(options.qps, seed);
  }

  let measured = options.requests ?? (options.durationS === undefined ? workload.length : MAX_REQUESTS);
  if (options.durationS !== undefined) {
    const n = workload.length;
    const startNs = schedule(warmup);
    const limitNs = options.durationS * NS_PER_S;
    const expected =
      arrival !== 'trace'
        ? options.durationS * options.qps!
        : tracePeriodMs > 0
          ? (limitNs / 1e6 / (options.timeScale ?? 1) / tracePeriodMs) * n
          : n;
    if (expected > MAX_REQUESTS)
      throw new PlanError(
        'durationS',
        `durationS ${options.durationS} s would hold about ${expected.toExponential(1)} requests (at most ${MAX_REQUESTS})`,
      );
    // The first measured arrival at or after the limit; constant jumps near it, the others walk (O(count)).
    let j = arrival === 'constant' ? Math.min(measured, Math.max(0, Math.ceil(options.durationS * options.qps!) - 2)) : 0;
    while (j < measured && schedule(warmup + j) - startNs < limitNs) {
      if (arrival === 'trace' && tracePeriodMs === 0 && warmup + j >= n) {
        throw new PlanError(
          'durationS',
          `${workload.source} spans 0 ms, so it cannot be repeated to fill durationS ${options.durationS} s (give requests instead)`,
        );
      }
      j++;
    }
    measured = j; // ≥ 1: the first measured request is at 0 s of any positive duration
  }
  const total = warmup + measured;
  if (total > MAX_REQUESTS) throw new PlanError('requests', `the plan would hold ${total} requests (at most ${MAX_REQUESTS})`);
  if (arrival === 'trace' && tracePeriodMs === 0 && total > workload.length) {
    throw new PlanError(
      'requests',
      `${workload.source} spans 0 ms, so it cannot be repeated: at most ${workload.length} requests (warm-up included) with arrival "trace"`,
    );
  }

  const itemOptions: ItemOrderOptions = { order, seed };
  const scheduledNs = (index: number): number => {
    if (!Number.isSafeInteger(index) || index < 0 || index >= total)
      throw new RangeError(`request index ${index} is outside the plan (0 .. ${total - 1})`);
    return Math.round(schedule(index));
  };
  const request = (index: number): PlannedRequest => {
    const scheduled = scheduledNs(index);
    const itemIndex = itemIndexForIndex(workload, index, itemOptions);
    return { index, itemIndex, item: workload.item(itemIndex), scheduled_ns: scheduled, warmup: index < warmup };
  };
  return {
    total,
    warmup,
    measured,
    request,
    scheduledNs,
    *[Symbol.iterator]() {
      for (let i = 0; i < total; i++) yield request(i);
    },
  };
}

/** The whole plan as an array; for long plans iterate createPlan(...) instead. */
export function planRequests(workload: PlanWorkload, options: PlanOptions): PlannedRequest[] {
  return Array.from(createPlan(workload, options));
}

/** Request i of the plan on its own (builds the plan's small state; reuse createPlan for many indices). */
export function plannedRequest(workload: PlanWorkload, index: number, options: PlanOptions): PlannedRequest {
  return createPlan(workload, options).request(index);
}
