// The streaming client against a tiny in-test HTTP server that misbehaves on purpose (and, for the
// partial data of a cut stream, the simulator's disconnect fault): every wire-level fault must end in
// one record with the right outcome kind, a clear message and the partial data.
// (End-to-end runs against the real simulated endpoints are in engine.test.ts and load.test.ts.)
import test from 'ava';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { emptyRecord, recordErrors, type RequestRecord } from '../core/record.ts';
import { createArmClient, createRequest } from '../engine/client.ts';
import { monoNow, type EngineClock } from '../engine/pacer.ts';
import { FAULT_HEADER } from '../sim/server.ts';
import { startTestSim } from './support/load-helpers.ts';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

const chunk = (content: string, extra: Record<string, unknown> = {}) =>
  `data: ${JSON.stringify({ object: 'chat.completion.chunk', choices: [{ index: 0, delta: { content }, finish_reason: null }], ...extra })}\n\n`;
const roleChunk = `data: ${JSON.stringify({ choices: [{ index: 0, delta: { role: 'assistant', content: '' } }] })}\n\n`;
const usageChunk = `data: ${JSON.stringify({ choices: [], usage: { prompt_tokens: 7, completion_tokens: 3 } })}\n\n`;

/** Starts a server whose handler is chosen per request by path suffix; resolves with its base URL. */
async function server(t: { teardown(fn: () => void): void }, handler: Handler): Promise<string> {
  const s = createServer((req, res) => {
    req.resume();
    req.on('end', () => handler(req, res));
  });
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    s.closeAllConnections();
    s.close();
  });
  return `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
}

interface SendOpts {
  stream?: boolean;
  timeoutMs?: number;
  headers?: Record<string, string>;
  api?: 'chat' | 'completions';
  /** Cancels the request once its first content chunk has arrived (polled every 5 ms). */
  cancelAfterFirstContent?: boolean;
  /**
   * The request's deadline strikes once this holds of the record being filled (polled every 5 ms),
   * whatever the wall clock says (its timer runs on an injected clock the test fires), so a loaded
   * machine cannot move it.
   */
  deadlineWhen?: (r: RequestRecord) => boolean;
  /** The request body (default: model m, one user message, `stream`). */
  body?: Record<string, unknown>;
}

function send(url: string, opts: SendOpts = {}): Promise<RequestRecord> {
  const stream = opts.stream ?? true;
  const client = createArmClient('baseline', url, opts.headers ?? {}, opts.timeoutMs ?? 2000);
  const record = emptyRecord({
    run_id: 'r',
    arm: 'baseline',
    index: 0,
    item_id: 'i',
    warmup: false,
    source: 'node',
    streaming: stream,
    scheduled_ns: 0,
  });
  let deadline: (() => void) | null = null;
  let skippedNs = 0n; // the injected clock is the real one plus the time the test jumped ahead
  const clock: EngineClock = {
    now: () => monoNow() + skippedNs,
    setTimer: (fn) => (deadline = fn),
    clearTimer: () => (deadline = null),
  };
  return new Promise((resolve) => {
    const request = createRequest({
      ...(opts.deadlineWhen !== undefined && { clock }),
      client,
      api: opts.api ?? 'chat',
      stream,
      body: JSON.stringify(opts.body ?? { model: 'm', messages: [{ role: 'user', content: 'hi' }], stream }),
      requestId: 'r:baseline:0',
      record,
      origin: monoNow(),
      timeoutMs: opts.timeoutMs ?? 2000,
      onDone: (r) => {
        void client.dispatcher.destroy();
        resolve(structuredClone(r)); // the record as handed over (a worker thread posts a copy at once)
      },
    });
    request.start();
    if (opts.deadlineWhen !== undefined) {
      const when = opts.deadlineWhen;
      const poll = setInterval(() => {
        if (!when(record)) return;
        clearInterval(poll);
        skippedNs += BigInt((opts.timeoutMs ?? 2000) * 1e6); // the limit has passed on the request's clock
        deadline?.();
      }, 5);
    }
    if (opts.cancelAfterFirstContent) {
      const poll = setInterval(() => {
        if (record.first_content_ns === null) return;
        clearInterval(poll);
        request.cancel('run stopped (test)');
      }, 5);
    }
  });
}

const sse = (res: ServerResponse) => res.writeHead(200, { 'content-type': 'text/event-stream' });

test('a well-formed stream: content chunks timed, role-only and usage chunks not content, [DONE] ends it', async (t) => {
  let receivedAt = 0n;
  let secondWrittenAt = 0n;
  const url = await server(t, (_req, res) => {
    receivedAt = monoNow();
    sse(res);
    res.write(roleChunk);
    res.write(chunk('Hel'));
    setTimeout(() => {
      secondWrittenAt = monoNow();
      res.write(chunk('lo', { choices: [{ index: 0, delta: { content: 'lo' }, finish_reason: 'stop' }] }));
      res.end(usageChunk + 'data: [DONE]\n\n');
    }, 20);
  });
  const r = await send(url);
  t.deepEqual(recordErrors(r), []);
  t.is(r.outcome.kind, 'ok');
  t.is(r.output_text, 'Hello');
  t.is(r.content_ns.length, 2);
  t.is(r.first_content_ns, r.content_ns[0]!);
  t.true(r.first_chunk_ns! <= r.first_content_ns!, 'the role-only chunk counts as the first chunk');
  // Same clock on both ends: the client cannot have seen the second chunk before it was written
  // (however late a busy machine let it read the first one).
  t.true(
    r.content_ns[1]! - r.sent_ns! >= Number(secondWrittenAt - receivedAt),
    'the second chunk is stamped when it arrived (≥ 20 ms later)',
  );
  t.true(r.content_ns[1]! >= r.content_ns[0]!);
  t.true(r.sent_ns! <= r.headers_ns! && r.headers_ns! <= r.first_chunk_ns!);
  t.deepEqual(r.usage, { prompt_tokens: 7, completion_tokens: 3, cached_prompt_tokens: null });
  t.is(r.finish_reason, 'stop');
  t.is(r.content_tokens, null, 'no per-chunk usage: tokens per chunk unknown');
  t.is(r.http_status, 200);
});

test('continuous usage stats (cumulative completion_tokens per chunk) fill content_tokens', async (t) => {
  const url = await server(t, (_req, res) => {
    sse(res);
    res.write(chunk('a', { usage: { prompt_tokens: 5, completion_tokens: 1 } }));
    res.write(chunk('bc', { usage: { prompt_tokens: 5, completion_tokens: 3 } }));
    res.end(chunk('d', { usage: { prompt_tokens: 5, completion_tokens: 4 } }) + 'data: [DONE]\n\n');
  });
  const r = await send(url);
  t.is(r.outcome.kind, 'ok');
  t.deepEqual(r.content_tokens, [1, 2, 1]);
});

test('non-streaming: the whole JSON body is interpreted and no token timing is claimed', async (t) => {
  const url = await server(t, (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({
        choices: [{ message: { role: 'assistant', content: 'whole answer' }, finish_reason: 'length' }],
        usage: { prompt_tokens: 2, completion_tokens: 9 },
      }),
    );
  });
  const r = await send(url, { stream: false });
  t.is(r.outcome.kind, 'ok');
  t.false(r.token_timing);
  t.is(r.output_text, 'whole answer');
  t.is(r.usage?.completion_tokens, 9);
  t.is(r.first_content_ns, null);
  t.deepEqual(recordErrors(r), []);
});

test("HTTP error: http_error with the status and the server's own message", async (t) => {
  const url = await server(t, (_req, res) => {
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ object: 'error', message: 'The model `m` does not exist.', type: 'NotFoundError', code: 404 }));
  });
  const r = await send(url);
  t.deepEqual(r.outcome, { kind: 'http_error', status: 404, message: 'The model `m` does not exist.' });
  t.is(r.http_status, 404);
});

test('a non-OpenAI server (HTML page) is a protocol_error naming the content type', async (t) => {
  const url = await server(t, (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end('<html><body>Welcome to nginx!</body></html>');
  });
  const r = await send(url);
  t.is(r.outcome.kind, 'protocol_error');
  t.regex((r.outcome as { message: string }).message, /not JSON.*text\/html.*nginx/);
});

test('a stream request answered with one JSON body is a protocol_error', async (t) => {
  const url = await server(t, (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ choices: [{ message: { content: 'x' } }] }));
  });
  const r = await send(url);
  t.is(r.outcome.kind, 'protocol_error');
  t.regex((r.outcome as { message: string }).message, /asked for a stream/);
});

test('malformed SSE: an event that is not JSON is a protocol_error, earlier content kept', async (t) => {
  const url = await server(t, (_req, res) => {
    sse(res);
    res.write(chunk('ok so far'));
    res.end('data: {"choices": [tru\n\ndata: [DONE]\n\n');
  });
  const r = await send(url);
  t.is(r.outcome.kind, 'protocol_error');
  t.regex((r.outcome as { message: string }).message, /SSE event 2 is not JSON/);
  t.is(r.output_text, 'ok so far');
  t.is(r.content_ns.length, 1);
});

test('a body that is not SSE at all (plain text lines) is a protocol_error', async (t) => {
  const url = await server(t, (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('hello\nworld\n');
  });
  const r = await send(url);
  t.is(r.outcome.kind, 'protocol_error');
  t.regex((r.outcome as { message: string }).message, /not an SSE stream/);
});

test('JSON events that are not OpenAI-shaped are a protocol_error', async (t) => {
  const url = await server(t, (_req, res) => {
    sse(res);
    res.end('data: {"token": "hi"}\n\ndata: [DONE]\n\n');
  });
  const r = await send(url);
  t.is(r.outcome.kind, 'protocol_error');
  t.regex((r.outcome as { message: string }).message, /no "choices"/);
});

test("an error object inside a 200 stream is a protocol_error with the server's message", async (t) => {
  const url = await server(t, (_req, res) => {
    sse(res);
    res.write(chunk('a'));
    res.end(`data: ${JSON.stringify({ error: { message: 'KV cache exhausted', code: 500 } })}\n\n`);
  });
  const r = await send(url);
  t.is(r.outcome.kind, 'protocol_error');
  t.regex((r.outcome as { message: string }).message, /KV cache exhausted/);
});

test('a stream that ends cleanly without [DONE] is a protocol_error with the event count', async (t) => {
  const url = await server(t, (_req, res) => {
    sse(res);
    res.end(chunk('a') + chunk('b'));
  });
  const r = await send(url);
  t.is(r.outcome.kind, 'protocol_error');
  t.regex((r.outcome as { message: string }).message, /without \[DONE\] after 2 events/);
  t.is(r.output_text, 'ab');
});

test('a socket closed mid-stream is a connection_error, partial content kept', async (t) => {
  const url = await server(t, (req, res) => {
    sse(res);
    res.write(chunk('part'));
    setTimeout(() => req.socket.destroy(), 20);
  });
  const r = await send(url);
  t.is(r.outcome.kind, 'connection_error');
  t.regex((r.outcome as { message: string }).message, /socket closed mid-stream after 1 events/);
  t.is(r.output_text, 'part');
  t.not(r.end_ns, null);
});

test('connection refused is a connection_error with its code and the URL', async (t) => {
  // A port that was free a moment ago refuses connections.
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const freePort = (s.address() as AddressInfo).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  const r = await send(`http://127.0.0.1:${freePort}`);
  t.is(r.outcome.kind, 'connection_error');
  t.is((r.outcome as { code?: string }).code, 'ECONNREFUSED');
  t.regex((r.outcome as { message: string }).message, new RegExp(`connection refused.*127\\.0\\.0\\.1:${freePort}`));
  t.is(r.headers_ns, null);
  t.not(r.end_ns, null);
});

