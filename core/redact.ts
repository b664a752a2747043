// The one redaction policy: what counts as a secret and how it is removed from every message and
// text that reaches a file (records, run.json, events, terminal lines), for every engine (Node client,
// k6 script, proxy). Runtime-agnostic (it runs inside k6 too).
//
// Secrets are:
//   - configured keys (BASELINE_API_KEY / CANDIDATE_API_KEY) and every --header value the user gave;
//   - the values of every credential header a client sends through the proxy: Authorization,
//     Proxy-Authorization, Cookie, Set-Cookie, X-Api-Key, api-key, and any header whose name contains
//     key, token, secret or auth (isSecretHeader);
//   - URL credentials (user:password@) and token-like query values (a parameter whose name contains
//     key, token, secret, password, sig or auth).
// Known values are replaced wherever they appear (with the token after "Bearer "/"Basic " as a value
// of its own); patterns catch what was not known in advance: Bearer/Basic credentials, credential
// header lines and JSON members, URL userinfo and token-like query values (an upstream that echoes
// request headers or URLs into its error body).

import type { RequestRecord } from './record.ts';

export const REDACTED = '<redacted>';

/** Header names whose values are never written anywhere. */
export const SECRET_HEADER = /^(authorization|proxy-authorization|cookie|set-cookie|x-api-key|api-key)$|key|token|secret|auth/i;

export const isSecretHeader = (name: string): boolean => SECRET_HEADER.test(name);

/** Query parameter names whose values are secrets. */
const SECRET_PARAM = /key|token|secret|password|sig|auth/i;

/** Shorter values are not scrubbed as known strings (they would hit ordinary words); patterns still apply. */
const MIN_SECRET_LENGTH = 6;

/**
 * The strings to scrub for a set of headers: each value (and the credential after "Bearer "/"Basic "),
 * at least MIN_SECRET_LENGTH characters. `which: 'all'` for headers the user configured (every
 * --header value counts), 'credentials' for headers a client sent (only credential headers count).
 */
export function headerSecrets(
  headers: Readonly<Record<string, string | readonly string[] | undefined>>,
  which: 'all' | 'credentials' = 'all',
): string[] {
  const out: string[] = [];
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || (which === 'credentials' && !isSecretHeader(name))) continue;
    for (const v of typeof value === 'string' ? [value] : value) {
      out.push(v, v.replace(/^(Bearer|Basic|Token)\s+/i, ''));
      // A cookie header: each cookie's value too.
      if (/cookie/i.test(name)) for (const part of v.split(';')) out.push(part.slice(part.indexOf('=') + 1).trim());
    }
  }
  return [...new Set(out.filter((v) => v.length >= MIN_SECRET_LENGTH))].sort((a, b) => b.length - a.length);
}

/** The secrets a URL carries: its password and its token-like query values. */
export function urlSecrets(url: string): string[] {
  try {
    const u = new URL(url);
    const out = u.password ? [decodeURIComponent(u.password)] : [];
    for (const [key, value] of u.searchParams) if (SECRET_PARAM.test(key)) out.push(value);
    return out.filter((v) => v.length >= MIN_SECRET_LENGTH);
  } catch {
    return [];
  }
}

/** Removes userinfo (user:password@) and token-like query values from a URL, for display and run.json. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    for (const key of [...u.searchParams.keys()]) {
      if (SECRET_PARAM.test(key)) u.searchParams.set(key, 'REDACTED');
    }
    return u.toString().replace(/\/$/, '');
  } catch {
    return '<invalid url>';
  }
}

const PATTERNS: Array<[RegExp, string]> = [
  // scheme://user:password@host
  [/([a-z][a-z0-9+.-]*:\/\/)[^\s/@"'<>]+@/gi, `$1${REDACTED}@`],
  // ?api_key=... &token=... (a query inside any text)
  [/([?&;][^\s=&"'<>]*(?:key|token(?!s)|secret|password|sig|auth)[^\s=&"'<>]*=)[^\s&"'<>]+/gi, `$1${REDACTED}`],
  // "authorization": "...", 'x-api-key': '...', "session_token":"..." (echoed header objects, JSON)
  [/((["'])(?:[^"'\s]*(?:key|token(?!s)|secret|auth|cookie)[^"'\s]*)\2\s*[:=]\s*)(["'])(?:\\.|(?!\3).)*\3/gi, `$1"${REDACTED}"`],
  // Authorization: Bearer ..., X-Api-Key: ... (echoed header lines)
  [/(\b[\w-]*(?:key|token(?!s)|secret|auth|cookie)[\w-]*\s*:\s*)(?!\s*["'])(?:(?:Bearer|Basic|Token)\s+)?[^\s,;"'}\]]+/gi, `$1${REDACTED}`],
  // Bearer / Basic credentials anywhere
  [/\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{6,}/g, `$1 ${REDACTED}`],
];

/** Every known secret replaced (longest first), then every secret-shaped pattern. */
export function redactText(text: string, secrets: readonly string[] = []): string {
  let out = scrubKnown(text, secrets);
  for (const [pattern, replacement] of PATTERNS) out = out.replace(pattern, replacement);
  return out;
}

/** Only the known secrets replaced: for text that is content (answers), where patterns could hit ordinary words. */
export function scrubKnown(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) if (s.length > 0 && out.includes(s)) out = out.split(s).join(REDACTED);
  return out;
}

/**
 * The answer texts of a record with every known secret replaced (an upstream that echoes a credential
 * into its answer). Messages go through redactText (core/outcome-message.ts recordMessage).
 */
export function scrubRecordTexts(r: RequestRecord, secrets: readonly string[]): void {
  if (secrets.length === 0) return;
  r.output_text = scrubKnown(r.output_text, secrets);
  r.reasoning_text = scrubKnown(r.reasoning_text, secrets);
  for (const call of r.tool_calls) {
    call.name = scrubKnown(call.name, secrets);
    call.arguments = scrubKnown(call.arguments, secrets);
  }
}
