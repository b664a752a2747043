// The router of a multi-worker deployment: which worker serves a request. Dynamo's frontend routes
// round-robin, at random, or KV-aware; KV-aware routing scores each worker by the prefill it would
// still have to compute (prompt blocks not in its cache) plus its current decode load, and sends
// the request to the cheapest (ai-dynamo/dynamo docs, "KV cache routing": cost = overlap-adjusted
// prefill blocks + weighted active decode blocks). Round-robin ignores the caches, so a follow-up
// turn of a conversation lands away from the worker holding its history as often as not.
// round_robin is Dynamo's default (`--router-mode` defaults to round-robin, docs.nvidia.com/dynamo
// v1.2.0 "Router Guide"); in a disaggregated graph the prefill router picks prefill workers by overlap
// without active-block tracking (v1.3.0 "Disaggregated Serving").
import type { SimEngine } from './engine.ts';

export const ROUTER_KINDS = ['round_robin', 'kv_aware'] as const;
export type RouterKind = (typeof ROUTER_KINDS)[number];

export interface Router {
  readonly kind: RouterKind;
  /** Index of the worker for a prompt. */
  pick(tokens: readonly string[], workers: readonly SimEngine[]): number;
}

export function createRouter(kind: RouterKind, loadWeight = 1): Router {
  let next = 0;
  if (kind === 'round_robin') {
    return {
      kind,
      pick: (_tokens, workers) => {
        const i = next % workers.length;
        next++;
        return i;
      },
    };
  }
  return {
    kind,
    pick: (tokens, workers) => {
      let best = 0;
      let bestCost = Infinity;
      const start = next++ % workers.length; // ties broken round-robin
      for (let k = 0; k < workers.length; k++) {
        const i = (start + k) % workers.length;
        const w = workers[i] as SimEngine;
        const promptBlocks = Math.ceil(tokens.length / w.cache.blockTokens);
        const overlap = w.cache.peekLeadingBlocks(tokens);
        const { active, total } = w.kvBlocks();
        // cost = prefill blocks to compute + loadWeight × decode load (active blocks, in units of the prompt's blocks at full cache)
        const cost = promptBlocks - overlap + loadWeight * promptBlocks * (total > 0 ? active / total : 0);
        if (cost < bestCost) {
          bestCost = cost;
          best = i;
        }
      }
      return best;
    },
  };
}
