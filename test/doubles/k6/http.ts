// Double of k6/http (the subset the script uses): a blocking http.post over the network worker,
// returning k6's Response shape (status 0 + error/error_code when no response came).
import { newId, post as send, receive } from './bridge.ts';

interface Params {
  headers?: Record<string, string>;
  timeout?: string | number;
  tags?: Record<string, string>;
  responseType?: string;
}

/** k6 durations: a number is ms; strings like "1500ms", "30s", "1m". */
function durationMs(value: string | number | undefined): number {
  if (value === undefined) return 60_000;
  if (typeof value === 'number') return value;
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)$/.exec(value);
  if (!m) throw new Error(`k6 double: unsupported duration ${value}`);
  return Number(m[1]) * (m[2] === 'ms' ? 1 : m[2] === 's' ? 1000 : 60_000);
}

function request(method: string, url: string, body: string | null, params: Params = {}) {
  const id = newId();
  send({ op: 'http', id, method, url, headers: params.headers ?? {}, body: body ?? '', timeoutMs: durationMs(params.timeout) });
  const res = receive<{
    id: number;
    status: number;
    headers: Record<string, string>;
    body: string | null;
    timings: Record<string, number>;
    error: string;
    error_code: number;
  }>(id);
  return {
    url,
    status: res.status,
    headers: res.headers,
    body: res.body,
    timings: res.timings,
    error: res.error,
    error_code: res.error_code,
  };
}

const http = {
  post: (url: string, body: string | null, params?: Params) => request('POST', url, body, params),
  get: (url: string, params?: Params) => request('GET', url, null, params),
};
export default http;
