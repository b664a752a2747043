// The endpoint URL policy: how an arm's base URL (--baseline / --candidate, the k6 config's arm
// url, the proxy's upstreams) becomes the URL of each request. One definition, used by the Node
// engine (engine/client.ts), preflight (engine/preflight.ts), the k6 script (k6/script/shadow.ts)
// and the proxy (proxy/upstream.ts, cli/proxy.ts). Pure string work, no `URL` global (k6's runtime
// has none), so the k6 bundle runs the very same code.
//
// A base URL is  scheme://[user:pass@]host[:port][/prefix][/v1][/][?query][#fragment]
//
//   http://h:8000                 → http://h:8000/v1/chat/completions
//   http://h:8000/                → the same (trailing slashes are dropped)
//   http://h:8000/v1   …/v1/      → the same (one trailing /v1 is dropped: the API path brings its own)
//   http://h:8000/prefix          → http://h:8000/prefix/v1/chat/completions (a path prefix is kept)
//   http://h:8000/prefix/v1       → the same as /prefix
//   http://h:8000?api-version=1   → http://h:8000/v1/chat/completions?api-version=1
//                                   (the path goes before the query; the query is kept on every request)
//   a #fragment is ignored (never sent); user:pass@ is kept apart (`credentials`) and never part of
//   `origin`: the Node engine sends it as Basic authorization, k6 puts it back into the URL it opens
//   (Go's HTTP client turns URL credentials into Basic authorization the same way).
//
// The proxy forwards its client's own path (which already starts with /v1) after the prefix, and
// the base query first, then the client's query (`forwardPath`).

/** The models list every OpenAI-compatible server answers (preflight, preconnect). */
export const MODELS_PATH = '/v1/models';

export interface Endpoint {
  /** scheme://host[:port], scheme and host lower-cased, no credentials, no trailing slash. */
  origin: string;
  /** Path before the API path: '' or e.g. '/prefix' (no trailing slash, trailing /v1 removed). */
  prefix: string;
  /** '' or the base URL's query string with its '?', e.g. '?api-version=1'. */
  query: string;
  /** 'user:pass' as written in the URL (percent-encoded), '' when none. */
  credentials: string;
}

export class EndpointError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EndpointError';
  }
}

const BASE_URL = /^(https?):\/\/([^/?#]*)([^?#]*)(\?[^#]*)?(#.*)?$/i;

/** Parses a base URL by the policy above; throws EndpointError saying what is accepted. */
export function parseEndpoint(url: string): Endpoint {
  const m = BASE_URL.exec(url.trim());
  if (m === null) throw new EndpointError(`expected an http(s) base URL such as http://127.0.0.1:8000, got ${JSON.stringify(url)}`);
  const scheme = (m[1] as string).toLowerCase();
  const authority = m[2] as string;
  const at = authority.lastIndexOf('@');
  const credentials = at < 0 ? '' : authority.slice(0, at);
  const hostPort = (at < 0 ? authority : authority.slice(at + 1)).toLowerCase();
  if (hostPort === '' || /[\s]/.test(hostPort) || /:(?!\d*$)/.test(hostPort.replace(/^\[[^\]]*\]/, '')))
    throw new EndpointError(`expected host[:port] in the base URL, got ${JSON.stringify(hostPort)} in ${JSON.stringify(url)}`);
  const prefix = (m[3] as string).replace(/\/+$/, '').replace(/\/v1$/, '').replace(/\/+$/, '');
  const query = m[4] === undefined || m[4] === '?' ? '' : m[4];
  return { origin: `${scheme}://${hostPort}`, prefix, query, credentials };
}

/** Path and query of a request to `apiPath` (e.g. '/v1/chat/completions'): prefix + apiPath + query. */
export function requestPath(e: Endpoint, apiPath: string): string {
  return e.prefix + apiPath + e.query;
}

/** The whole request URL; `withCredentials` puts user:pass@ back (for clients that take auth from the URL, e.g. k6). */
export function requestUrl(e: Endpoint, apiPath: string, withCredentials = false): string {
  const origin = withCredentials && e.credentials !== '' ? e.origin.replace('://', `://${e.credentials}@`) : e.origin;
  return origin + requestPath(e, apiPath);
}

/**
 * The proxy's upstream path for a client request `incoming` (its path and query as received, e.g.
 * '/v1/chat/completions?stream=1'): prefix + the client's path, then the base query and the
 * client's query joined by '&'.
 */
export function forwardPath(e: Endpoint, incoming: string): string {
  const q = incoming.indexOf('?');
  const path = q < 0 ? incoming : incoming.slice(0, q);
  const own = q < 0 ? '' : incoming.slice(q + 1);
  const query = e.query === '' ? (own === '' ? '' : `?${own}`) : own === '' ? e.query : `${e.query}&${own}`;
  return e.prefix + path + query;
}
