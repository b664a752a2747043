// What the proxy makes of an incoming request, without HTTP: whether it is a completion to record
// (and for which API), the headers forwarded each way, the prompt's stable id, the body each arm
// gets, and the request's secrets (core/redact.ts), so every record message stays clean.
import type { IncomingHttpHeaders } from 'node:http';
import { createHash } from 'node:crypto';
import type { Api } from '../core/openai.ts';
import { headerSecrets, urlSecrets } from '../core/redact.ts';
import { HOP_BY_HOP } from './upstream.ts';

const COMPLETION_PATHS: Record<string, Api> = { '/v1/chat/completions': 'chat', '/v1/completions': 'completions' };

export type Classified =
  | { kind: 'completion'; api: Api; parsed: Record<string, unknown>; body: Buffer }
  /** Forwarded to the baseline without a record: other endpoints, or a body that is not a JSON object. */
  | { kind: 'pass' };

/** A POST to a completions path with a JSON-object body is recorded; anything else passes through. */
export function classify(method: string | undefined, url: string | undefined, body: Buffer | null): Classified {
  const path = (url ?? '/').split('?')[0] as string;
  const api = method === 'POST' ? COMPLETION_PATHS[path] : undefined;
  if (api === undefined || body === null) return { kind: 'pass' };
  try {
    const value: unknown = JSON.parse(body.toString('utf8'));
    if (typeof value === 'object' && value !== null && !Array.isArray(value))
      return { kind: 'completion', api, parsed: value as Record<string, unknown>, body };
  } catch {
    // not JSON: the upstream will say so to the client; nothing to compare
  }
  return { kind: 'pass' };
}

/** Does this method carry a body to read? */
export const hasBody = (method: string | undefined) => method !== 'GET' && method !== 'HEAD';

/** The client's headers as forwarded upstream (hop-by-hop ones removed). */
export function forwardedHeaders(headers: IncomingHttpHeaders): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined && !HOP_BY_HOP.has(name)) out[name] = value;
  }
  return out;
}

/** The upstream's headers as sent to the client: the body is forwarded byte for byte, so its length still holds. */
export function responseHeaders(headers: IncomingHttpHeaders): Record<string, string | string[]> {
  const out = forwardedHeaders(headers);
  if (headers['content-length'] !== undefined) out['content-length'] = headers['content-length'];
  return out;
}

/** A stable id for the prompt without writing it: the same body hashes to the same item across runs. */
export const itemIdOf = (body: Buffer) => 'body-' + createHash('sha256').update(body).digest('hex').slice(0, 16);

/** The body one arm gets: the client's bytes, or with `model` replaced when the arm has one configured. */
export const armBody = (model: string | null, raw: Buffer, parsed: Record<string, unknown>): Buffer =>
  model === null ? raw : Buffer.from(JSON.stringify({ ...parsed, model }));

/**
 * The secrets of one proxied request, redacted from its records: the configured keys, the values of
 * every credential header the client sent (Authorization, Cookie, X-Api-Key, ...; core/redact.ts) and
 * token-like values in its URL (the headers may be echoed by an upstream's error body).
 */
export function requestSecrets(configured: readonly string[], headers: IncomingHttpHeaders, url: string | undefined): string[] {
  return [...configured, ...headerSecrets(headers, 'credentials'), ...urlSecrets(`http://proxy.invalid${url ?? '/'}`)];
}
