// The k6 SSE recorder's error outcomes (k6/script/record-builder.ts), fed exactly as the xk6-sse double
// (test/doubles/k6/net-worker.ts) feeds them: a non-SSE body arrives as one "unknown event: <line>\n"
// error per line. The other SseRecorder / fillBufferedRecord cases live in stream-recorder.test.ts.
import test from 'ava';
import { httpErrorMessage } from '../core/outcome-message.ts';
import { emptyRecord } from '../core/record.ts';
import { SseRecorder } from '../k6/script/record-builder.ts';

const sse = () =>
  new SseRecorder(
    Object.assign(
      emptyRecord({ run_id: 'r', arm: 'baseline', index: 0, item_id: 'i', warmup: false, source: 'k6', streaming: true, scheduled_ns: 0 }),
      { sent_ns: 0 },
    ),
    'chat',
    1_000,
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
