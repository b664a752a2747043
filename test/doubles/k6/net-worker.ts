// Network side of the k6 test doubles, in a worker thread: performs the real HTTP requests (undici)
// while the VU thread blocks in Atomics.wait, exactly as a k6 VU blocks inside http.post / sse.open.
// SSE bodies are split into events with the same line rules as xk6-sse's readEvents (sse.go), so
// the script sees what the real extension would hand it (including "unknown event: ..." errors).
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { request } from 'undici';

const { port, signal } = workerData as { port: MessagePort; signal: Int32Array };
void parentPort;

function reply(message: unknown): void {
  port.postMessage(message);
  Atomics.add(signal, 0, 1);
  Atomics.notify(signal, 0);
}

const streams = new Map<number, AbortController>();

interface SseOp {
  op: 'sse';
  id: number;
  url: string;
  method: string;
  headers: Record<string, string>;
  body: string;
}
interface HttpOp {
  op: 'http';
  id: number;
  url: string;
  method: string;
  headers: Record<string, string>;
  body: string;
  timeoutMs: number;
}
type Op = SseOp | HttpOp | { op: 'close'; id: number };

port.on('message', (op: Op) => {
  if (op.op === 'close') streams.get(op.id)?.abort();
  else if (op.op === 'sse') void sse(op);
  else void http(op);
});
reply({ id: 0, type: 'ready' }); // the VU thread waits for this before its first request

function flatHeaders(headers: Record<string, string | string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) if (v !== undefined) out[k] = Array.isArray(v) ? v.join(', ') : v;
  return out;
}

async function sse(op: SseOp): Promise<void> {
  const abort = new AbortController();
  streams.set(op.id, abort);
  let res;
  try {
    // xk6-sse sets Accept and sends the body with strings.TrimSpace applied.
    res = await request(op.url, {
      method: op.method as 'POST',
      headers: { accept: 'text/event-stream', ...op.headers },
      body: op.body.trim(),
      signal: abort.signal,
    });
  } catch (error) {
    streams.delete(op.id);
    reply({ id: op.id, type: 'fail', message: (error as Error).message });
    return;
  }
  reply({ id: op.id, type: 'open', status: res.statusCode, headers: flatHeaders(res.headers) });
  let ev = { id: '', comment: '', name: '', data: '' };
  let data = '';
  let carry = '';
  const line = (l: string) => {
    // l includes its trailing '\n' (bufio.Reader.ReadBytes('\n'))
    const strip = (n: number) => l.slice(n, l.length - 1);
    if (l.startsWith('id: ')) ev.id = strip(4);
    else if (l.startsWith('id:')) ev.id = strip(3);
    else if (l.startsWith(': ')) ev.comment = strip(2);
    else if (l.startsWith(':')) ev.comment = strip(1);
    else if (l.startsWith('event: ')) ev.name = strip(7);
    else if (l.startsWith('event:')) ev.name = strip(6);
    else if (l.startsWith('data: ')) data += l.slice(6);
    else if (l.startsWith('data:')) data += l.slice(5);
    else if (l.startsWith('retry:')) {
      // ignored, as in xk6-sse
    } else if (l === '\n') {
      ev.data = data.replace(/[\r\n]+$/, '');
      reply({ id: op.id, type: 'event', event: ev });
      ev = { id: '', comment: '', name: '', data: '' };
      data = '';
    } else reply({ id: op.id, type: 'error', message: 'unknown event: ' + l });
  };
  try {
    for await (const chunk of res.body) {
      carry += (chunk as Buffer).toString('utf8');
      for (let nl = carry.indexOf('\n'); nl !== -1; nl = carry.indexOf('\n')) {
        line(carry.slice(0, nl + 1));
        carry = carry.slice(nl + 1);
      }
    }
  } catch (error) {
    if (!abort.signal.aborted) reply({ id: op.id, type: 'error', message: (error as Error).message });
  }
  // A last line without '\n' is dropped at EOF, as bufio's ReadBytes + io.EOF does in xk6-sse.
  streams.delete(op.id);
  reply({ id: op.id, type: 'end' });
}

async function http(op: HttpOp): Promise<void> {
  const t0 = performance.now();
  const timings = { blocked: 0, connecting: 0, tls_handshaking: 0, sending: 0, waiting: 0, receiving: 0, duration: 0 };
  try {
    const res = await request(op.url, {
      method: op.method as 'POST',
      headers: op.headers,
      body: op.body,
      signal: AbortSignal.timeout(op.timeoutMs),
    });
    const tHeaders = performance.now();
    const body = await res.body.text();
    const tEnd = performance.now();
    timings.waiting = tHeaders - t0;
    timings.receiving = tEnd - tHeaders;
    timings.duration = tEnd - t0;
    reply({
      id: op.id,
      type: 'response',
      status: res.statusCode,
      headers: flatHeaders(res.headers),
      body,
      timings,
      error: '',
      error_code: 0,
    });
  } catch (error) {
    const timeout = (error as Error).name === 'TimeoutError';
    // k6 error codes: 1050 request timeout, 1000 generic (https://grafana.com/docs/k6/latest/javascript-api/error-codes/)
    reply({
      id: op.id,
      type: 'response',
      status: 0,
      headers: {},
      body: null,
      timings,
      error: timeout ? 'request timeout' : (error as Error).message,
      error_code: timeout ? 1050 : 1000,
    });
  }
}
