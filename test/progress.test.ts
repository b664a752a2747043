import test from 'ava';
import { formatProgress } from '../engine/progress.ts';

test('progress line: rate, in flight, queued when any, and per arm ok / err, cancelled only when any (not counted as errors)', (t) => {
  const line = formatProgress({
    elapsedS: 12,
    sent: 1200,
    inflight: 35,
    queued: 0,
    arms: [
      ['baseline', { ok: 1180, errors: 0, cancelled: 0 }],
      ['candidate', { ok: 1150, errors: 1, cancelled: 29 }],
    ],
  });
  t.is(line, '  12.0 s  sent 1200 (100.0/s)  in flight 35  | baseline ok 1180 err 0 | candidate ok 1150 err 1 cancelled 29');
  t.regex(formatProgress({ elapsedS: 1, sent: 10, inflight: 2, queued: 3, arms: [] }), /in flight 2  queued 3/);
});
