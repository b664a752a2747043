// Automatic prefix caching as vLLM does it: the prompt is cut into fixed-size blocks, each block is
// identified by a hash chained over all blocks before it, and a request reuses the longest run of
// leading blocks already in the cache. Least recently used blocks are evicted.
import { hash32 } from '../core/random.ts';

export class PrefixCache {
  readonly blockTokens: number;
  /** Blocks the cache may hold; set by the engine as the KV pool's free share changes (evicts at the next insert). */
  capacityBlocks: number;
  /** Block hash → present; Map order is recency (oldest first). */
  private readonly blocks = new Map<number, true>();

  constructor(blockTokens: number, capacityBlocks: number) {
    if (!Number.isInteger(blockTokens) || blockTokens < 1) throw new RangeError('blockTokens must be a positive integer');
    this.blockTokens = blockTokens;
    this.capacityBlocks = capacityBlocks;
  }

  /**
   * Looks the prompt up, then caches all its full blocks. Returns the tokens served from cache:
   * the leading cached blocks, never the whole prompt (the last token is always computed, as in vLLM).
   */
  lookupAndInsert(tokens: readonly string[]): number {
    const full = Math.floor(tokens.length / this.blockTokens);
    let hits = 0;
    let leading = true;
    let previous = 0;
    for (let b = 0; b < full; b++) {
      const start = b * this.blockTokens;
      const h = hash32(previous + '|' + tokens.slice(start, start + this.blockTokens).join(' '));
      if (this.blocks.has(h)) {
        this.blocks.delete(h); // refresh recency
        if (leading) hits++;
      } else {
        leading = false;
      }
      this.blocks.set(h, true);
      previous = h;
    }
    while (this.blocks.size > this.capacityBlocks) {
      const oldest = this.blocks.keys().next().value as number;
      this.blocks.delete(oldest);
    }
    const maxCached = Math.floor((tokens.length - 1) / this.blockTokens) * this.blockTokens;
    return Math.min(hits * this.blockTokens, Math.max(0, maxCached));
  }

  /**
   * Leading blocks of the prompt already cached, without touching recency (what a KV-aware router
   * asks every worker before it picks one).
   */
  peekLeadingBlocks(tokens: readonly string[]): number {
    const full = Math.floor(tokens.length / this.blockTokens);
    let previous = 0;
    for (let b = 0; b < full; b++) {
      const start = b * this.blockTokens;
      const h = hash32(previous + '|' + tokens.slice(start, start + this.blockTokens).join(' '));
      if (!this.blocks.has(h)) return b;
      previous = h;
    }
    return full;
  }

  get size(): number {
    return this.blocks.size;
  }
}
