// Seeded randomness, identical under Node and k6: every random choice in a run derives from the
// run's seed (saved in run.json), so a run can be replayed exactly.

/** mulberry32: a small, fast 32-bit PRNG; returns a function giving floats in [0, 1). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** FNV-1a 32-bit hash of a string: derives stable sub-seeds ("seed + purpose") and deterministic choices. */
export function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** A generator for one purpose, independent of the order other purposes draw in. */
export function derivedRandom(seed: number, purpose: string): () => number {
  return seededRandom(hash32(`${seed}:${purpose}`));
}

/** Exponential variate with the given mean (inter-arrival gaps of a Poisson process). */
export function exponential(random: () => number, mean: number): number {
  return -Math.log(1 - random()) * mean;
}

/** In-place Fisher–Yates shuffle. */
export function shuffle<T>(items: T[], random: () => number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [items[i], items[j]] = [items[j] as T, items[i] as T];
  }
  return items;
}