test('timeouts name their phase: headers, first_token, stream', async (t) => {
  const url = await server(t, (req, res) => {
    if (req.url?.includes('completions') && req.headers['x-phase'] === 'headers') return; // never answers
    sse(res);
    if (req.headers['x-phase'] === 'first_token') res.write(roleChunk); // headers and a role chunk, then silence
    if (req.headers['x-phase'] === 'stream') res.write(chunk('first'));
  });
  // 1 s, not less: on a busy CI machine the server may take a few hundred ms to answer at all, and the
  // phase is wherever the request stands when the limit strikes.
  const timeoutMs = 1000;
  const [headers, firstToken, stream] = await Promise.all(
    ['headers', 'first_token', 'stream'].map((phase) => send(url, { timeoutMs, headers: { 'x-phase': phase } })),
  );
  t.like(headers!.outcome, { kind: 'timeout', phase: 'headers' });
  t.like(firstToken!.outcome, { kind: 'timeout', phase: 'first_token' });
  t.like(stream!.outcome, { kind: 'timeout', phase: 'stream' });
  t.is(stream!.output_text, 'first');
  for (const r of [headers!, firstToken!, stream!]) {
    const elapsedMs = (r.end_ns! - r.sent_ns!) / 1e6;
    t.true(elapsedMs >= timeoutMs - 10, `timed out after ${elapsedMs} ms, before the limit`); // the exact instant: engine-virtual-clock.test.ts
  }
});

