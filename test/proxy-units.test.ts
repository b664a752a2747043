// The proxy's pure parts: schedule, traffic state machine and routing, rollback triggers, the
// sliding window, and the response recorder (bytes → record).
import test from 'ava';
import { createHash } from 'node:crypto';
import { emptyRecord, recordErrors, type RequestRecord } from '../core/record.ts';
import { DEFAULT_GATES, parseGates } from '../analysis/gates.ts';
import { GUIDE_SCHEDULE, parseSchedule, ScheduleError, scheduledWeight } from '../proxy/schedule.ts';
import { choosePrimary, TrafficControl, TrafficError } from '../proxy/traffic.ts';
import { DEFAULT_ROLLBACK_THRESHOLDS, evaluateRollback, rollbackThresholds } from '../proxy/rollback.ts';
import { SlidingWindow, type ArmWindowStats, type WindowStats } from '../proxy/window.ts';
import { ResponseRecorder, TEXT_HASH_PREFIX } from '../proxy/response-recorder.ts';
import { seededRandom } from '../core/random.ts';
import { readFileSync } from 'node:fs';

const DAY = 1000;

// ---- schedule ---------------------------------------------------------------------------------

test('the shipped guide schedule file parses to the guide schedule', (t) => {
  const parsed = parseSchedule(readFileSync(new URL('../proxy/schedule.guide.yaml', import.meta.url), 'utf8'), 'schedule.guide.yaml');
  t.deepEqual(parsed, GUIDE_SCHEDULE);
});

test('the weight is a step function of elapsed days: 0 before the start, each step from its day on', (t) => {
  const s = parseSchedule('[{"day": 1, "weight": 0.01}, {"day": 3, "weight": 0.05}, {"day": 14, "weight": 1}]', 's.json');
  t.is(scheduledWeight(s, -1, DAY), 0);
  t.is(scheduledWeight(s, 0, DAY), 0.01);
  t.is(scheduledWeight(s, 1.999 * DAY, DAY), 0.01); // still day 2
  t.is(scheduledWeight(s, 2 * DAY, DAY), 0.05); // day 3 begins
  t.is(scheduledWeight(s, 12.999 * DAY, DAY), 0.05);
  t.is(scheduledWeight(s, 13 * DAY, DAY), 1);
  t.is(scheduledWeight(s, 400 * DAY, DAY), 1);
  const late = parseSchedule('steps: [{day: 2, weight: 0.5}]', 's.yaml');
  t.is(scheduledWeight(late, 0.5 * DAY, DAY), 0, 'nothing before the first step');
});

test('a schedule with a start date: YAML object form', (t) => {
  const s = parseSchedule('start: "2025-06-02T09:00:00Z"\nsteps:\n  - {day: 1, weight: 0.1}\n', 's.yaml');
  t.is(s.start_ms, Date.parse('2025-06-02T09:00:00Z'));
  t.deepEqual(s.steps, [{ day: 1, weight: 0.1 }]);
});

test('bad schedules name the file and the key', (t) => {
  const bad: Array<[string, RegExp]> = [
    ['[{"day": 1, "weight": 1.5}]', /^s\.yaml: \[0\]\.weight: expected a number from 0 to 1/],
    ['[{"day": 0, "weight": 0.5}]', /^s\.yaml: \[0\]\.day: expected an integer day ≥ 1/],
    ['[{"day": 2, "weight": 0.1}, {"day": 2, "weight": 0.2}]', /^s\.yaml: \[1\]\.day: days must increase strictly/],
    ['{steps: [{day: 1, weight: 0.1, note: x}]}', /^s\.yaml: steps\[0\]\.note: unknown key/],
    ['{start: "yesterday", steps: [{day: 1, weight: 0.1}]}', /^s\.yaml: start: expected an ISO-8601 date/],
    ['{begin: 1}', /^s\.yaml: begin: unknown key \(accepted: start, steps\)/],
    ['[]', /^s\.yaml: \(document\): expected a list of \{day, weight\} steps/],
    ['[1, 2', /^s\.yaml: \(document\): not valid JSON or YAML/],
  ];
  for (const [text, message] of bad) {
    const error = t.throws(() => parseSchedule(text, 's.yaml'), { instanceOf: ScheduleError }, text);
    t.regex(error?.message ?? '', message, text);
  }
});

// ---- traffic control and routing ------------------------------------------------------------

