import test from 'ava';
import { readFileSync } from 'node:fs';
import { quantileSorted } from 'simple-statistics';
import { describe, Float64Column, lerp, percentile, percentileSorted } from '../analysis/stats/stats.ts';
import { seededRandom } from '../core/random.ts';

const fixture = JSON.parse(readFileSync(new URL('./fixtures/analysis/percentile-cases.json', import.meta.url), 'utf8')) as {
  cases: Array<{ values: string[]; percentiles: Record<string, string> }>;
};

test("percentile equals numpy's linear method on the committed cases (n = 1, ties, p = 0 and 100)", (t) => {
  t.true(fixture.cases.some((c) => c.values.length === 1));
  for (const c of fixture.cases) {
    const values = c.values.map(Number);
    for (const [p, expected] of Object.entries(c.percentiles)) {
      t.is(percentile(values, Number(p)), Number(expected), `n=${values.length} p=${p}`);
    }
  }
});

test('hand-computed percentiles', (t) => {
  // [1, 2, 3, 4]: h = 3·q. P50 → h = 1.5 → 2.5; P75 → h = 2.25 → 3.25; P90 → 2.7 → 3.7; P0 → 1; P100 → 4.
  t.is(percentile([4, 1, 3, 2], 50), 2.5);
  t.is(percentile([4, 1, 3, 2], 75), 3.25);
  t.is(percentileSorted([1, 2, 3, 4], 90), 4 - (4 - 3) * (1 - (3 * 0.9 - 2))); // t ≥ 0.5: numpy computes b − (b − a)·(1 − t)
  t.is(percentile([4, 1, 3, 2], 0), 1);
  t.is(percentile([4, 1, 3, 2], 100), 4);
  t.is(percentile([7], 99), 7);
  t.is(percentile([2, 2, 2, 9], 50), 2);
  t.throws(() => percentile([], 50), { instanceOf: RangeError });
  t.throws(() => percentile([1], 101), { instanceOf: RangeError });
});

test('lerp interpolates from the nearer end, like numpy (simple-statistics differs in the last bit)', (t) => {
  t.is(lerp(0.1, 0.2, 0.75), 0.2 - (0.2 - 0.1) * 0.25);
  let differs = 0;
  for (const c of fixture.cases) {
    const sorted = c.values.map(Number).sort((a, b) => a - b);
    for (const [p, expected] of Object.entries(c.percentiles)) {
      if (quantileSorted(sorted, Number(p) / 100) !== Number(expected)) differs++;
    }
  }
  t.true(differs > 0, 'the fixture shows why simple-statistics is not used for percentiles');
});

test('describe gives count, mean, population std, min, max and percentiles; NaN means not measured', (t) => {
  const s = describe(Float64Array.from([1, 2, 3, 4, Number.NaN]));
  t.deepEqual(s, {
    count: 4,
    mean: 2.5,
    std: Math.sqrt(1.25),
    min: 1,
    max: 4,
    p50: 2.5,
    p75: 3.25,
    p90: percentile([1, 2, 3, 4], 90),
    p95: percentile([1, 2, 3, 4], 95),
    p99: percentile([1, 2, 3, 4], 99),
  });
  t.is(describe(Float64Array.from([Number.NaN])), null);
  t.is(describe(new Float64Array(0)), null);
});

test('histogram selection gives the same percentiles as sorting, with ties and across blocks', (t) => {
  const random = seededRandom(3);
  const column = new Float64Column(1000);
  for (let i = 0; i < 25_000; i++) {
    const r = random();
    // heavy ties at 10, a continuous body, a far outlier and some NaN
    column.push(r < 0.3 ? 10 : r < 0.31 ? Number.NaN : r < 0.3101 ? 1e7 : Math.round(random() * 5000) / 7);
  }
  t.is(column.length, 25_000);
  const bySorting = describe(column);
  const bySelection = describe(column, 0);
  t.deepEqual(bySelection, bySorting);
  // every bucket "crowded": each is histogrammed again within its own value range, down to single values
  t.deepEqual(describe(column, 0, 3), bySorting);
  // all equal
  const same = new Float64Column(10);
  for (let i = 0; i < 50; i++) same.push(3);
  t.deepEqual(describe(same, 0), describe(same));
});
