// What the simulated model "reads" and "says". One token ≈ one whitespace-separated word. The answer
// is a pure function of the prompt (never of the server's seed or profile), so a baseline and a
// candidate simulator answer identically unless a divergence rate is configured.
import { derivedRandom, hash32, seededRandom } from '../core/random.ts';

const VOCABULARY = (
  'the a of to and in is that for it as was with be by on not he this are or his from at which but ' +
  'have an they you were her she there been one all we their has would when if will more no out so ' +
  'said what up its about into than them can only other new some could time these two may then do ' +
  'first any my now such like our over man me even most made after also did many before must through ' +
  'back years where much your way well down should because each just those people how too little state ' +
  'good very make world still own see men work long get here between both life being under never day ' +
  'same another know while last might us great old year off come since against go came right used take ' +
  'three model request token latency cache prefix server answer system user value result number ' +
  'between during without again place around however home small found thought went say part once high ' +
  'general upon school every does got united left number course war until always away something fact ' +
  'though water less public put think almost hand enough far took head yet government system better set ' +
  'told nothing night end why called didn eyes find going look asked later knew point next program city ' +
  'business give group toward young days let room president side social given present several order ' +
  'national possible rather second face per among form important often things looked early white case ' +
  'john become large big need four within felt along children saw best church ever least power development'
).split(' ');

/** Template marker counted as one prompt token per chat message (like a chat template's role header). */
const roleToken = (role: string) => `<|${role}|>`;

function words(text: string): string[] {
  const out = text.split(/\s+/);
  if (out.length > 0 && out[0] === '') out.shift();
  if (out.length > 0 && out[out.length - 1] === '') out.pop();
  return out;
}

/** Text of an OpenAI message content: a string, or an array of parts whose `text` fields count. */
export function contentText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    return content
      .map((part) =>
        typeof part === 'object' && part !== null && typeof (part as { text?: unknown }).text === 'string'
          ? (part as { text: string }).text
          : '',
      )
      .join(' ');
  }
  return '';
}

/** Prompt tokens of a chat request: a role marker then the words of each message. */
export function chatPromptTokens(messages: ReadonlyArray<{ role: string; content: unknown }>): string[] {
  const out: string[] = [];
  for (const m of messages) {
    out.push(roleToken(m.role));
    for (const w of words(contentText(m.content))) out.push(w);
  }
  out.push(roleToken('assistant')); // generation prompt
  return out;
}

export function completionPromptTokens(prompt: string): string[] {
  return words(prompt);
}

/** Stable 32-bit key of a prompt: decides the answer text and length. */
export function promptKey(tokens: readonly string[]): number {
  return hash32(tokens.join(' '));
}

/** Length the model would choose by itself (before max_tokens), 16-272 tokens. */
export function naturalLength(key: number): number {
  return 16 + Math.floor(seededRandom(key ^ 0x5bd1e995)() * 257);
}

export interface LengthRequest {
  maxTokens: number;
  minTokens: number;
  ignoreEos: boolean;
}

/** Output tokens and why generation stopped. */
export function outputLength(key: number, req: LengthRequest): { tokens: number; finishReason: 'stop' | 'length' } {
  if (req.ignoreEos) return { tokens: req.maxTokens, finishReason: 'length' };
  const natural = Math.max(naturalLength(key), req.minTokens);
  return natural >= req.maxTokens ? { tokens: req.maxTokens, finishReason: 'length' } : { tokens: natural, finishReason: 'stop' };
}

/**
 * The answer's tokens, each with its leading space (the first without), joined they give the text.
 * Words come from a seeded walk over the vocabulary with sentence punctuation.
 */
export function answerTokens(key: number, count: number): string[] {
  const random = seededRandom(key);
  const out: string[] = new Array<string>(count);
  let capital = true;
  for (let i = 0; i < count; i++) {
    let w = VOCABULARY[Math.floor(random() * VOCABULARY.length)] as string;
    if (capital) w = w.charAt(0).toUpperCase() + w.slice(1);
    const r = random();
    capital = r < 0.08;
    if (capital) w += '.';
    else if (r < 0.12) w += ',';
    out[i] = i === 0 ? w : ' ' + w;
  }
  return out;
}

/** Whether this request diverges (a `rate` share of prompts, chosen by seed and prompt). */
export function diverges(seed: number, key: number, rate: number): boolean {
  return rate > 0 && derivedRandom(seed, `divergence:${key}`)() < rate;
}

/** Replaces about 40 % of the words by others, so the answer's similarity ratio falls well below 0.9. */
export function perturb(tokens: string[], seed: number, key: number): string[] {
  const random = derivedRandom(seed, `perturb:${key}`);
  return tokens.map((t, i) => {
    if (random() >= 0.4) return t;
    const w = VOCABULARY[Math.floor(random() * VOCABULARY.length)] as string;
    return i === 0 ? w : ' ' + w;
  });
}
