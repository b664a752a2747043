// Token counts without the served model's tokenizer. `TokenCounter` is what the workload parsers
// take; `ESTIMATE` is a tokenizer-free count that stays within ~20 % of o200k / Llama 3 on Chinese,
// Japanese and Korean prose (where the old characters ÷ 4 rule underestimated about 3×) and on
// English prose. io/tokenizer.ts loads the gpt-tokenizer o200k counter under Node; k6 and any
// runtime without it use ESTIMATE. Runtime-agnostic: no Node built-ins.

export interface TokenCounter {
  /** Named in the workload report ("o200k_base (gpt-tokenizer)", "estimate ..."). */
  readonly name: string;
  count(text: string): number;
}

/** Tokens per Han character or kana (o200k and Llama 3 measure 0.65–0.75 on prose). */
export const HAN_KANA_TOKENS = 0.7;
/** Tokens per Hangul syllable or jamo (o200k and Llama 3 measure about 0.5). */
export const HANGUL_TOKENS = 0.5;
/** Characters per token of everything else (English prose ≈ 4–4.7). */
export const OTHER_CHARS_PER_TOKEN = 4;

function weight(c: number): number {
  // Han (Extension A + URO, compatibility ideographs, supplementary planes 2–3) and kana.
  if ((c >= 0x3400 && c <= 0x9fff) || (c >= 0xf900 && c <= 0xfaff) || (c >= 0x20000 && c <= 0x3ffff) || (c >= 0x3040 && c <= 0x30ff))
    return HAN_KANA_TOKENS;
  if ((c >= 0xac00 && c <= 0xd7af) || (c >= 0x1100 && c <= 0x11ff) || (c >= 0x3130 && c <= 0x318f)) return HANGUL_TOKENS;
  // CJK punctuation and full-width forms: one token each.
  if ((c >= 0x3000 && c <= 0x303f) || (c >= 0xff00 && c <= 0xffef)) return 1;
  return -1; // other: counted by runs
}

/**
 * Tokenizer-free estimate: Han/kana 0.7 per character, Hangul 0.5, CJK punctuation and full-width
 * forms 1, every run of other characters ceil(length / 4); the sum rounded up. Code is underestimated
 * by about 30 % (whitespace-heavy); CJK and English prose land within about 20 %.
 */
export function estimateTokens(text: string): number {
  let total = 0;
  let run = 0;
  for (let i = 0; i < text.length; i++) {
    let c = text.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      const low = text.charCodeAt(i + 1);
      if (low >= 0xdc00 && low <= 0xdfff) {
        c = 0x10000 + ((c - 0xd800) << 10) + (low - 0xdc00);
        i++;
        if (c < 0x20000 || c > 0x3ffff) {
          run += 2;
          continue;
        }
      }
    }
    const w = c < 0x1100 ? -1 : weight(c);
    if (w < 0) run++;
    else {
      if (run > 0) total += Math.ceil(run / OTHER_CHARS_PER_TOKEN);
      run = 0;
      total += w;
    }
  }
  if (run > 0) total += Math.ceil(run / OTHER_CHARS_PER_TOKEN);
  return Math.ceil(total - 1e-9);
}

export const ESTIMATE: TokenCounter = {
  name: 'estimate (Han/kana 0.7 per char, Hangul 0.5, other chars ÷ 4)',
  count: estimateTokens,
};