test('cancel ends an in-flight request with outcome cancelled and keeps what arrived', async (t) => {
  const url = await server(t, (_req, res) => {
    sse(res);
    res.write(chunk('before'));
  });
  const r = await send(url, { cancelAfterFirstContent: true });
  t.deepEqual(r.outcome, { kind: 'cancelled', message: 'run stopped (test)' });
  t.is(r.output_text, 'before');
});

test('secrets sent in headers never appear in a record, even when the server echoes them', async (t) => {
  const url = await server(t, (req, res) => {
    res.writeHead(401, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({ error: { message: `Incorrect API key provided: ${String(req.headers.authorization).replace('Bearer ', '')}` } }),
    );
  });
  const r = await send(url, { headers: { authorization: 'Bearer sk-test-SECRET-4242' } });
  t.is(r.outcome.kind, 'http_error');
  t.false(JSON.stringify(r).includes('SECRET-4242'));
  t.regex((r.outcome as { message: string }).message, /Incorrect API key provided: <redacted>/);
});

test('completions API: text chunks are content', async (t) => {
  const url = await server(t, (req, res) => {
    t.is(req.url, '/v1/completions');
    sse(res);
    res.end(`data: ${JSON.stringify({ choices: [{ text: 'abc', finish_reason: null }] })}\n\ndata: [DONE]\n\n`);
  });
  const r = await send(`${url}/v1`, { api: 'completions' });
  t.is(r.outcome.kind, 'ok');
  t.is(r.output_text, 'abc');
});

