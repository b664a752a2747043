import test from 'ava';
import { createPlan, itemForIndex, PlanError, plannedRequest, planRequests, type PlanOptions } from '../core/plan.ts';
import type { Workload, WorkloadItem } from '../core/workload/workload.ts';

const item = (i: number, timestamp_ms: number | null = null): WorkloadItem => ({
  id: `i${i}`,
  api: 'chat',
  body: { messages: [{ role: 'user', content: `q${i}` }] },
  timestamp_ms,
});
const workload = (n: number, timestamps?: number[]): Workload => ({
  source: 'w.jsonl',
  format: 'openai',
  items: Array.from({ length: n }, (_, i) => item(i, timestamps?.[i] ?? null)),
});
const ids = (options: PlanOptions, w = workload(4)) => planRequests(w, options).map((r) => r.item.id);

test('constant arrivals are exactly i / qps, in integer ns', (t) => {
  const plan = planRequests(workload(3), { arrival: 'constant', qps: 100, requests: 50, seed: 1 });
  t.is(plan.length, 50);
  t.deepEqual(
    plan.map((r) => r.scheduled_ns),
    Array.from({ length: 50 }, (_, i) => i * 10_000_000),
  );
  t.deepEqual(
    plan.map((r) => r.index),
    Array.from({ length: 50 }, (_, i) => i),
  );
  const thirds = planRequests(workload(3), { arrival: 'constant', qps: 3, requests: 4, seed: 1 }).map((r) => r.scheduled_ns);
  t.deepEqual(thirds, [0, 333_333_333, 666_666_667, 1_000_000_000]);
});

test('poisson arrivals: the mean rate is the qps, gaps are exponential, and the schedule is reproducible', (t) => {
  const options: PlanOptions = { arrival: 'poisson', qps: 50, requests: 20_000, seed: 11 };
  const times = planRequests(workload(7), options).map((r) => r.scheduled_ns);
  t.is(times[0], 0);
  t.true(times.every((x, i) => Number.isInteger(x) && (i === 0 || x >= times[i - 1]!)));
  const gaps = times.slice(1).map((x, i) => x - times[i]!);
  const mean = gaps.reduce((a, b) => a + b, 0) / gaps.length;
  const sd = Math.sqrt(gaps.reduce((a, g) => a + (g - mean) ** 2, 0) / (gaps.length - 1));
  t.true(Math.abs(1e9 / mean - 50) / 50 < 0.03, `rate ${1e9 / mean}`); // 1/sqrt(20000) = 0.7 % standard error
  t.true(Math.abs(sd / mean - 1) < 0.05, `coefficient of variation ${sd / mean}`); // exponential: sd = mean
  t.deepEqual(
    planRequests(workload(7), options).map((r) => r.scheduled_ns),
    times,
  );
  t.notDeepEqual(
    planRequests(workload(7), { ...options, seed: 12 }).map((r) => r.scheduled_ns),
    times,
  );
});

test('poisson random access equals in-order access, far into a long plan', (t) => {
  const options: PlanOptions = { arrival: 'poisson', qps: 1000, requests: 1_000_000, seed: 5 };
  const sequential = createPlan(workload(3), options);
  const expected = new Map<number, number>();
  for (let i = 0; i < 300_001; i++) {
    const ns = sequential.scheduledNs(i);
    if (i % 4099 === 0 || i === 300_000 || i === 1023 || i === 1024) expected.set(i, ns);
  }
  const random = createPlan(workload(3), options);
  for (const i of [...expected.keys()].reverse()) t.is(random.scheduledNs(i), expected.get(i)!, `index ${i}`);
  t.is(plannedRequest(workload(3), 300_000, options).scheduled_ns, expected.get(300_000)!);
  t.true(random.scheduledNs(999_999) > expected.get(300_000)!);
});

test('trace arrivals follow the timestamps × timeScale relative to the first, repeating after one mean gap', (t) => {
  const w = workload(3, [1000, 1250, 2000]);
  const once = planRequests(w, { arrival: 'trace', seed: 1 });
  t.deepEqual(
    once.map((r) => [r.item.id, r.scheduled_ns]),
    [
      ['i0', 0],
      ['i1', 250_000_000],
      ['i2', 1_000_000_000],
    ],
  );
  const fast = planRequests(w, { arrival: 'trace', seed: 1, timeScale: 0.5, requests: 5 });
  // span 1000 ms + mean gap 500 ms = a 1500 ms period, halved.
  t.deepEqual(
    fast.map((r) => [r.item.id, r.scheduled_ns]),
    [
      ['i0', 0],
      ['i1', 125_000_000],
      ['i2', 500_000_000],
      ['i0', 750_000_000],
      ['i1', 875_000_000],
    ],
  );
  const slow = planRequests(w, { arrival: 'trace', seed: 1, timeScale: 2, durationS: 3 });
  t.deepEqual(
    slow.map((r) => r.scheduled_ns),
    [0, 500_000_000, 2_000_000_000],
  );
});

