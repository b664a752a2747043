// The tokenizer-backed token counter: gpt-tokenizer's o200k_base encoding (pure JS, vocabulary
// bundled, no network), imported lazily and only through its per-encoding subpath, so a run that
// never counts tokens never pays its ~0.5 s load and 2.4 MB of ranks. Chosen over js-tiktoken
// (6–20× slower), llama3-tokenizer-js (exact for Llama 3 only, 6× slower) and the Hugging Face
// packages (need tokenizer.json from the Hub at run time); see workloads/FORMATS.md. o200k is an
// approximation of the served model's tokenizer: within about 10 % of Llama 3 and Qwen on CJK and
// English. When the import fails, the CJK-aware estimate (core/tokens.ts) is used with a note.
import { ESTIMATE, type TokenCounter } from '../core/tokens.ts';

export type TokenizerChoice = 'o200k' | 'estimate';
export const TOKENIZER_CHOICES: readonly TokenizerChoice[] = ['o200k', 'estimate'];

export const O200K_NAME = 'o200k_base (gpt-tokenizer)';

let o200k: Promise<TokenCounter> | null = null;

/** The counter for a choice; `note` says when the tokenizer could not be loaded and the estimate is used instead. */
export async function loadTokenCounter(choice: TokenizerChoice): Promise<{ counter: TokenCounter; note: string | null }> {
  if (choice === 'estimate') return { counter: ESTIMATE, note: null };
  try {
    o200k ??= import('gpt-tokenizer/encoding/o200k_base').then((m) => ({
      name: O200K_NAME,
      count: (text: string) => m.countTokens(text),
    }));
    return { counter: await o200k, note: null };
  } catch (error) {
    o200k = null;
    return {
      counter: ESTIMATE,
      note: `the o200k tokenizer (gpt-tokenizer) could not be loaded (${(error as Error).message}); token counts are estimated`,
    };
  }
}
