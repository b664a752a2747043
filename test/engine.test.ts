// The Node engine end to end, through the load command's own code path (cli/load.ts run), against
// the real simulated endpoints (startSim on port 0, or a sim child process where timing matters) and
// the real workload loader. The rate and timestamp-accuracy tests are in test/timing/engine-accuracy.test.ts.
import test from 'ava';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { OutcomeKind } from '../core/record.ts';
import { startSim } from '../sim/server.ts';
import { startTestSim as sim, tempDir } from './support/load-helpers.ts';
import { byArm, endpoints, load } from './support/engine-run.ts';

const tmp = () => tempDir('sb-engine-');

test.serial('every injected fault maps to its outcome kind; records = arms × requests sent', async (t) => {
  // The baseline answers at once (time scale 0: one write per response) and only the stall case has a
  // short limit, so no baseline request can time out however busy the machine is (a 1 s limit on
  // streamed answers did, once, with two CPU hogs running).
  const [b, c] = [await sim(t, { timeScale: 0 }), await sim(t, { timeScale: 0.01 })];
  const cases: Array<[fault: string, kind: OutcomeKind, pattern: RegExp, timeout: string]> = [
    ['error-503', 'http_error', /./, '60'],
    ['stall', 'timeout', /within 2 s/, '2'],
    ['disconnect', 'connection_error', /mid-stream/, '60'],
    ['malformed', 'protocol_error', /not JSON/, '60'],
  ];
  for (const [fault, kind, pattern, timeout] of cases) {
    const { records, manifest } = await load([
      ...endpoints(b, c),
      '--qps',
      '50',
      '--requests',
      '6',
      '--timeout',
      timeout,
      '--candidate-header',
      `x-sim-fault: ${fault}`,
    ]);
    t.is(records.length, 2 * manifest.counts.pairs_sent, fault);
    t.is(manifest.counts.pairs_sent, 6);
    t.deepEqual(
      byArm(records, 'baseline')
        .filter((r) => r.outcome.kind !== 'ok')
        .map((r) => r.outcome),
      [],
      `${fault}: baseline untouched`,
    );
    for (const r of byArm(records, 'candidate')) {
      t.is(r.outcome.kind, kind, `${fault} → ${kind}`);
      t.regex((r.outcome as { message: string }).message, pattern);
    }
  }
  // Random faults at the sim's own rates: still one record per request per arm.
  const [fb, fc] = [await sim(t, { faults: { errorRate: 0.1, stallRate: 0.1, disconnectRate: 0.1, malformedRate: 0.1 } }), await sim(t)];
  const { records, manifest } = await load([...endpoints(fb, fc), '--qps', '100', '--requests', '60', '--timeout', '0.5']);
  t.is(records.length, 120);
  t.is(manifest.counts.records, 120);
  const kinds = new Set(byArm(records, 'baseline').map((r) => r.outcome.kind));
  t.true(kinds.size >= 4, `baseline kinds: ${[...kinds].join(', ')}`);
});

test.serial(
  "wrong model name → http_error with the server's message; unreachable endpoint → connection_error (preflight off)",
  async (t) => {
    const [b, c] = [await sim(t), await sim(t)];
    const wrong = await load([
      ...endpoints(b, c),
      '--requests',
      '3',
      '--qps',
      '50',
      '--candidate-model',
      'no-such-model',
      '--no-preflight',
    ]);
    for (const r of byArm(wrong.records, 'candidate'))
      t.like(r.outcome, { kind: 'http_error', status: 404, message: 'The model `no-such-model` does not exist.' });
    const closed = await startSim({ profile: 'vllm-single-node', port: 0 });
    const deadUrl = closed.url;
    await closed.close();
    const dead = await load(['--baseline', b.url, '--candidate', deadUrl, '--requests', '3', '--qps', '50', '--no-preflight']);
    t.is(dead.records.length, 6);
    for (const r of byArm(dead.records, 'candidate')) t.like(r.outcome, { kind: 'connection_error', code: 'ECONNREFUSED' });
  },
);

test.serial('--baseline-repeat adds the A/A arm at the same instant; --warmup flags the first requests; --workers 0 works', async (t) => {
  const [b, c] = [await sim(t), await sim(t)];
  const { records } = await load([
    ...endpoints(b, c),
    '--qps',
    '50',
    '--requests',
    '10',
    '--warmup',
    '4',
    '--baseline-repeat',
    '--workers',
    '0',
  ]);
  t.is(records.length, 3 * 14);
  const repeat = byArm(records, 'baseline_repeat');
  t.deepEqual(
    repeat.map((r) => r.index),
    Array.from({ length: 14 }, (_, i) => i),
  );
  t.deepEqual(
    byArm(records, 'baseline').map((r) => r.warmup),
    [...Array(4).fill(true), ...Array(10).fill(false)],
  );
  for (const r of repeat) {
    const base = byArm(records, 'baseline')[r.index]!;
    t.is(r.scheduled_ns, base.scheduled_ns);
    t.is(r.output_text, base.output_text, 'the sim answers the same prompt the same way');
    t.is(r.instance, '');
  }
});

test.serial("trace arrivals replay the workload's own timestamps, scaled by --time-scale", async (t) => {
  const [b, c] = [await sim(t), await sim(t)];
  const file = join(tmp(), 'trace.jsonl');
  const offsets = [1000, 1100, 1150, 1400];
  writeFileSync(
    file,
    offsets.map((ms, i) => JSON.stringify({ timestamp_ms: ms, messages: [{ role: 'user', content: `q${i}` }], max_tokens: 4 })).join('\n') +
      '\n',
  );
  const { records } = await load([...endpoints(b, c), '--workload', file, '--arrival', 'trace', '--time-scale', '0.5']);
  const base = byArm(records, 'baseline');
  t.deepEqual(
    base.map((r) => r.scheduled_ns),
    [0, 50e6, 75e6, 200e6],
    'one pass over the trace, offsets × 0.5 from the first',
  );
  for (const r of base) t.true(r.sent_ns! >= r.scheduled_ns);
});

test.serial('--max-inflight holds pairs back and records the wait as queue_wait_ns', async (t) => {
  const [b, c] = [await sim(t, { timeScale: 0.3 }), await sim(t, { timeScale: 0.3 })];
  const { records } = await load([...endpoints(b, c), '--qps', '100', '--requests', '12', '--max-inflight', '2']);
  t.is(records.length, 24);
  const waited = records.filter((r) => r.queue_wait_ns > 0);
  t.true(waited.length > 0, 'some pairs waited for a slot');
  for (const r of waited) t.true(r.sent_ns! - r.scheduled_ns >= r.queue_wait_ns - 1e6, 'the wait is part of the send lag');
  // Never more than 2 pairs in flight: at any send instant, at most 2 baseline requests are open.
  const base = byArm(records, 'baseline');
  for (const r of base) {
    const open = base.filter((o) => o.sent_ns! <= r.sent_ns! && o.end_ns! > r.sent_ns!).length;
    t.true(open <= 2, `${open} in flight at index ${r.index}`);
  }
});
