import test from 'ava';
import { bootstrap, bootstrapNaive } from '../analysis/stats/bootstrap.ts';
import { seededRandom } from '../core/random.ts';

test('the counting bootstrap equals drawing and sorting each resample, for the same seed', (t) => {
  const random = seededRandom(11);
  const values = Float64Array.from({ length: 400 }, (_, i) => (i % 17 === 0 ? 5 : Math.round(random() * 1000) / 10 - 20));
  for (const p of [99, 50, 10]) {
    const options = { resamples: 200, seed: 42, confidence: 0.95, p };
    t.deepEqual(bootstrap(values, options), bootstrapNaive(values, options), `p=${p}`);
  }
});

test('the interval is seeded and contains the sample mean for a symmetric sample', (t) => {
  const values = Float64Array.from({ length: 101 }, (_, i) => i - 50);
  const a = bootstrap(values, { resamples: 500, seed: 1, confidence: 0.95, p: 99 });
  t.deepEqual(bootstrap(values, { resamples: 500, seed: 1, confidence: 0.95, p: 99 }), a);
  t.notDeepEqual(bootstrap(values, { resamples: 500, seed: 2, confidence: 0.95, p: 99 }), a);
  t.true(a.mean.low < 0 && a.mean.high > 0);
  t.true(a.percentile.low <= 49 && a.percentile.high <= 50);
  t.deepEqual(bootstrap(Float64Array.of(3), { resamples: 10, seed: 1, confidence: 0.9, p: 99 }).mean, { low: 3, high: 3 });
});
