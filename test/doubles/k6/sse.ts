// Double of k6/x/sse (xk6-sse): sse.open blocks until the stream ends and runs the client's
// callbacks on this thread as events arrive, like sse.go's control loop. A connection failure
// returns {status: 0, error} without calling the setup function or any handler (xk6-sse fires
// 'error' before handlers exist), and events after client.close() are not delivered.
import { newId, post, receive } from './bridge.ts';

type Handler = (arg?: unknown) => void;
type Reply =
  | { id: number; type: 'open'; status: number; headers: Record<string, string> }
  | { id: number; type: 'fail'; message: string }
  | { id: number; type: 'event'; event: { id: string; comment: string; name: string; data: string } }
  | { id: number; type: 'error'; message: string }
  | { id: number; type: 'end' };

function open(url: string, params: { method?: string; body?: string; headers?: Record<string, string> }, setup: (client: unknown) => void) {
  const id = newId();
  post({ op: 'sse', id, url, method: params.method ?? 'GET', headers: params.headers ?? {}, body: params.body ?? '' });
  const first = receive<Reply>(id);
  if (first.type === 'fail') return { url, status: 0, headers: {}, error: first.message };
  if (first.type !== 'open') throw new Error(`k6 double: unexpected ${first.type} before open`);
  const handlers: Record<string, Handler[]> = {};
  let closed = false;
  const client = {
    on(event: string, handler: Handler) {
      (handlers[event] ??= []).push(handler);
    },
    close() {
      if (!closed) post({ op: 'close', id });
      closed = true;
    },
  };
  const emit = (event: string, arg?: unknown) => {
    for (const h of handlers[event] ?? []) h(arg);
  };
  setup(client);
  emit('open');
  for (;;) {
    const message = receive<Reply>(id);
    if (message.type === 'end') break;
    if (closed) continue;
    if (message.type === 'event') emit('event', message.event);
    else if (message.type === 'error') emit('error', { error: () => message.message });
  }
  return { url, status: first.status, headers: first.headers, error: '' };
}

export default { open };
