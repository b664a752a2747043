// core/stream-recorder.ts on its own: which events are content, per-chunk token counts, and every
// outcome rule in both bad-event modes (stop for an engine, observe for a passthrough); then the proxy's
// and k6's ways of ending a record (finish()), partial streams included (the Node client's: engine-client.test.ts).
import test from 'ava';
import { createHash } from 'node:crypto';
import { emptyRecord, type RequestRecord } from '../core/record.ts';
import { bodyKind, contentTokens, recordWholeResponse, StreamRecorder, type StreamRecorderOptions } from '../core/stream-recorder.ts';
import { fillBufferedRecord, SseRecorder } from '../k6/script/record-builder.ts';
import { httpErrorMessage, MAX_MESSAGE } from '../core/outcome-message.ts';
import { headerSecrets } from '../core/redact.ts';
import { ResponseRecorder, TEXT_HASH_PREFIX } from '../proxy/response-recorder.ts';

const fresh = (): RequestRecord =>
  emptyRecord({ run_id: 'r', arm: 'baseline', index: 0, item_id: 'i', warmup: false, source: 'fixture', streaming: true, scheduled_ns: 0 });
const recorder = (onBadEvent: StreamRecorderOptions['onBadEvent'] = 'stop', api: 'chat' | 'completions' = 'chat') =>
  new StreamRecorder(fresh(), api, { onBadEvent });