const ascending = (xs: number[]) => xs.every((x, k) => k === 0 || x >= xs[k - 1]!);

test("a stream cut by the simulator's disconnect fault keeps its chunks and text, a prefix of the whole answer", async (t) => {
  const sim = await startTestSim(t);
  const body = {
    model: sim.model,
    messages: [{ role: 'user', content: 'tell me a long story' }],
    max_tokens: 40,
    ignore_eos: true,
    stream: true,
  };
  const whole = await send(sim.url, { body, headers: { [FAULT_HEADER]: 'none' } });
  t.is(whole.outcome.kind, 'ok');
  t.is(whole.content_ns.length, 40, 'one token per chunk');
  const cut = await send(sim.url, { body, headers: { [FAULT_HEADER]: 'disconnect' } });
  t.is(cut.outcome.kind, 'connection_error');
  t.deepEqual(recordErrors(cut), []);
  const n = cut.content_ns.length;
  t.true(n >= 1 && n < 40, `${n} chunks before the cut`);
  t.true(ascending(cut.content_ns));
  t.is(cut.first_content_ns, cut.content_ns[0]!);
  t.true(cut.content_ns[n - 1]! <= cut.end_ns!);
  t.true(
    cut.output_text.length > 0 && cut.output_text.length < whole.output_text.length && whole.output_text.startsWith(cut.output_text),
    'the text that arrived is the start of the answer',
  );
  t.regex((cut.outcome as { message: string }).message, /socket closed mid-stream after \d+ events/);
});

