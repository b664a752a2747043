// ProxyCore (proxy/state.ts) without HTTP: numbering, routing and the shadow decision, totals, the
// journal lines, the rollback check and operator actions, on a clock the test moves, with records
// going to an in-memory sink through SafeRecords.
import test from 'ava';
import { emptyRecord, type RequestRecord } from '../core/record.ts';
import { SafeRecords, type RecordSink } from '../proxy/recording.ts';
import { DEFAULT_ROLLBACK_THRESHOLDS } from '../proxy/rollback.ts';
import type { ProxyEvent, RoutingLine } from '../proxy/run-folder.ts';
import { ProxyCore, type ProxyCoreOptions } from '../proxy/state.ts';

function core(over: Partial<ProxyCoreOptions> = {}) {
  const routes: RoutingLine[] = [];
  const events: ProxyEvent[] = [];
  const written: RequestRecord[] = [];
  const log: string[] = [];
  const sink: RecordSink = { write: (r) => written.push(r), flushSync: () => {} };
  const time = { ns: 0, ms: Date.parse('2026-01-01T00:00:00Z') };
  const c = new ProxyCore(
    {
      runId: 'r',
      runDir: '/tmp/r',
      seed: 1,
      weight: 0,
      schedule: null,
      scheduleDayMs: 86_400_000,
      windowMs: 60_000,
      checkIntervalMs: 1_000,
      thresholds: { ...DEFAULT_ROLLBACK_THRESHOLDS, minRequests: 10 },
      shadow: true,
      shadowMaxInflight: 2,
      log: (m) => log.push(m),
      ...over,
    },
    { route: (l) => routes.push(l), event: (e) => events.push(e) },
    new SafeRecords(sink, { log: (m) => log.push(m) }),
    { monoNs: () => time.ns, nowMs: () => time.ms },
  );
  return { c, routes, events, written, log, time };
}

const finished = (arm: 'baseline' | 'candidate', index: number, kind: 'ok' | 'http_error', ns: number): RequestRecord => {
  const r = emptyRecord({ run_id: 'r', arm, index, item_id: 'i', warmup: false, source: 'proxy', streaming: true, scheduled_ns: ns });
  r.sent_ns = ns;
  r.headers_ns = ns + 1e6;
  r.end_ns = ns + 5e6;
  if (kind === 'ok') {
    r.first_content_ns = ns + 2e6;
    r.content_ns = [ns + 2e6];
    r.outcome = { kind: 'ok' };
  } else r.outcome = { kind: 'http_error', status: 500, message: 'boom' };
  return r;
};

test('admit numbers requests, picks the primary by weight, and drops shadows beyond --shadow-max-inflight', (t) => {
  const { c, routes } = core();
  const a = [c.admit({}), c.admit({}), c.admit({})];
  t.deepEqual(
    a.map((x) => [x.index, x.primary, x.shadowArm, x.shadow]),
    [
      [0, 'baseline', 'candidate', 'sent'],
      [1, 'baseline', 'candidate', 'sent'],
      [2, 'baseline', 'candidate', 'dropped'],
    ],
  );
  t.deepEqual(
    routes.map((r) => r.shadow),
    ['sent', 'sent', 'dropped'],
  );
  t.like(c.state().totals, { requests: 3, shadow_inflight: 2, shadow_dropped: 1, primary_inflight: 3 });
  c.complete(finished('candidate', 0, 'ok', 0), 'shadow');
  t.is(c.admit({}).shadow, 'sent', 'a finished shadow frees its slot');
  t.deepEqual(core({ shadow: false }).c.admit({}).shadow, 'off');
});

test('complete counts outcomes per arm and role, and the records reach the sink on the next turn', async (t) => {
  const { c, written } = core();
  c.admit({});
  c.complete(finished('baseline', 0, 'ok', 0), 'primary');
  c.complete(finished('candidate', 0, 'http_error', 0), 'shadow');
  t.like(c.state().totals, {
    primary_inflight: 0,
    shadow_inflight: 0,
    baseline: { primary: 1, ok: 1, failed: 0 },
    candidate: { shadow: 1, ok: 0, failed: 1 },
  });
  t.is(written.length, 0, 'never written on the completing turn');
  await new Promise((resolve) => setImmediate(resolve));
  t.is(written.length, 2);
  t.like(c.state().recording, { state: 'recording', written: 2, lost: 0 });
});

test('check rolls back on the candidate error rate, journals and latches weight 0 until an operator resets it', (t) => {
  const { c, events, log, time } = core({ weight: 0.5 });
  for (let i = 0; i < 20; i++) {
    time.ns += 10e6;
    c.complete(finished('baseline', i, 'ok', time.ns), 'shadow');
    c.complete(finished('candidate', i, i < 3 ? 'http_error' : 'ok', time.ns), 'shadow');
  }
  const decision = c.check();
  t.true(decision.trigger);
  t.regex(decision.reasons.join(), /candidate error rate 15\.00 % \(3\/20\)/);
  t.like(c.state(), { weight: 0, rolled_back: true, requested_weight: 0.5 });
  t.deepEqual(
    events.map((e) => e.event),
    ['rollback', 'weight'],
  );
  t.true(log.some((m) => m.startsWith('proxy: ROLLBACK')));
  c.resetRollback(0.1);
  t.like(c.state(), { weight: 0.1, rolled_back: false });
  t.is(c.state().window.candidate.requests, 0, 'the window starts afresh');
  t.false(c.check().trigger);
});

test('stopped() writes what is queued and returns the warnings run.json gets', (t) => {
  const { c, written, events } = core({ shadowMaxInflight: 1 });
  c.admit({});
  c.admit({});
  c.complete(finished('baseline', 0, 'ok', 0), 'primary');
  const warnings = c.stopped('SIGTERM');
  t.is(written.length, 1, 'flushed at once');
  t.deepEqual(warnings, [
    '1 shadow requests were dropped because 1 were already in flight (--shadow-max-inflight); those requests have a record for the primary only',
  ]);
  t.is(events.at(-1)?.event, 'stopped');
});
