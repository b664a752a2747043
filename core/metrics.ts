// Per-request metric definitions: each written once, with its formula and unit.
// Inputs are raw monotonic timestamps (integer ns since run start) from the record; outputs are
// milliseconds. null = not measured / undefined for this request — never zero.
import type { RequestRecord } from './record.ts';

const NS_PER_MS = 1e6;
const ms = (ns: number): number => ns / NS_PER_MS;

/** Timestamps are only meaningful per token when the engine observed token arrival (not k6 buffered mode). */
const timed = (r: RequestRecord): boolean => r.token_timing && r.sent_ns !== null;

/**
 * TTFT (ms) = first_content_ns − sent_ns: the first chunk carrying any kind of token — answer
 * content, reasoning, or a tool-call delta (a name or an arguments fragment). Role-only and empty
 * chunks do not count. A tool-call-only response therefore has a TTFT: the time its call's name came
 * out (a server's tool parser may hold back the first tokens until it has the name).
 */
export function ttftMs(r: RequestRecord): number | null {
  return timed(r) && r.first_content_ns !== null ? ms(r.first_content_ns - (r.sent_ns as number)) : null;
}

/**
 * Time to first answer token (ms) = first_answer_ns − sent_ns: the first chunk carrying answer
 * content (not reasoning, not a tool call): what the user of a reasoning model waits for before
 * the answer starts. Equals TTFT when nothing precedes the answer; null when the response has no
 * answer content (tool calls only) or no token timing. Version-1 records: first_answer_ns is
 * first_content_ns (reasoning was not told apart).
 */
export function ttfaMs(r: RequestRecord): number | null {
  return timed(r) && r.first_answer_ns !== null ? ms(r.first_answer_ns - (r.sent_ns as number)) : null;
}

/**
 * E2E (ms) = last token-bearing chunk − sent_ns: the last chunk carrying any kind of token (content,
 * reasoning or tool-call delta); the trailing finish-only and usage chunks do not count. Without token
 * timing (buffered responses) the body arrives whole, so the last token is at end_ns.
 */
export function e2eMs(r: RequestRecord): number | null {
  if (r.sent_ns === null) return null;
  if (r.token_timing) {
    const last = r.content_ns.length > 0 ? (r.content_ns[r.content_ns.length - 1] as number) : null;
    return last === null ? null : ms(last - r.sent_ns);
  }
  return r.end_ns === null ? null : ms(r.end_ns - r.sent_ns);
}

/** Time to first byte (ms) = headers_ns − sent_ns. */
export function ttfbMs(r: RequestRecord): number | null {
  return r.sent_ns !== null && r.headers_ns !== null ? ms(r.headers_ns - r.sent_ns) : null;
}

/** Time to first chunk (ms) = first_chunk_ns − sent_ns (any SSE event, role-only ones included). */
export function firstChunkMs(r: RequestRecord): number | null {
  return timed(r) && r.first_chunk_ns !== null ? ms(r.first_chunk_ns - (r.sent_ns as number)) : null;
}

/** Output tokens = usage.completion_tokens when the server reports it, else the chunk count (Σ content_tokens, 1 per chunk when unknown). */
export function outputTokens(r: RequestRecord): { tokens: number; fromUsage: boolean } {
  const reported = r.usage?.completion_tokens ?? null;
  if (reported !== null) return { tokens: reported, fromUsage: true };
  if (r.content_tokens === null) return { tokens: r.content_ns.length, fromUsage: false };
  let sum = 0;
  for (const n of r.content_tokens) sum += n;
  return { tokens: sum, fromUsage: false };
}

/** TPOT (ms/token) = (E2E − TTFT) / (output tokens − 1); undefined for ≤ 1 token. */
export function tpotMs(e2e: number | null, ttft: number | null, tokens: number): number | null {
  return e2e !== null && ttft !== null && tokens > 1 ? (e2e - ttft) / (tokens - 1) : null;
}

/** Output tokens/s of one request = output tokens / E2E (s). */
export function tokensPerSecond(tokens: number, e2e: number | null): number | null {
  return e2e !== null && e2e > 0 ? tokens / (e2e / 1000) : null;
}

/**
 * ITL (ms) of each token-bearing chunk after the first (any kind of token: content, reasoning or
 * tool-call delta) = (content_ns[k] − content_ns[k−1]) / tokens chunk k carried (content_tokens[k],
 * 1 when unknown or 0). Pooled across requests for percentiles.
 */
export function forEachItlMs(r: RequestRecord, emit: (itl: number) => void): void {
  if (!timed(r)) return;
  const t = r.content_ns;
  const tokens = r.content_tokens;
  for (let k = 1; k < t.length; k++) {
    const carried = tokens === null ? 1 : Math.max(1, tokens[k] as number);
    emit(ms((t[k] as number) - (t[k - 1] as number)) / carried);
  }
}

/** Send lag (ms) = sent_ns − scheduled_ns: how late the open-loop scheduler actually sent. */
export function sendLagMs(r: RequestRecord): number | null {
  return r.sent_ns === null ? null : ms(r.sent_ns - r.scheduled_ns);
}

/** Arm skew (ms) = candidate sent_ns − baseline sent_ns, for the same request index. */
export function armSkewMs(baselineSentNs: number, candidateSentNs: number): number {
  return ms(candidateSentNs - baselineSentNs);
}

/**
 * Whether a request's latencies (TTFT, ITL, E2E, …) count: measured (not warm-up) and ok. A failed
 * request's first token or chunk gaps are not the endpoint's latency (a stream cut after 3 tokens
 * would count as a fast one). The analysis (analysis/collect.ts), the k6 Trends and thresholds
 * (k6/script/shadow.ts) and the proxy's windows (proxy/window.ts) all take this rule.
 */
export function countsForLatency(r: RequestRecord): boolean {
  return !r.warmup && r.outcome.kind === 'ok';
}

/** Where one request's latency samples go (ms), by metric. */
export interface LatencySink {
  ttft(ms: number): void;
  itl(ms: number): void;
  e2e(ms: number): void;
}

/**
 * One request's latency samples by the definitions above (ttftMs, forEachItlMs, e2eMs), only when
 * countsForLatency: what every live consumer of records (k6 Trends, proxy windows) feeds its
 * aggregates with, so their percentiles are the analysis' percentiles of the same records.
 */
export function latencySamples(r: RequestRecord, sink: LatencySink): void {
  if (!countsForLatency(r)) return;
  const ttft = ttftMs(r);
  if (ttft !== null) sink.ttft(ttft);
  forEachItlMs(r, (v) => sink.itl(v));
  const e2e = e2eMs(r);
  if (e2e !== null) sink.e2e(e2e);
}
