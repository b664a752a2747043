// A chat workload with realistic prefix sharing, for calibrating the simulated deployments on the
// mechanism that separates them (prefix-cache capacity and routing), not only on their numbers.
//
// - System prompts: `systemPrompts` of them, 300-1,500 tokens, popularity Zipf(s = zipfS): a few
//   hot ones every cache keeps and a long tail a small cache evicts before reuse.
// - Conversations: 2-6 turns; turn k's prompt = system + turns 1..k-1 (user text and the assistant's
//   answer) + new user text of 50-300 tokens. A follow-up turn arrives `turnGapRequests` requests
//   later (uniform within ±20 %), i.e. think time in units of the offered load (400 at 100 QPS: 3.2-4.8 s).
// - Each request's max_tokens 64-256.
//
// The hit rate is counted in tokens, as vLLM counts it: Σ cached ÷ Σ prompt tokens. Its ceiling is
// the share of prompt tokens in reusable prefixes (system prompts and histories).
import { derivedRandom } from '../core/random.ts';

export interface ConversationWorkloadOptions {
  seed: number;
  requests: number;
  systemPrompts?: number;
  zipfS?: number;
  turnGapRequests?: number;
}

export interface ChatRequest {
  messages: Array<{ role: string; content: string }>;
  max_tokens: number;
}

export function conversationWorkload(options: ConversationWorkloadOptions): ChatRequest[] {
  const random = derivedRandom(options.seed, 'conversation-workload');
  const nSystem = options.systemPrompts ?? 400;
  const s = options.zipfS ?? 1;
  const gap = options.turnGapRequests ?? 400;
  const word = () => `w${Math.floor(random() * 20000)}`;
  const text = (n: number) => Array.from({ length: n }, word).join(' ');
  const systems = Array.from({ length: nSystem }, (_, i) => `System prompt ${i}. ${text(300 + Math.floor(random() * 1200))}`);
  // Zipf weights → cumulative distribution
  const weights = systems.map((_, i) => 1 / Math.pow(i + 1, s));
  const total = weights.reduce((a, b) => a + b, 0);
  let acc = 0;
  const cdf = weights.map((w) => (acc += w / total));
  const pickSystem = () => {
    const u = random();
    let lo = 0;
    let hi = cdf.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((cdf[mid] as number) >= u) hi = mid;
      else lo = mid + 1;
    }
    return systems[lo] as string;
  };
  interface Conversation {
    messages: Array<{ role: string; content: string }>;
    turnsLeft: number;
  }
  // pending follow-up turns by the request slot they are due at
  const due = new Map<number, Conversation[]>();
  const out: ChatRequest[] = [];
  const schedule = (c: Conversation, slot: number) => {
    const at = slot + 1 + Math.floor((0.8 + 0.4 * random()) * gap);
    const list = due.get(at) ?? [];
    list.push(c);
    due.set(at, list);
  };
  const waiting: Conversation[] = [];
  for (let slot = 0; out.length < options.requests; slot++) {
    waiting.push(...(due.get(slot) ?? []));
    due.delete(slot);
    // a follow-up turn if one is due, else a new conversation
    const c: Conversation = waiting.shift() ?? {
      messages: [{ role: 'system', content: pickSystem() }],
      turnsLeft: 2 + Math.floor(random() * 5),
    };
    c.messages.push({ role: 'user', content: text(50 + Math.floor(random() * 251)) });
    out.push({ messages: c.messages.map((m) => ({ ...m })), max_tokens: 64 + Math.floor(random() * 193) });
    c.turnsLeft--;
    if (c.turnsLeft > 0) {
      c.messages.push({ role: 'assistant', content: text(40 + Math.floor(random() * 120)) });
      schedule(c, slot);
    }
  }
  return out;
}