test('trace arrival needs timestamps, file order, and a span to repeat', (t) => {
  t.throws(() => createPlan(workload(3), { arrival: 'trace', seed: 1 }), { instanceOf: PlanError, message: /item i0 has none/ });
  const timed = workload(3, [0, 10, 20]);
  const shuffled = t.throws(() => createPlan(timed, { arrival: 'trace', seed: 1, order: 'shuffle' }), { instanceOf: PlanError });
  t.is(shuffled.option, 'order');
  const flat = workload(2, [5, 5]);
  t.is(createPlan(flat, { arrival: 'trace', seed: 1 }).total, 2);
  t.throws(() => createPlan(flat, { arrival: 'trace', seed: 1, requests: 3 }), {
    instanceOf: PlanError,
    message: /spans 0 ms, so it cannot be repeated/,
  });
  t.throws(() => createPlan(flat, { arrival: 'trace', seed: 1, durationS: 1 }), { instanceOf: PlanError, message: /spans 0 ms/ });
});

test('warm-up requests come first, are flagged, and are in addition to `requests`', (t) => {
  const plan = planRequests(workload(4), { arrival: 'constant', qps: 10, requests: 5, warmup: 3, seed: 1 });
  t.deepEqual(
    plan.map((r) => r.warmup),
    [true, true, true, false, false, false, false, false],
  );
  t.deepEqual(
    plan.map((r) => r.scheduled_ns / 1e8),
    [0, 1, 2, 3, 4, 5, 6, 7],
  );
  t.deepEqual(
    plan.map((r) => r.item.id),
    ['i0', 'i1', 'i2', 'i3', 'i0', 'i1', 'i2', 'i3'],
  );
  const p = createPlan(workload(4), { arrival: 'constant', qps: 10, requests: 5, warmup: 3, seed: 1 });
  t.deepEqual([p.total, p.warmup, p.measured], [8, 3, 5]);
});

test('durationS counts the measured arrivals before it; with requests, the shorter wins', (t) => {
  const w = workload(4);
  const constant = createPlan(w, { arrival: 'constant', qps: 10, durationS: 2, warmup: 2, seed: 1 });
  t.deepEqual([constant.warmup, constant.measured], [2, 20]); // measured arrivals at 0.2 s .. 2.1 s: 20 within 2 s of the first
  t.is(createPlan(w, { arrival: 'constant', qps: 10, durationS: 2.05, seed: 1 }).measured, 21);
  t.is(createPlan(w, { arrival: 'constant', qps: 10, durationS: 2, requests: 7, seed: 1 }).measured, 7);
  t.is(createPlan(w, { arrival: 'constant', qps: 10, durationS: 2, requests: 70, seed: 1 }).measured, 20);
  const options: PlanOptions = { arrival: 'poisson', qps: 20, durationS: 30, warmup: 5, seed: 3 };
  const poisson = createPlan(w, options);
  const longer = createPlan(w, { ...options, durationS: undefined, requests: poisson.measured + 1 });
  const start = longer.scheduledNs(5);
  t.true(longer.scheduledNs(poisson.total - 1) - start < 30e9);
  t.true(longer.scheduledNs(poisson.total) - start >= 30e9);
  t.true(Math.abs(poisson.measured - 600) < 100, `${poisson.measured} arrivals in 30 s at 20/s`);
});

test('without requests or durationS a plan is one pass over the workload', (t) => {
  t.is(createPlan(workload(6), { arrival: 'poisson', qps: 1, seed: 1 }).measured, 6);
  t.is(createPlan(workload(6), { arrival: 'constant', qps: 1, durationS: 1e-9, seed: 1 }).measured, 1); // any duration holds its first request
});

test('sequential order cycles through the items', (t) => {
  t.deepEqual(ids({ arrival: 'constant', qps: 1, requests: 10, seed: 1 }), ['i0', 'i1', 'i2', 'i3', 'i0', 'i1', 'i2', 'i3', 'i0', 'i1']);
});

