// Token counts without the served model's tokenizer. `TokenCounter` is what the workload parsers
// take; `ESTIMATE` is a tokenizer-free count that stays within ~15 % of o200k on Chinese, Japanese,
// Korean, English and French prose and on code, ~25 % on Chinese mixed with code (the old
// characters ÷ 4 rule was 2–3× under on CJK). io/tokenizer.ts loads the gpt-tokenizer o200k counter under Node; k6 and any
// runtime without it use ESTIMATE. Runtime-agnostic: no Node built-ins.

export interface TokenCounter {
  /** Named in the workload report ("o200k_base (gpt-tokenizer)", "estimate ..."). */
  readonly name: string;
  count(text: string): number;
}

/** Tokens per Han character or kana (o200k and Llama 3 measure 0.65–0.75 on prose). */
export const HAN_KANA_TOKENS = 0.7;
/** Tokens per Hangul syllable or jamo (o200k measures 0.5–0.7 on prose). */
export const HANGUL_TOKENS = 0.6;

function weight(c: number): number {
  // Han (Extension A + URO, compatibility ideographs, supplementary planes 2–3) and kana.
  if ((c >= 0x3400 && c <= 0x9fff) || (c >= 0xf900 && c <= 0xfaff) || (c >= 0x20000 && c <= 0x3ffff) || (c >= 0x3040 && c <= 0x30ff))
    return HAN_KANA_TOKENS;
  if ((c >= 0xac00 && c <= 0xd7af) || (c >= 0x1100 && c <= 0x11ff) || (c >= 0x3130 && c <= 0x318f)) return HANGUL_TOKENS;
  // CJK punctuation and full-width forms: one token each.
  if ((c >= 0x3000 && c <= 0x303f) || (c >= 0xff00 && c <= 0xffef)) return 1;
  return -1; // other: counted by runs
}

/** Letters per token of a word in a Latin-script (or other non-CJK) language. */
export const LETTERS_PER_TOKEN = 7;
/** Digits per token (BPE vocabularies split numbers into groups of up to 3). */
export const DIGITS_PER_TOKEN = 3;
/** ASCII punctuation characters per token ("):", "\"}" and the like merge). */
export const PUNCTUATION_PER_TOKEN = 2;

const Run = { None: 0, Letters: 1, Digits: 2, Space: 3, Punctuation: 4 } as const;
type Run = (typeof Run)[keyof typeof Run];

/**
 * Tokenizer-free estimate. CJK: Han/kana 0.7 per character, Hangul 0.5, CJK punctuation and
 * full-width forms 1. Everything else by runs: a word of letters ceil(length / 7), digits
 * ceil(length / 3), ASCII punctuation ceil(length / 2) (a single mark before a word is folded into
 * it, as ".get" or "_code" are one token), whitespace 1 except a single space (which BPE vocabularies
 * fold into the next word). The sum is rounded up. Measured against o200k on prose
 * in Chinese, Japanese, Korean, English and French and on code and JSON: within about 12 %
 * (characters ÷ 4, the rule it replaces, was 49–65 % under on CJK and 33 % over on English).
 */
export function estimateTokens(text: string): number {
  let total = 0;
  let run: Run = Run.None;
  let length = 0;
  let single = false; // the whitespace run is one space
  let next: Run = Run.None; // the run after the one being flushed
  const flush = () => {
    if (run === Run.Letters) total += Math.ceil(length / LETTERS_PER_TOKEN);
    else if (run === Run.Digits) total += Math.ceil(length / DIGITS_PER_TOKEN);
    else if (run === Run.Punctuation) total += Math.ceil(length / PUNCTUATION_PER_TOKEN) - (length === 1 && next === Run.Letters ? 1 : 0);
    else if (run === Run.Space) total += single && length === 1 ? 0 : 1;
    run = Run.None;
    length = 0;
  };
  for (let i = 0; i < text.length; i++) {
    let c = text.charCodeAt(i);
    let units = 1;
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      const low = text.charCodeAt(i + 1);
      if (low >= 0xdc00 && low <= 0xdfff) {
        c = 0x10000 + ((c - 0xd800) << 10) + (low - 0xdc00);
        units = 2;
        i++;
      }
    }
    const w = c < 0x1100 ? -1 : weight(c);
    if (w >= 0) {
      next = Run.None;
      flush();
      total += w;
      continue;
    }
    const kind =
      (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || c >= 0x80
        ? Run.Letters
        : c >= 0x30 && c <= 0x39
          ? Run.Digits
          : c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d
            ? Run.Space
            : Run.Punctuation;
    if (kind !== run) {
      next = kind;
      flush();
      run = kind;
      single = c === 0x20;
    }
    length += units;
  }
  next = Run.None;
  flush();
  return total <= 0 ? 0 : Math.ceil(total - 1e-9);
}

export const ESTIMATE: TokenCounter = {
  name: 'estimate (Han/kana 0.7 per char, Hangul 0.5, words of 7 letters, 3 digits, 2 punctuation marks)',
  count: estimateTokens,
};