test('a stream timed out or cancelled mid-way keeps its chunk times, per-chunk tokens and text; the timeout says how many chunks came', async (t) => {
  // Three content chunks with continuous usage stats, 5 ms apart, then silence. The deadline strikes once
  // the third has been parsed (its usage says 3 tokens), so the machine's speed cannot change the count.
  const url = await server(t, (_req, res) => {
    sse(res);
    const events = [
      chunk('a', { usage: { prompt_tokens: 5, completion_tokens: 1 } }),
      chunk('b', { usage: { prompt_tokens: 5, completion_tokens: 2 } }),
      chunk('c', { usage: { prompt_tokens: 5, completion_tokens: 3 } }),
    ];
    const next = () => {
      const event = events.shift();
      if (event === undefined) return;
      res.write(event);
      setTimeout(next, 5);
    };
    next();
  });
  const body = { model: 'm', messages: [{ role: 'user', content: 'hi' }], stream: true };

  const timedOut = await send(url, { body, timeoutMs: 400, deadlineWhen: (r) => r.usage?.completion_tokens === 3 });
  t.like(timedOut.outcome, { kind: 'timeout', phase: 'stream' }, JSON.stringify(timedOut.outcome));
  t.regex((timedOut.outcome as { message: string }).message, /\(3 content chunks received\)/);
  t.deepEqual(recordErrors(timedOut), []);
  t.is(timedOut.content_ns.length, 3);
  t.true(ascending(timedOut.content_ns) && timedOut.content_ns[2]! < timedOut.end_ns!);
  t.deepEqual(timedOut.content_tokens, [1, 1, 1]);
  t.is(timedOut.output_text, 'abc');

  const cancelled = await send(url, { body, cancelAfterFirstContent: true });
  t.deepEqual(cancelled.outcome, { kind: 'cancelled', message: 'run stopped (test)' });
  t.true(cancelled.content_ns.length >= 1, `${cancelled.content_ns.length} chunks before the cancel`);
  t.is(cancelled.content_ns[0], cancelled.first_content_ns!);
  t.is(cancelled.output_text, 'abc'.slice(0, cancelled.content_ns.length));
  t.deepEqual(
    cancelled.content_tokens,
    cancelled.content_ns.map(() => 1),
  );
});

test('a non-streaming answer keeps its whole text through finish()', async (t) => {
  const sim = await startTestSim(t);
  const body = { model: sim.model, messages: [{ role: 'user', content: 'tell me a long story' }], max_tokens: 12, ignore_eos: true };
  const streamed = await send(sim.url, { body: { ...body, stream: true } });
  const whole = await send(sim.url, { stream: false, body: { ...body, stream: false } });
  t.is(whole.outcome.kind, 'ok');
  t.is(whole.output_text, streamed.output_text, "the same answer as the stream's chunks");
  t.true(whole.output_text.length > 0);
  t.deepEqual(whole.content_ns, []);
  t.is(whole.content_tokens, null);
});