test('shuffle order: each pass is a seeded permutation of all items, and passes differ', (t) => {
  const n = 20;
  const options: PlanOptions = { arrival: 'constant', qps: 1, requests: 3 * n, order: 'shuffle', seed: 9 };
  const order = ids(options, workload(n));
  const passes = [0, 1, 2].map((p) => order.slice(p * n, (p + 1) * n));
  for (const pass of passes)
    t.deepEqual(
      [...pass].sort(),
      workload(n)
        .items.map((i) => i.id)
        .sort(),
    );
  t.notDeepEqual(passes[0], passes[1]);
  t.notDeepEqual(
    passes[0],
    workload(n).items.map((i) => i.id),
  );
  t.deepEqual(ids(options, workload(n)), order);
  t.notDeepEqual(ids({ ...options, seed: 10 }, workload(n)), order);
});

test('itemForIndex gives the plan item for every index, in any access order', (t) => {
  for (const order of ['sequential', 'shuffle'] as const) {
    const w = workload(7);
    const options: PlanOptions = { arrival: 'poisson', qps: 5, requests: 60, warmup: 4, order, seed: 21 };
    const plan = planRequests(w, options);
    const shuffledIndices = plan.map((r) => r.index).sort((a, b) => ((a * 37) % 64) - ((b * 37) % 64));
    for (const i of shuffledIndices) t.is(itemForIndex(w, i, { order, seed: 21 }), plan[i]!.item, `${order} index ${i}`);
    // A copy of the workload (as a k6 VU on another machine would parse it) picks the same items.
    const copy: Workload = structuredClone(w);
    t.deepEqual(
      plan.map((r) => itemForIndex(copy, r.index, { order, seed: 21 }).id),
      plan.map((r) => r.item.id),
    );
  }
});

test('bad plan options are refused, naming the option', (t) => {
  const w = workload(2);
  const cases: Array<[Partial<PlanOptions>, PlanError['option'], RegExp]> = [
    [{ arrival: 'constant' }, 'qps', /needs qps/],
    [{ arrival: 'poisson', qps: 0 }, 'qps', /qps must be a positive number, got 0/],
    [{ arrival: 'constant', qps: 1, requests: 0 }, 'requests', /requests must be an integer from 1/],
    [{ arrival: 'constant', qps: 1, requests: 2.5 }, 'requests', /requests must be an integer/],
    [{ arrival: 'constant', qps: 1, warmup: -1 }, 'warmup', /warmup must be an integer from 0/],
    [{ arrival: 'constant', qps: 1, durationS: -1 }, 'durationS', /durationS must be a positive number/],
    [{ arrival: 'trace', timeScale: 0 }, 'timeScale', /timeScale must be a positive number/],
    [{ arrival: 'poisson', qps: 1e6, durationS: 1e6 }, 'durationS', /would hold about 1\.0e\+12 requests/],
    [{ arrival: 'burst' as 'constant', qps: 1 }, 'arrival', /arrival must be one of constant, poisson, trace/],
    [{ arrival: 'constant', qps: 1, order: 'random' as 'shuffle' }, 'order', /order must be one of sequential, shuffle/],
  ];
  for (const [options, option, message] of cases) {
    const error = t.throws(() => createPlan(w, { seed: 1, ...options } as PlanOptions), { instanceOf: PlanError });
    t.is(error.option, option);
    t.regex(error.message, message);
  }
  t.throws(() => createPlan(w, { arrival: 'constant', qps: 1, requests: 3, seed: 1 }).request(3), { instanceOf: RangeError });
});

test('plans need only length and index access to the items, like k6 SharedArray gives', (t) => {
  const w = workload(5, [0, 10, 30, 60, 100]);
  // k6's SharedArray has length, indexing (a fresh copy each time) and iteration, no array methods.
  const shared = new Proxy(w.items, {
    get(target, key) {
      if (key === 'length') return target.length;
      if (typeof key === 'string' && /^\d+$/.test(key)) return structuredClone(target[Number(key)]);
      throw new TypeError(`SharedArray has no ${String(key)}`);
    },
  });
  const onShared: Workload = { ...w, items: shared };
  for (const options of [
    { arrival: 'trace', requests: 12, warmup: 2, seed: 4 },
    { arrival: 'poisson', qps: 3, requests: 12, order: 'shuffle', seed: 4 },
  ] as PlanOptions[]) {
    const expected = planRequests(w, options).map((r) => [r.item.id, r.scheduled_ns, r.warmup]);
    t.deepEqual(
      planRequests(onShared, options).map((r) => [r.item.id, r.scheduled_ns, r.warmup]),
      expected,
    );
    t.deepEqual(
      expected.map((_, i) => itemForIndex(onShared, i, options).id),
      expected.map((e) => e[0]),
    );
  }
});