const delta = (d: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
  JSON.stringify({ choices: [{ index: 0, delta: d, finish_reason: null }], ...extra });
const content = (text: string, completionTokens?: number) =>
  delta({ content: text }, completionTokens === undefined ? {} : { usage: { prompt_tokens: 5, completion_tokens: completionTokens } });
const ROLE_ONLY = delta({ role: 'assistant', content: '' });
const EMPTY = delta({ content: '' });
const FINISH = JSON.stringify({ choices: [{ index: 0, delta: {}, finish_reason: 'length' }] });
const USAGE_ONLY = JSON.stringify({ choices: [], usage: { prompt_tokens: 5, completion_tokens: 3 } });

/** Feeds `events` at 10, 20, 30 … ns, writes them into the record (finish) and returns the steps. */
function feed(rec: StreamRecorder, events: string[]): string[] {
  const steps = events.map((data, k) => rec.event(data, 10 * (k + 1)));
  rec.finish();
  return steps;
}

test('role-only, empty, finish-only and usage-only chunks are chunks but not content; [DONE] ends ok at its own time', (t) => {
  const rec = recorder();
  const steps = feed(rec, [ROLE_ONLY, EMPTY, content('Hel'), content('lo'), FINISH, USAGE_ONLY, '[DONE]']);
  t.deepEqual(steps, ['more', 'more', 'more', 'more', 'more', 'more', 'done']);
  const r = rec.record;
  t.is(r.first_chunk_ns, 10, 'the role-only chunk is the first chunk');
  t.is(r.first_content_ns, 30);
  t.deepEqual(r.content_ns, [30, 40], 'neither the finish chunk nor the trailing usage chunk is a content chunk');
  t.is(r.output_text, 'Hello');
  t.is(r.finish_reason, 'length');
  t.deepEqual(r.usage, { prompt_tokens: 5, completion_tokens: 3, cached_prompt_tokens: null });
  t.deepEqual(rec.settled(), { outcome: { kind: 'ok' }, endNs: 70 });
  t.deepEqual(rec.endOfStream(99), { outcome: { kind: 'ok' }, endNs: 70 }, 'the body ending later does not move the end');
  t.is(rec.record.content_tokens, null, 'no per-chunk usage: tokens per chunk unknown');
  t.is(rec.events, 7);
});

test("a long stream keeps every chunk, in order, past the buffers' first growth", (t) => {
  const rec = recorder();
  const n = 300;
  feed(rec, [...Array.from({ length: n }, (_, k) => content(`t${k} `, k + 1)), '[DONE]']);
  t.deepEqual(
    rec.record.content_ns,
    Array.from({ length: n }, (_, k) => 10 * (k + 1)),
  );
  t.deepEqual(
    rec.record.content_tokens,
    Array.from({ length: n }, () => 1),
  );
  t.is(rec.record.output_text, Array.from({ length: n }, (_, k) => `t${k} `).join(''));
  t.is(rec.contentChunks, n);
});

test('reasoning chunks are token chunks kept apart from the answer; completions text chunks are content; [DONE] with spaces is [DONE]', (t) => {
  const chat = recorder();
  feed(chat, [delta({ reasoning_content: 'think ' }), delta({ reasoning: 'more ' }), content('say'), ' [DONE] ']);
  t.is(chat.record.output_text, 'say');
  t.is(chat.record.reasoning_text, 'think more ');
  t.deepEqual(chat.record.content_ns, [10, 20, 30]);
  t.is(chat.record.first_content_ns, 10);
  t.is(chat.record.first_answer_ns, 30);
  t.is(chat.settled()?.outcome.kind, 'ok');

  const completions = recorder('stop', 'completions');
  feed(completions, [
    JSON.stringify({ choices: [{ text: '' }] }),
    JSON.stringify({ choices: [{ text: 'abc', finish_reason: 'stop' }] }),
    '[DONE]',
  ]);
  t.is(completions.record.output_text, 'abc');
  t.deepEqual(completions.record.content_ns, [20]);
  t.is(completions.record.finish_reason, 'stop');
});

test('per-chunk tokens from cumulative usage; null when one content chunk lacks it or the count goes back', (t) => {
  const full = recorder();
  feed(full, [ROLE_ONLY, content('a', 1), content('bc', 3), content('d', 4), USAGE_ONLY, '[DONE]']);
  t.deepEqual(full.record.content_tokens, [1, 2, 1], 'the usage-only chunk adds no entry');

  const gap = recorder();
  feed(gap, [content('a', 1), content('b'), content('c', 3), '[DONE]']);
  t.is(gap.record.content_tokens, null);

  const back = recorder();
  feed(back, [content('a', 2), content('b', 1), '[DONE]']);
  t.is(back.record.content_tokens, null);

  t.deepEqual(contentTokens([2, 2, 5]), [2, 0, 3], 'a chunk may carry no new token');
  t.is(contentTokens([1, NaN, 3]), null, 'every content chunk must say its count');
  t.is(contentTokens([]), null);
});

test('stop mode: an event that is not JSON ends the stream at that event; later events are ignored', (t) => {
  const rec = recorder('stop');
  t.deepEqual(feed(rec, [content('ok so far'), '{"choices": [tru', content('late'), '[DONE]']), ['more', 'bad', 'bad', 'bad']);
  t.deepEqual(rec.settled(), {
    outcome: { kind: 'protocol_error', message: 'SSE event 2 is not JSON: "{\\"choices\\": [tru"' },
    endNs: 20,
  });
  t.is(rec.record.output_text, 'ok so far');
  t.deepEqual(rec.record.content_ns, [10]);
  t.is(rec.events, 2);
  t.deepEqual(rec.endOfStream(50).endNs, 20);
});

test('stop mode: an event that is not OpenAI-shaped, or an error object in the stream, is a protocol_error naming the event', (t) => {
  const shape = recorder('stop');
  t.deepEqual(feed(shape, ['{"token": "hi"}']), ['bad']);
  t.regex((shape.settled()?.outcome as { message: string }).message, /^SSE event 1: chunk has no "choices"/);

  const error = recorder('stop');
  t.deepEqual(feed(error, [content('a'), JSON.stringify({ error: { message: 'KV cache exhausted', code: 500 } })]), ['more', 'bad']);
  t.deepEqual(error.settled(), {
    outcome: { kind: 'protocol_error', message: 'SSE event 2: server error in stream: KV cache exhausted' },
    endNs: 20,
  });
});

test('observe mode: a bad event is noted and recording goes on; the first problem wins over a later [DONE], end = body end', (t) => {
  const rec = recorder('observe');
  t.deepEqual(feed(rec, [content('a'), '{not json', content('b'), '{"token": 1}', '[DONE]', content('after done')]), [
    'more',
    'bad',
    'more',
    'bad',
    'done',
    'done',
  ]);
  t.is(rec.record.output_text, 'ab', 'content after the bad event is still recorded; content after [DONE] is not');
  t.deepEqual(rec.record.content_ns, [10, 30]);
  t.is(rec.settled(), null, 'a noted problem leaves the outcome to the end of the body');
  t.deepEqual(rec.endOfStream(90), { outcome: { kind: 'protocol_error', message: 'SSE event 2 is not JSON: "{not json"' }, endNs: 90 });
});

test('observe mode without a problem: ok at [DONE], decided as soon as it arrives', (t) => {
  const rec = recorder('observe');
  feed(rec, [content('a'), '[DONE]']);
  t.deepEqual(rec.settled(), { outcome: { kind: 'ok' }, endNs: 20 });
});

test('a problem found outside the events (SSE framing) counts like a bad event in either mode, until [DONE]', (t) => {
  const observe = recorder('observe');
  feed(observe, [content('a')]);
  t.is(observe.problem('invalid SSE: Unknown field "x"', 15), 'bad');
  observe.event('[DONE]', 20);
  t.deepEqual(observe.endOfStream(30), { outcome: { kind: 'protocol_error', message: 'invalid SSE: Unknown field "x"' }, endNs: 30 });

  const late = recorder('observe');
  feed(late, [content('a'), '[DONE]']);
  t.is(late.problem('invalid SSE: Unknown field "x"', 25), 'done', 'after [DONE]: not part of the answer');
  t.deepEqual(late.endOfStream(30), { outcome: { kind: 'ok' }, endNs: 20 }, 'as the Node engine, which stops reading at [DONE]');

  const stop = recorder('stop');
  stop.problem('first', 5);
  stop.problem('second', 6);
  t.deepEqual(stop.settled(), { outcome: { kind: 'protocol_error', message: 'first' }, endNs: 5 });
  t.is(stop.event(content('x'), 7), 'bad');
  t.is(stop.record.first_chunk_ns, null);
});

test('a body that ends without [DONE]: "stream ended" with the event count, or "not an SSE stream" when no event came', (t) => {
  const cut = recorder();
  feed(cut, [content('a'), content('b')]);
  t.is(cut.settled(), null);
  t.deepEqual(cut.endOfStream(40), {
    outcome: { kind: 'protocol_error', message: 'stream ended without [DONE] after 2 events' },
    endNs: 40,
  });
  t.deepEqual(cut.endOfStream(40, { framingError: 'Unknown field "x"' }).outcome, {
    kind: 'protocol_error',
    message: 'stream ended without [DONE] after 2 events (Unknown field "x")',
  });

  const none = recorder();
  t.deepEqual(none.endOfStream(40).outcome, { kind: 'protocol_error', message: 'response is not an SSE stream' });
  t.deepEqual(
    none.endOfStream(40, { contentType: 'text/plain', framingError: 'Unknown field "hello"', bodySample: 'hello\nworld\n' }).outcome,
    {
      kind: 'protocol_error',
      message: 'response is not an SSE stream (content-type "text/plain"; Unknown field "hello"): "hello world"',
    },
  );
});

test('text goes to onText when given, not to output_text', (t) => {
  const parts: string[] = [];
  const rec = new StreamRecorder(fresh(), 'chat', { onBadEvent: 'observe', onText: (text) => parts.push(text) });
  feed(rec, [content('se'), content('cret'), '[DONE]']);
  t.deepEqual(parts, ['se', 'cret']);
  t.is(rec.record.output_text, '');
});

test('a whole body: ok with text, usage and finish_reason; not JSON, not OpenAI-shaped, or JSON to a stream request are protocol errors', (t) => {
  const body = JSON.stringify({
    choices: [{ message: { role: 'assistant', content: 'whole answer' }, finish_reason: 'stop' }],
    usage: { prompt_tokens: 2, completion_tokens: 9 },
  });
  const ok = fresh();
  t.deepEqual(recordWholeResponse(ok, 'chat', body, false), { kind: 'ok' });
  t.is(ok.output_text, 'whole answer');
  t.is(ok.finish_reason, 'stop');
  t.is(ok.usage?.completion_tokens, 9);

  const sunk: string[] = [];
  const hashed = fresh();
  recordWholeResponse(hashed, 'chat', body, false, {}, (text) => sunk.push(text));
  t.deepEqual(sunk, ['whole answer']);
  t.is(hashed.output_text, '');

  t.deepEqual(
    recordWholeResponse(fresh(), 'chat', '<html>Welcome to  nginx</html>', false, {
      contentType: 'text/html',
      bodySample: '<html>Welcome to  nginx</html>',
    }),
    {
      kind: 'protocol_error',
      message: 'response body is not JSON (content-type "text/html"): "<html>Welcome to nginx</html>"',
    },
  );
  t.deepEqual(
    recordWholeResponse(fresh(), 'chat', 'oops', false),
    { kind: 'protocol_error', message: 'response body is not JSON' },
    'no sample unless asked: the body stays out of the record',
  );
  t.deepEqual(recordWholeResponse(fresh(), 'chat', '{"choices": []}', false), {
    kind: 'protocol_error',
    message: 'response has no choices[0] (not an OpenAI-compatible response?)',
  });
  const wrong = fresh();
  t.deepEqual(recordWholeResponse(wrong, 'chat', body, true, { contentType: 'application/json' }), {
    kind: 'protocol_error',
    message: 'asked for a stream but the server answered with one JSON body (content-type "application/json")',
  });
  t.is(wrong.output_text, '', 'a wrong answer records no text');
});

// The k6 script's SseRecorder (k6/script/record-builder.ts) feeds the same core: its own part is the
// timeout checked on arrival and xk6-sse's status/error reporting.
test('k6 SseRecorder: close at [DONE] or a bad event, per-chunk tokens, a timeout on arrival, missing [DONE]', (t) => {
  const make = () => {
    const record = fresh();
    record.sent_ns = 0;
    return new SseRecorder(record, 'chat', 1_000);
  };
  const ok = make();
  ok.open(5);
  t.deepEqual(
    [ROLE_ONLY, content('a', 1), content('bc', 3), USAGE_ONLY, '[DONE]', content('late')].map((d, k) => ok.event(d, 10 * (k + 1))),
    [false, false, false, false, true, true],
  );
  const r = ok.finish(200, '', 90);
  t.deepEqual(r.outcome, { kind: 'ok' });
  t.is(r.end_ns, 50, 'end = the [DONE] event');
  t.deepEqual(r.content_tokens, [1, 2]);
  t.is(r.output_text, 'abc');

  const bad = make();
  bad.open(5);
  t.true(bad.event('{"token": 1}', 10));
  t.deepEqual(bad.finish(200, '', 20).outcome, {
    kind: 'protocol_error',
    message: 'SSE event 1: chunk has no "choices" array (not an OpenAI-compatible stream?)',
  });
  t.is(bad.record.end_ns, 10);

  const slow = make();
  slow.open(5);
  t.false(slow.event(content('a'), 500));
  t.true(slow.event('[DONE]', 1_500), 'an event past the limit closes the stream');
  t.like(slow.finish(200, '', 1_600).outcome, { kind: 'timeout', phase: 'stream' });
  t.is(slow.record.end_ns, 1_500);

  const cut = make();
  cut.open(5);
  cut.event(content('a'), 10);
  t.deepEqual(cut.finish(200, '', 20).outcome, { kind: 'protocol_error', message: 'stream ended without [DONE] after 1 events' });
  t.deepEqual(make().finish(0, 'dial tcp: connection refused', 20).outcome, {
    kind: 'connection_error',
    message: 'dial tcp: connection refused',
  });
});

test("k6 records an http_error with the server's own words, as the Node engine and the proxy do", (t) => {
  const body = JSON.stringify({
    object: 'error',
    message: 'Service   unavailable:\nengine overloaded',
    type: 'ServiceUnavailableError',
    code: 503,
  });
  const expected = httpErrorMessage(body);
  t.is(expected, 'Service unavailable: engine overloaded');
  const sse = new SseRecorder(Object.assign(fresh(), { sent_ns: 0 }), 'chat', 1_000);
  sse.error(`unknown event: ${body}`); // how xk6-sse reports a JSON error body
  t.deepEqual(sse.finish(503, '', 20).outcome, { kind: 'http_error', status: 503, message: expected });
  const timings = { blocked: 0, connecting: 0, tls_handshaking: 0, sending: 0, waiting: 1, receiving: 0 };
  const buffered = fillBufferedRecord(
    Object.assign(fresh(), { sent_ns: 0 }),
    'chat',
    { status: 503, body, error: '', error_code: 0, timings },
    5e6,
  );
  t.deepEqual(buffered.outcome, { kind: 'http_error', status: 503, message: expected });
  const long = fillBufferedRecord(
    Object.assign(fresh(), { sent_ns: 0 }),
    'chat',
    { status: 500, body: 'x'.repeat(1000), error: '', error_code: 0, timings },
    5e6,
  );
  t.is((long.outcome as { message: string }).message.length, MAX_MESSAGE);
  const empty = fillBufferedRecord(
    Object.assign(fresh(), { sent_ns: 0 }),
    'chat',
    { status: 401, body: '', error: '', error_code: 0, timings },
    5e6,
  );
  t.deepEqual(
    empty.outcome,
    { kind: 'http_error', status: 401, message: httpErrorMessage('') },
    'an empty body, worded as the Node engine words it',
  );
});

test("k6 records scrub the arm's header values from outcome messages, as the Node engine and the proxy do", (t) => {
  const secrets = headerSecrets({ authorization: 'Bearer sk-secret-123456' });
  const echo = JSON.stringify({ error: { message: 'Incorrect API key provided: sk-secret-123456' } });
  const timings = { blocked: 0, connecting: 0, tls_handshaking: 0, sending: 0, waiting: 1, receiving: 0 };
  const buffered = fillBufferedRecord(
    Object.assign(fresh(), { sent_ns: 0 }),
    'chat',
    { status: 401, body: echo, error: '', error_code: 0, timings },
    5e6,
    secrets,
  );
  t.deepEqual(buffered.outcome, { kind: 'http_error', status: 401, message: 'Incorrect API key provided: <redacted>' });
  const sse = new SseRecorder(Object.assign(fresh(), { sent_ns: 0 }), 'chat', 1_000, secrets);
  sse.error(`unknown event: ${echo}`);
  t.deepEqual(sse.finish(401, '', 20).outcome, { kind: 'http_error', status: 401, message: 'Incorrect API key provided: <redacted>' });
});

test('body kind from status, request and content type: error body, whole JSON, SSE, or not the stream asked for', (t) => {
  t.is(bodyKind(503, true, 'text/event-stream'), 'error-body');
  t.is(bodyKind(199, false, 'application/json'), 'error-body');
  t.is(bodyKind(200, false, 'text/event-stream'), 'json', 'a non-streaming request is read whole whatever the type says');
  t.is(bodyKind(200, true, 'text/event-stream; charset=utf-8'), 'sse');
  t.is(bodyKind(200, true, ''), 'sse', 'no content type: try it as a stream');
  t.is(bodyKind(200, true, 'text/plain'), 'sse');
  for (const type of ['application/json', 'text/html', 'application/xml']) t.is(bodyKind(299, true, type), 'not-sse', type);
});

// ---- finish(): the compact buffers reach the record on every path that ends one --------------
// Chunk times, per-chunk token counts and text pieces stay in the recorder until finish(); each engine
// calls it when its response ends, however it ends. Partial data (what arrived before a failure)
// stays in the record (DESIGN.md), so every failure path below must still carry its chunks.

test('finish() writes what arrived so far, and again (complete) after more events', (t) => {
  const rec = recorder('observe');
  rec.event(content('a', 1), 10);
  rec.event(content('b', 2), 20);
  rec.finish();
  t.deepEqual([rec.record.content_ns, rec.record.content_tokens, rec.record.output_text], [[10, 20], [1, 1], 'ab']);
  rec.event(content('c', 3), 30);
  rec.finish();
  t.deepEqual([rec.record.content_ns, rec.record.content_tokens, rec.record.output_text], [[10, 20, 30], [1, 1, 1], 'abc']);
});

test('finish() after a whole (non-streaming) body keeps its output_text: no chunks, no token timing', (t) => {
  const record = fresh();
  const rec = new StreamRecorder(record, 'chat', { onBadEvent: 'stop' });
  const body = JSON.stringify({ choices: [{ message: { role: 'assistant', content: 'whole answer' }, finish_reason: 'stop' }] });
  t.deepEqual(recordWholeResponse(record, 'chat', body, false), { kind: 'ok' });
  rec.finish();
  t.is(record.output_text, 'whole answer');
  t.deepEqual(record.content_ns, []);
  t.is(record.content_tokens, null);
});

test('stop mode: the chunks before a bad event stay in the record', (t) => {
  const rec = recorder('stop');
  feed(rec, [content('a', 1), content('b', 2), '{not json', content('c', 3)]);
  t.deepEqual([rec.record.content_ns, rec.record.content_tokens, rec.record.output_text], [[10, 20], [1, 1], 'ab']);
});

test('k6 SseRecorder: a stream cut by its timeout or ended without [DONE] keeps its chunk times, tokens and text', (t) => {
  const make = () => new SseRecorder(Object.assign(fresh(), { sent_ns: 0 }), 'chat', 1_000);
  const slow = make();
  slow.open(5);
  t.false(slow.event(content('a', 1), 400));
  t.false(slow.event(content('b', 2), 600));
  t.true(slow.event(content('late', 3), 1_500), 'past the limit: closed, not recorded');
  const r = slow.finish(200, '', 1_600);
  t.like(r.outcome, { kind: 'timeout', phase: 'stream' });
  t.deepEqual([r.content_ns, r.content_tokens, r.output_text, r.first_content_ns], [[400, 600], [1, 1], 'ab', 400]);

  const cut = make();
  cut.open(5);
  cut.event(content('x', 1), 10);
  cut.event(content('y', 2), 20);
  const c = cut.finish(200, 'unexpected EOF', 30);
  t.is(c.outcome.kind, 'protocol_error');
  t.deepEqual([c.content_ns, c.content_tokens, c.output_text], [[10, 20], [1, 1], 'xy']);
});

test('proxy ResponseRecorder: a stream aborted mid-way (timeout, cancel at shutdown, lost connection) or ended without [DONE] keeps its chunks', (t) => {
  const sseBody = (events: string[]) => Buffer.from(events.map((e) => `data: ${e}\n\n`).join(''));
  const partial = (recordText: boolean, end: (rec: ResponseRecorder) => RequestRecord) => {
    const rec = new ResponseRecorder(fresh(), 'chat', recordText);
    rec.sent(10);
    rec.headers(200, 'text/event-stream', 20);
    rec.data(sseBody([content('a', 1)]), 30);
    rec.data(sseBody([content('b', 2)]), 40);
    return end(rec);
  };
  const ends: Array<[RequestRecord['outcome']['kind'], (rec: ResponseRecorder) => RequestRecord]> = [
    ['timeout', (rec) => rec.abort({ kind: 'timeout', phase: rec.timeoutPhase(), message: 'no complete response within 50 ms' }, 60)],
    ['cancelled', (rec) => rec.abort({ kind: 'cancelled', message: 'proxy shut down before the response finished' }, 60)],
    ['connection_error', (rec) => rec.abort({ kind: 'connection_error', message: 'other side closed' }, 60)],
    ['protocol_error', (rec) => rec.end(60)],
  ];
  for (const [kind, end] of ends) {
    const r = partial(true, end);
    t.is(r.outcome.kind, kind);
    t.deepEqual([r.content_ns, r.content_tokens, r.output_text, r.end_ns], [[30, 40], [1, 1], 'ab', 60], kind);
    t.is(
      partial(false, end).output_text,
      TEXT_HASH_PREFIX + createHash('sha256').update('ab').digest('hex'),
      `${kind}: hashed text of what arrived`,
    );
  }
});