test('manual weight; rollback pins it to 0 and refuses changes until reset; reset restarts at 0', (t) => {
  const traffic = new TrafficControl({ weight: 0.3, schedule: null, dayMs: DAY, nowMs: 0 });
  t.is(traffic.weight(5), 0.3);
  t.true(traffic.rollback(['candidate error rate 5 %'], '2025-01-01T00:00:00Z'));
  t.false(traffic.rollback(['again'], '2025-01-01T00:00:01Z'), 'a second trigger does not overwrite the first');
  t.is(traffic.weight(10), 0);
  t.deepEqual(traffic.snapshot(10).rollback?.reasons, ['candidate error rate 5 %']);
  t.throws(() => traffic.setWeight(0.5), { instanceOf: TrafficError, message: /rolled back/ });
  t.is(traffic.weight(10_000), 0);
  traffic.resetRollback();
  t.false(traffic.rolledBack);
  t.is(traffic.weight(10), 0, 'the operator raises the weight deliberately after a reset');
  traffic.setWeight(0.2);
  t.is(traffic.weight(10), 0.2);
  t.throws(() => traffic.setWeight(1.2), { instanceOf: TrafficError, message: /weight: expected a number from 0 to 1/ });
});

test('a schedule drives the weight; rollback overrides it; reset resumes it; a manual weight replaces it', (t) => {
  const schedule = parseSchedule('[{"day": 1, "weight": 0.01}, {"day": 2, "weight": 0.5}]', 's.json');
  const traffic = new TrafficControl({ weight: 0, schedule, dayMs: DAY, nowMs: 10_000 });
  t.is(traffic.weight(10_000), 0.01);
  t.is(traffic.weight(11_000), 0.5);
  t.is(traffic.snapshot(11_000).source, 'schedule');
  traffic.rollback(['x'], 'now');
  t.is(traffic.weight(11_000), 0);
  t.is(traffic.requestedWeight(11_000), 0.5);
  traffic.resetRollback();
  t.is(traffic.weight(11_000), 0.5);
  traffic.setWeight(0.1);
  t.is(traffic.snapshot(50_000).source, 'manual');
  t.is(traffic.weight(50_000), 0.1);
});

test('routing: weight 0 and 1 are exact; random routing follows the weight; a user sticks and only moves to the candidate as the weight grows', (t) => {
  const draw = seededRandom(7);
  t.is(choosePrimary(0, null, 1, draw), 'baseline');
  t.is(choosePrimary(1, null, 1, draw), 'candidate');
  let candidate = 0;
  for (let i = 0; i < 10_000; i++) if (choosePrimary(0.25, null, 1, draw) === 'candidate') candidate++;
  t.true(Math.abs(candidate - 2500) < 4 * Math.sqrt(10_000 * 0.25 * 0.75), `${candidate} of 10 000`);
  const users = Array.from({ length: 500 }, (_, i) => `user-${i}`);
  const at = (w: number) => new Set(users.filter((u) => choosePrimary(w, u, 1, draw) === 'candidate'));
  const low = at(0.1);
  const high = at(0.5);
  t.deepEqual(at(0.1), low, 'the same user gets the same arm every time');
  for (const u of low) t.true(high.has(u), `${u} moved back to the baseline when the weight grew`);
  t.true(Math.abs(high.size - 250) < 4 * Math.sqrt(500 * 0.25));
});

// ---- rollback triggers --------------------------------------------------------------------------

const arm = (over: Partial<ArmWindowStats>): ArmWindowStats => ({
  requests: 100,
  errors: 0,
  timeouts: 0,
  cancelled: 0,
  ttft_samples: 100,
  ttft_p50_ms: 50,
  ttft_p99_ms: 100,
  ...over,
});
const win = (baseline: Partial<ArmWindowStats>, candidate: Partial<ArmWindowStats>): WindowStats => ({
  window_s: 60,
  baseline: arm(baseline),
  candidate: arm(candidate),
});

test('rollback thresholds come from the gates (rollback section, validity.min_ok_pairs)', (t) => {
  t.deepEqual(DEFAULT_ROLLBACK_THRESHOLDS, {
    maxCandidateErrorRate: 0.01,
    maxTtftP99Ratio: 2,
    maxCandidateTimeoutRate: 0.05,
    minRequests: 20,
  });
  const gates = parseGates('rollback: {max_candidate_error_rate: 0.1}\nvalidity: {min_ok_pairs: 5}', 'g.yaml');
  t.deepEqual(rollbackThresholds(gates), { ...rollbackThresholds(DEFAULT_GATES), maxCandidateErrorRate: 0.1, minRequests: 5 });
});

