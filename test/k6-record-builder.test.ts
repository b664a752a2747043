// The k6 SSE recorder (k6/script/record-builder.ts): its error outcomes, fed exactly as the xk6-sse double
// (test/doubles/k6/net-worker.ts) feeds them: a non-SSE body arrives as one "unknown event: <line>\n"
// error per line; and its batched event path (events()). The other SseRecorder / fillBufferedRecord cases live in stream-recorder.test.ts.
import test from 'ava';
import { httpErrorMessage } from '../core/outcome-message.ts';
import { emptyRecord } from '../core/record.ts';
import { DONE_DATA, EVENT_BATCH, SseRecorder } from '../k6/script/record-builder.ts';

const sse = (timeoutNs = 1_000) =>
  new SseRecorder(
    Object.assign(
      emptyRecord({ run_id: 'r', arm: 'baseline', index: 0, item_id: 'i', warmup: false, source: 'k6', streaming: true, scheduled_ns: 0 }),
      { sent_ns: 0 },
    ),
    'chat',
    timeoutNs,
  );

/** Each line of a body as xk6-sse reports it: with its '\n'; a last line without one is dropped. */
const feedBody = (recorder: SseRecorder, body: string) => {
  for (const line of body.match(/[^\n]*\n/g) ?? []) recorder.error(`unknown event: ${line}`);
};

test("an error body over several lines (pretty-printed JSON) is read whole: the server's own words, as the Node engine records them", (t) => {
  const body = `${JSON.stringify({ error: { message: 'The model `x` does not exist.', type: 'NotFoundError', code: 404 } }, null, 2)}\n`;
  const recorder = sse();
  feedBody(recorder, body);
  t.deepEqual(recorder.finish(404, '', 20).outcome, { kind: 'http_error', status: 404, message: 'The model `x` does not exist.' });
  t.is(httpErrorMessage(body), 'The model `x` does not exist.', 'what the Node engine records for the same body');
});

test('a plain-text error body over several lines becomes one line; no body at all falls back to the error, then the status', (t) => {
  const text = sse();
  feedBody(text, 'upstream connect error\nreset reason: overflow\n');
  t.deepEqual(text.finish(503, '', 20).outcome, {
    kind: 'http_error',
    status: 503,
    message: 'upstream connect error reset reason: overflow',
  });
  t.deepEqual(sse().finish(502, 'read: connection reset', 20).outcome, {
    kind: 'http_error',
    status: 502,
    message: 'read: connection reset',
  });
  t.deepEqual(
    sse().finish(401, '', 20).outcome,
    { kind: 'http_error', status: 401, message: 'HTTP 401' },
    'a body xk6-sse did not report (empty, or one line without its newline) is not claimed to be empty',
  );
});

test("a 2xx body that is not SSE: a protocol_error quoting its first line, without the line's newline", (t) => {
  const recorder = sse();
  feedBody(recorder, '<html>\n<body>login</body>\n');
  t.deepEqual(recorder.finish(200, '', 20).outcome, { kind: 'protocol_error', message: '<html>' });
});

// The k6 script keeps each event's data and arrival time and hands them over in batches
// (shadow.ts sendStreaming, EVENT_BATCH): events() must give the record event() gives one by one.
const chunk = (delta: Record<string, unknown>, finish: string | null = null) =>
  JSON.stringify({
    id: 'chatcmpl-1',
    object: 'chat.completion.chunk',
    created: 1,
    model: 'm',
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
  });
const stream = (tokens: number): string[] => [
  chunk({ role: 'assistant', content: '' }),
  ...Array.from({ length: tokens - 1 }, (_, k) => chunk({ content: ` w${k}` })),
  chunk({ content: ' end' }, 'length'),
  JSON.stringify({
    id: 'chatcmpl-1',
    object: 'chat.completion.chunk',
    created: 1,
    model: 'm',
    choices: [],
    usage: { prompt_tokens: 3, completion_tokens: tokens, total_tokens: tokens + 3 },
  }),
  DONE_DATA,
];
const longRecorder = () => sse(60e9);

test('events in batches of EVENT_BATCH give the record that event() gives one by one, and close at [DONE]', (t) => {
  const tokens = 2 * EVENT_BATCH + 20;
  const events = stream(tokens); // three batches, the last one cut short by [DONE]
  const times = events.map((_, k) => 1e6 * (10 + 5 * k));
  const one = longRecorder();
  one.open(5e6);
  const closedAt = events.findIndex((data, k) => one.event(data, times[k]!));
  const batched = longRecorder();
  batched.open(5e6);
  const closes: boolean[] = [];
  for (let from = 0; from < events.length; from += EVENT_BATCH)
    closes.push(batched.events(events.slice(from, from + EVENT_BATCH), times.slice(from, from + EVENT_BATCH)));
  t.is(closedAt, events.length - 1, 'one by one: closed at [DONE]');
  t.deepEqual(closes, [false, false, true]);
  const end = times.at(-1)! + 1e6;
  t.deepEqual(batched.finish(200, '', end), one.finish(200, '', end));
  t.is(batched.record.content_ns.length, tokens);
  t.is(batched.record.outcome.kind, 'ok');
});

test('a bad chunk in a batch ends the record at that chunk, whatever the batch kept after it', (t) => {
  const events = stream(20);
  events.splice(8, 0, '{"choices": [ not json');
  const times = events.map((_, k) => 1e6 * (10 + 5 * k));
  const recorder = longRecorder();
  recorder.open(5e6);
  t.true(recorder.events(events, times), 'close');
  const r = recorder.finish(200, '', times.at(-1)! + 1e6);
  t.is(r.outcome.kind, 'protocol_error');
  t.is(r.end_ns, times[8]!);
  t.is(r.content_ns.length, 7, 'the content chunks before it');
});
