// The VU-sizing warning of `load --engine k6` (k6/vu-sizing.ts): peak requests in flight per arm
// from the records, and a warning only when many pre-allocated VUs sat idle.
import test from 'ava';
import { InFlightTracker, peakOverlap, vuSizingWarning } from '../k6/vu-sizing.ts';
import { vuBudget } from '../k6/script/config.ts';

test('peak in flight: overlapping intervals counted, an end at the same instant as a start is not an overlap', (t) => {
  t.is(peakOverlap([0, 10, 20], [15, 25, 30]), 2);
  t.is(peakOverlap([0, 10, 20], [10, 20, 30]), 1, 'back to back');
  t.is(peakOverlap([5, 0, 1, 2], [100, 3, 4, 50]), 3, 'unsorted input');
  t.is(peakOverlap([], []), 0);
});

test('the tracker keeps arms apart and skips requests that were never sent or never ended', (t) => {
  const tracker = new InFlightTracker();
  for (let i = 0; i < 5; i++) tracker.add('baseline', i, 100); // five at once
  for (let i = 0; i < 5; i++) tracker.add('candidate', i * 10, i * 10 + 5); // one at a time
  tracker.add('candidate', null, 50);
  tracker.add('candidate', 1, null);
  t.is(tracker.peak(), 5);
});

test('a warning only for many idle VUs, with an expected latency that pre-allocates about 3 × the peak', (t) => {
  // 50 pairs/s of 0.7 s streams: ~40 in flight; the 3 s default pre-allocates 234 per arm.
  const warning = vuSizingWarning(234, 40, 50);
  t.truthy(warning);
  t.regex(warning!, /234 pre-allocated per arm, at most 40 requests/);
  const suggestedMs = Number(/--k6-expected-latency (\d+) /.exec(warning!)?.[1]);
  t.is(suggestedMs, 1600);
  // What the script would pre-allocate with it (config.ts vuBudget): about 3 × the peak of 40.
  const pre = vuBudget(50, suggestedMs / 1000, 10).preAllocatedVUs;
  t.true(pre >= 3 * 40 && pre < 3.5 * 40, `${pre} VUs`);
  t.is(vuSizingWarning(84, 40, 50), null, 'sized to the streams');
  t.is(vuSizingWarning(47, 7, 10), null, 'few idle VUs at a low rate are harmless');
  t.is(vuSizingWarning(234, 0, 50), null, 'nothing was in flight: nothing to size against');
});
