// Writes workloads/sample-chat.jsonl, the shipped sample workload: `npm run workload:sample`.
// Deterministic (seeded), so the committed file can be checked against this generator byte for byte.
//
// 300 chat requests for meta-llama/Llama-3.1-8B-Instruct under five long system prompts (support
// bot, code assistant, RAG over retrieved policy excerpts, summariser, SQL helper) — most of each
// prompt is a prefix shared with many other requests, as in production, so prefix caching matters —
// plus three multi-turn conversations whose later turns repeat the earlier ones. temperature is 0 so
// that the baseline and the candidate can be compared on their outputs.
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { derivedRandom, shuffle } from '../core/random.ts';
import { DEFAULT_MODEL } from '../core/workload/workload.ts';
import {
  CODE_QUESTIONS,
  CODE_SYSTEM,
  CONVERSATIONS,
  RAG_CONTEXTS,
  RAG_SYSTEM,
  SQL_QUESTIONS,
  SQL_SYSTEM,
  SUMMARY_PIECES,
  SUMMARY_SYSTEM,
  SUPPORT_QUESTIONS,
  SUPPORT_SYSTEM,
} from './sample-prompts.ts';

export const SAMPLE_SEED = 20_250_601;
export const SAMPLE_REQUESTS = 300;
export const SAMPLE_FILE = fileURLToPath(new URL('./sample-chat.jsonl', import.meta.url));

type Message = { role: 'system' | 'user' | 'assistant'; content: string };
interface Request {
  id: string;
  messages: Message[];
  max_tokens: number;
}

const SYSTEMS = { support: SUPPORT_SYSTEM, code: CODE_SYSTEM, sql: SQL_SYSTEM };
// Share of the single-turn requests per kind of traffic.
const MIX: Array<[kind: 'support' | 'code' | 'rag' | 'summary' | 'sql', weight: number]> = [
  ['support', 0.28],
  ['code', 0.22],
  ['rag', 0.2],
  ['summary', 0.12],
  ['sql', 0.18],
];
// The same question is asked in slightly different words by different people.
const OPENERS = ['', '', '', 'Hi. ', 'Hello! ', 'Quick question. ', 'Hey there. ', 'Good morning. '];
const CLOSERS = ['', '', '', ' Thanks!', ' Thank you.', ' Please keep it short.', ' Any help appreciated.'];

export function generateSample(seed = SAMPLE_SEED): string {
  const random = derivedRandom(seed, 'sample-chat');
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const maxTokens = (min: number) => min + 32 * Math.floor(random() * ((256 - min) / 32 + 1)); // min .. 256 in steps of 32
  const phrase = (question: string) => pick(OPENERS) + question + pick(CLOSERS);

  /** n different entries of a list, in list order. */
  const some = <T>(items: readonly T[], n: number): T[] =>
    shuffle([...items.keys()], random)
      .slice(0, n)
      .sort((a, b) => a - b)
      .map((i) => items[i]!);

  const document = (): string => {
    const p = SUMMARY_PIECES;
    const site = pick(p.sites);
    const fill = (s: string) =>
      s
        .replace('{site}', pick(p.sites))
        .replace('{order}', `SO-${100_000 + Math.floor(random() * 900_000)}`)
        .replace('{person}', pick(p.people))
        .replace('{day}', pick(p.days));
    const lines = [
      `${pick(p.kinds)} — ${site}, ${1 + Math.floor(random() * 28)} ${pick(['March', 'April', 'May', 'June'])} 2025`,
      `Author: ${pick(p.people)}`,
      '',
    ];
    let minutes = 6 * 60 + Math.floor(random() * 120);
    for (const event of some(p.events, 2 + Math.floor(random() * 3))) {
      minutes += 20 + Math.floor(random() * 180);
      const clock = `${String(Math.floor(minutes / 60) % 24).padStart(2, '0')}:${String(minutes % 60).padStart(2, '0')}`;
      const text = fill(event);
      lines.push(`${clock} — ${text[0]!.toUpperCase()}${text.slice(1)}.`);
    }
    const decisions = some(p.decisions, 1 + Math.floor(random() * 2));
    lines.push('', `After discussion, ${decisions.join(', and ')}.`, '', 'Next steps:');
    for (const action of some(p.actions, 1 + Math.floor(random() * 3))) lines.push(`- ${fill(action)}`);
    return lines.join('\n');
  };

  const single = (kind: (typeof MIX)[number][0]): Omit<Request, 'id'> => {
    switch (kind) {
      case 'support':
      case 'code':
      case 'sql': {
        const questions = kind === 'support' ? SUPPORT_QUESTIONS : kind === 'code' ? CODE_QUESTIONS : SQL_QUESTIONS;
        return {
          messages: [
            { role: 'system', content: SYSTEMS[kind] },
            { role: 'user', content: phrase(pick(questions)) },
          ],
          max_tokens: maxTokens(kind === 'support' ? 64 : 128),
        };
      }
      case 'rag': {
        const topic = pick(RAG_CONTEXTS);
        return {
          messages: [
            { role: 'system', content: RAG_SYSTEM + topic.context },
            { role: 'user', content: phrase(pick(topic.questions)) },
          ],
          max_tokens: maxTokens(64),
        };
      }
      case 'summary': {
        const doc = document();
        return {
          messages: [
            { role: 'system', content: SUMMARY_SYSTEM },
            { role: 'user', content: `Please summarise this:\n\n${doc}` },
          ],
          max_tokens: maxTokens(128),
        };
      }
    }
  };

  const conversationTurns: Request[][] = CONVERSATIONS.map((conversation, c) => {
    const history: Message[] = [{ role: 'system', content: SYSTEMS[conversation.system] }];
    return conversation.turns.map((turn, t) => {
      history.push({ role: 'user', content: turn.user });
      const request: Request = { id: `conversation-${c + 1}-turn-${t + 1}`, messages: [...history], max_tokens: 256 };
      history.push({ role: 'assistant', content: turn.assistant });
      return request;
    });
  });

  // Conversation turns go to random slots, each conversation's turns in order.
  const free = shuffle(
    Array.from({ length: SAMPLE_REQUESTS }, (_, i) => i),
    random,
  );
  const slots = new Map<number, Request>();
  let next = 0;
  for (const turns of conversationTurns) {
    const mine = free.slice(next, next + turns.length).sort((a, b) => a - b);
    next += turns.length;
    turns.forEach((request, t) => slots.set(mine[t]!, request));
  }

  const lines: string[] = [];
  const counts = new Map<string, number>();
  for (let i = 0; i < SAMPLE_REQUESTS; i++) {
    let request = slots.get(i);
    if (request === undefined) {
      const x = random();
      let acc = 0;
      const kind = MIX.find(([, w]) => (acc += w) > x)?.[0] ?? 'sql';
      const n = (counts.get(kind) ?? 0) + 1;
      counts.set(kind, n);
      request = { id: `${kind}-${String(n).padStart(3, '0')}`, ...single(kind) };
    }
    lines.push(
      JSON.stringify({ id: request.id, model: DEFAULT_MODEL, messages: request.messages, max_tokens: request.max_tokens, temperature: 0 }),
    );
  }
  return lines.join('\n') + '\n';
}

if (import.meta.main) {
  const text = generateSample();
  writeFileSync(SAMPLE_FILE, text);
  process.stderr.write(`wrote ${SAMPLE_FILE}: ${text.split('\n').length - 1} requests, ${(text.length / 1024).toFixed(0)} KiB\n`);
}
