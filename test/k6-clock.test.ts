// The k6 script's clock (k6/script/clock.ts): nsClock, the per-event form, reads what nsSince reads.
import test from 'ava';
import { createClock, nsClock, nsSince } from '../k6/script/clock.ts';

test('nsClock = nsSince: Date.now (whole ms, the only clock real k6 has) and a performance.now double', (t) => {
  const realNow = Date.now;
  let ms = 1_796_000_000_000;
  Date.now = () => ms;
  try {
    const wall = createClock({});
    t.is(wall.source, 'Date.now');
    const origin = ms - 1234;
    const since = nsClock(wall, origin);
    for (const [step, notBefore] of [
      [0, 0],
      [7, 0],
      [1, 5e9], // a reading before notBefore (wall clock stepped back) keeps the record ordered
      [-3, 0],
    ] as const) {
      ms += step;
      t.is(since(notBefore), nsSince(wall, origin, notBefore));
    }
    let perfMs = 10.25;
    const perf = createClock({ performance: { now: () => perfMs } });
    t.is(perf.source, 'performance.now');
    const sincePerf = nsClock(perf, origin);
    for (const step of [0, 0.3335, 12.5]) {
      perfMs += step;
      t.is(sincePerf(0), nsSince(perf, origin, 0));
    }
  } finally {
    Date.now = realNow;
  }
});
