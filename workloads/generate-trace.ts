// A Mooncake-shaped trace for benches and tests (kvcache-ai/Mooncake FAST25-release/README.md:
// "timestamp: Relative request arrival time in milliseconds", input_length/output_length in tokens,
// "hash_ids: Remapped prefix block hashes. The block size is 512 tokens"). The shape follows the
// tool-and-agent trace (23,608 requests, average input 8,596 and output 182 tokens): every session
// opens with the shared system block 0; about 1/3 of requests start a session, the rest continue a
// recent one, sharing its hash ids and adding fresh blocks; input lengths are lognormal (median
// ~6k, mean ~8.5k tokens, at most 128k); outputs 1..1000 (mean ~180); timestamps rise in bursts
// (a step of 1–3 s, about 4 requests per step). Seeded: the same (lines, seed) gives the same file.
import { writeFileSync } from 'node:fs';
import { seededRandom } from '../core/random.ts';

const BLOCK = 512;

export function generateMooncakeLikeTrace(lines: number, seed = 1): string {
  const random = seededRandom(seed);
  const normal = () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  const out: string[] = [];
  const sessions: number[][] = [];
  let nextHash = 1; // 0 is the system prompt every session shares
  let t = 0;
  for (let i = 0; i < lines; i++) {
    if (i > 0 && random() < 0.25) t += 1000 + Math.floor(random() * 2000);
    const input = Math.min(128_000, Math.max(200, Math.round(Math.exp(Math.log(6000) + 0.8346 * normal()))));
    const needed = Math.ceil(input / BLOCK);
    const follow = sessions.length > 0 && random() >= 1 / 3;
    let hashIds: number[];
    if (follow) {
      const s = sessions.length - 1 - Math.floor(random() * Math.min(sessions.length, 50));
      const shared = sessions[s]!.slice(0, needed - 1);
      hashIds = [...shared];
      while (hashIds.length < needed) hashIds.push(nextHash++);
      sessions[s] = hashIds;
    } else {
      hashIds = [0];
      while (hashIds.length < needed) hashIds.push(nextHash++);
      sessions.push(hashIds);
    }
    const output = Math.min(1000, Math.max(1, Math.round(-Math.log(1 - random()) * 180)));
    out.push(JSON.stringify({ timestamp: t, input_length: input, output_length: output, hash_ids: hashIds }));
  }
  return out.join('\n') + '\n';
}

/** Writes the trace to a file; returns its size in bytes. */
export function writeMooncakeLikeTrace(path: string, lines: number, seed = 1): number {
  const text = generateMooncakeLikeTrace(lines, seed);
  writeFileSync(path, text);
  return Buffer.byteLength(text);
}