test('each trigger fires just above its threshold and not at it', (t) => {
  const th = DEFAULT_ROLLBACK_THRESHOLDS;
  t.false(evaluateRollback(win({}, {}), th).trigger);
  t.false(evaluateRollback(win({}, { errors: 1 }), th).trigger, '1 % is not above 1 %');
  const errors = evaluateRollback(win({}, { errors: 2 }), th);
  t.true(errors.trigger);
  t.regex(errors.reasons[0] ?? '', /candidate error rate 2\.00 % \(2\/100\) > 1\.00 %/);
  t.false(evaluateRollback(win({}, { timeouts: 5, errors: 0 }), { ...th, maxCandidateErrorRate: 1 }).trigger, '5 % is not above 5 %');
  const timeouts = evaluateRollback(win({}, { timeouts: 6, errors: 6 }), { ...th, maxCandidateErrorRate: 1 });
  t.deepEqual(timeouts.reasons.length, 1);
  t.regex(timeouts.reasons[0] ?? '', /candidate timeout rate 6\.00 %/);
  t.false(evaluateRollback(win({ ttft_p99_ms: 100 }, { ttft_p99_ms: 200 }), th).trigger, '2× is not above 2×');
  const slow = evaluateRollback(win({ ttft_p99_ms: 100 }, { ttft_p99_ms: 201 }), th);
  t.true(slow.trigger);
  t.regex(slow.reasons[0] ?? '', /candidate TTFT P99 201\.0 ms is 2\.01× baseline 100\.0 ms/);
  t.is(evaluateRollback(win({ ttft_p99_ms: 100 }, { errors: 50, ttft_p99_ms: 500 }), th).reasons.length, 2, 'every reason is listed');
});

test('too few requests in the window: rates are not judged, and the decision says why', (t) => {
  const d = evaluateRollback(
    win({ requests: 19, ttft_samples: 19 }, { requests: 19, errors: 19, ttft_samples: 0, ttft_p99_ms: null }),
    DEFAULT_ROLLBACK_THRESHOLDS,
  );
  t.false(d.trigger);
  t.is(d.skipped.length, 2);
  t.regex(d.skipped[0] ?? '', /19 candidate requests in the last 60 s \(< 20\)/);
});

// ---- sliding window ---------------------------------------------------------------------------

function done(armName: string, kind: RequestRecord['outcome'], ttftMs: number | null): RequestRecord {
  const r = emptyRecord({
    run_id: 'r',
    arm: armName,
    index: 0,
    item_id: '',
    warmup: false,
    source: 'proxy',
    streaming: true,
    scheduled_ns: 0,
  });
  r.sent_ns = 1_000_000;
  r.first_content_ns = ttftMs === null ? null : 1_000_000 + ttftMs * 1e6;
  r.outcome = kind;
  return r;
}

test('the window counts per arm, keeps client cancellations out of the rates, and forgets what is older than its length', (t) => {
  const w = new SlidingWindow(1000);
  for (let i = 1; i <= 100; i++) w.add(done('baseline', { kind: 'ok' }, i), 0);
  w.add(done('candidate', { kind: 'http_error', status: 503, message: 'x' }, null), 500);
  w.add(done('candidate', { kind: 'timeout', phase: 'stream', message: 'x' }, 10), 500);
  w.add(done('candidate', { kind: 'cancelled', message: 'client disconnected' }, 10), 500);
  w.add(done('candidate', { kind: 'ok' }, 30), 900);
  const s = w.stats(900);
  t.is(s.baseline.requests, 100);
  t.is(s.baseline.ttft_p50_ms, 50.5); // numpy linear: (n−1)·0.5 = 49.5 → between 50 and 51
  t.is(s.baseline.ttft_p99_ms, 99.01);
  t.deepEqual({ ...s.candidate }, { requests: 3, errors: 2, timeouts: 1, cancelled: 1, ttft_samples: 1, ttft_p50_ms: 30, ttft_p99_ms: 30 });
  const later = w.stats(1400);
  t.is(later.baseline.requests, 0, 'baseline entries at t=0 left the 1 s window');
  t.is(later.candidate.requests, 3);
  t.is(w.stats(2000).candidate.requests, 0);
});

// ---- response recorder ---------------------------------------------------------------------

const sse = (events: unknown[]) => events.map((e) => `data: ${typeof e === 'string' ? e : JSON.stringify(e)}\n\n`).join('');
const chunk = (content: string, finish: string | null = null) => ({
  id: 'x',
  choices: [{ index: 0, delta: { content }, finish_reason: finish }],
});

function recorder(recordText: boolean, streaming = true, secrets: string[] = []) {
  const record = emptyRecord({
    run_id: 'r',
    arm: 'candidate',
    index: 3,
    item_id: 'i',
    warmup: false,
    source: 'proxy',
    streaming,
    scheduled_ns: 5,
  });
  const rec = new ResponseRecorder(record, 'chat', recordText, secrets);
  rec.sent(10);
  return rec;
}

