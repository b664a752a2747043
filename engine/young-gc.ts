// Young-generation collections at moments the sender chooses. V8 scavenges when the new space is
// full, wherever the sender happens to be: measured at 100 paired QPS with 2 senders, a 1-3 ms
// scavenge every ~150 ms per sender, so ~1 % of due instants fell inside one and p99 send lag was the
// scavenge time. The sender instead asks for a scavenge just after it has sent, when the next due
// instant is far enough away and the new space is past YOUNG_GC_FILL: the same collections (their
// cost follows the surviving in-flight objects, not how full the space is), taken in the gaps.
import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

type Gc = (options: { type: 'minor' | 'major'; execution: 'sync' | 'async' }) => void;

/**
 * Young-generation cap of a sender thread of a streamed (trace/Azure) workload (Worker
 * resourceLimits.maxYoungGenerationSizeMb). V8 grows a thread's new space while many young objects
 * survive, and a sender's in-flight requests do: it reached 128 MB per sender (24k-line
 * Mooncake-shaped trace, 2 senders, 2,000 requests at 200/s: 653 MiB peak RSS of the load process;
 * 445-460 MiB with 32, 392 MiB with 16). Only the young generation is capped: objects that outlive it
 * are promoted, never refused, so no run can fail on this limit (an old-generation cap could end a
 * sender, and its requests in flight, on a large legitimate run). It is not applied to openai and
 * ShareGPT workloads: their new space grows too (128 MB at 300 QPS of the shipped sample, 363 MiB
 * RSS against 268 MiB capped), but the send-lag figures of bench/engine.ts were measured with V8's
 * own sizing, and a smaller new space means more frequent scavenges (the cost of each follows the
 * survivors); that trade is worth it where ~50 KB bodies make memory the limit.
 */
export const SENDER_YOUNG_GENERATION_MB = 32;

/** Share of the new space in use above which a scavenge is taken early (V8 itself waits for ~100 %). */
export const YOUNG_GC_FILL = 0.5;
/** A scavenge is only taken when the next send is at least this far away (longest ones seen: ~5 ms). */
export const YOUNG_GC_MIN_GAP_NS = 8_000_000n;

let cached: Gc | null | undefined;

/** V8's gc() without --expose-gc on the command line (exposed for one throwaway context, then hidden again). */
function gcFunction(): Gc | null {
  if (cached !== undefined) return cached;
  try {
    setFlagsFromString('--expose-gc');
    cached = runInNewContext('gc') as Gc;
  } catch {
    cached = null; // a runtime without it: V8 keeps scheduling scavenges itself
  } finally {
    setFlagsFromString('--no-expose-gc');
  }
  return cached;
}

/** The new space's fill (0-1) of this thread's heap. */
function youngFill(): number {
  for (const space of getHeapSpaceStatistics()) {
    if (space.space_name === 'new_space')
      return space.space_size > 0 ? space.space_used_size / (space.space_used_size + space.space_available_size) : 0;
  }
  return 0;
}

export class YoungGc {
  readonly #gc = gcFunction();

  /** Call right after sending, with the time left until the next due instant: scavenges now if that is worth it. */
  maybeCollect(gapNs: bigint): void {
    if (this.#gc === null || gapNs < YOUNG_GC_MIN_GAP_NS || youngFill() < YOUNG_GC_FILL) return;
    this.#gc({ type: 'minor', execution: 'sync' });
  }
}