test('an SSE stream split at arbitrary bytes: content times, text, usage, ok at [DONE]', (t) => {
  const rec = recorder(true);
  rec.headers(200, 'text/event-stream; charset=utf-8', 20);
  const body = Buffer.from(
    sse([
      { choices: [{ index: 0, delta: { role: 'assistant', content: '' } }] },
      chunk('Héllo'),
      chunk(' wörld', 'stop'),
      { choices: [], usage: { prompt_tokens: 4, completion_tokens: 2 } },
      '[DONE]',
    ]),
  );
  // cut inside a multi-byte character and inside "data:"
  const cuts = [3, body.indexOf('é') + 1, body.indexOf('wö') + 2, body.length - 4, body.length];
  let from = 0;
  cuts.forEach((cut, i) => {
    rec.data(body.subarray(from, cut), 100 * (i + 1));
    from = cut;
  });
  const r = rec.end(600);
  t.deepEqual(recordErrors(r), []);
  t.deepEqual(r.outcome, { kind: 'ok' });
  t.is(r.output_text, 'Héllo wörld');
  t.is(r.first_chunk_ns, 200, 'the role-only chunk completes in the second piece');
  t.deepEqual(r.content_ns, [300, 400]);
  t.is(r.first_content_ns, 300);
  t.is(r.end_ns, 500, 'end = the [DONE] event');
  t.is(r.finish_reason, 'stop');
  t.deepEqual(r.usage, { prompt_tokens: 4, completion_tokens: 2, cached_prompt_tokens: null });
});

test('without --record-text the output is a sha256 of the text; no text leaves the recorder', (t) => {
  const rec = recorder(false);
  rec.headers(200, 'text/event-stream', 20);
  rec.data(Buffer.from(sse([chunk('secret '), chunk('answer'), '[DONE]'])), 30);
  const r = rec.end(40);
  t.is(r.output_text, TEXT_HASH_PREFIX + createHash('sha256').update('secret answer').digest('hex'));
  t.false(JSON.stringify(r).includes('secret'));
});

test('failures: a malformed event, a missing [DONE], an HTTP error, a lost connection after [DONE], a timeout phase', (t) => {
  const bad = recorder(true);
  bad.headers(200, 'text/event-stream', 20);
  bad.data(Buffer.from(sse([chunk('a'), '{not json', chunk('b'), '[DONE]'])), 30);
  const r1 = bad.end(40);
  t.is(r1.outcome.kind, 'protocol_error');
  t.regex((r1.outcome as { message: string }).message, /SSE event 2 is not JSON/);
  t.is(r1.output_text, 'ab', 'the rest of the stream is still observed');

  const cut = recorder(true);
  cut.headers(200, 'text/event-stream', 20);
  cut.data(Buffer.from(sse([chunk('a')])), 30);
  t.regex((cut.end(40).outcome as { message: string }).message, /stream ended without \[DONE\] after 1 events/);

  const http = recorder(true, true, ['sk-secret-key']);
  http.headers(503, 'application/json', 20);
  http.data(Buffer.from('{"error": {"message": "overloaded, key sk-secret-key", "code": 503}}'), 30);
  t.deepEqual(http.end(40).outcome, { kind: 'http_error', status: 503, message: 'overloaded, key <redacted>' });

  const afterDone = recorder(true);
  afterDone.headers(200, 'text/event-stream', 20);
  afterDone.data(Buffer.from(sse([chunk('a'), '[DONE]'])), 30);
  const r4 = afterDone.abort({ kind: 'connection_error', message: 'socket closed' }, 50);
  t.deepEqual(r4.outcome, { kind: 'ok' });
  t.is(r4.end_ns, 30);

  const slow = recorder(true);
  t.is(slow.timeoutPhase(), 'headers');
  slow.headers(200, 'text/event-stream', 20);
  t.is(slow.timeoutPhase(), 'first_token');
  slow.data(Buffer.from(sse([chunk('a')])), 30);
  t.is(slow.timeoutPhase(), 'stream');
});

test('a non-streaming response is interpreted whole; a stream answered with JSON is a protocol error', (t) => {
  const whole = recorder(true, false);
  whole.headers(200, 'application/json', 20);
  whole.data(Buffer.from('{"choices": [{"index": 0, "message": {"role": "assistant", "content": "hi'), 30);
  whole.data(Buffer.from(' there"}, "finish_reason": "stop"}], "usage": {"prompt_tokens": 3, "completion_tokens": 2}}'), 31);
  const r = whole.end(40);
  t.deepEqual(r.outcome, { kind: 'ok' });
  t.is(r.output_text, 'hi there');
  t.false(r.token_timing);
  const wrong = recorder(true, true);
  wrong.headers(200, 'application/json', 20);
  wrong.data(Buffer.from('{"choices": [{"index": 0, "message": {"content": "x"}}]}'), 30);
  t.regex((wrong.end(40).outcome as { message: string }).message, /asked for a stream but the server answered with one JSON body/);
});
