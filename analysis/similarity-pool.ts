// Similarity off the reading thread: pairs are batched and sent to worker threads while the main
// thread keeps parsing records. Small runs never start a worker (the last partial batch is
// computed inline). Node-specific: the one part of analysis/ that is not pure.
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { Comparison } from './collect.ts';
import { similarityRatio } from './similarity.ts';

export type RatioHandler = (comparison: Comparison, index: number, ratio: number) => void;

interface Batch {
  comparison: Comparison[];
  index: number[];
  a: string[];
  b: string[];
  chars: number;
}

const emptyBatch = (): Batch => ({ comparison: [], index: [], a: [], b: [], chars: 0 });

export class SimilarityPool {
  readonly #onRatio: RatioHandler;
  readonly #threads: number;
  readonly #batchChars: number;
  #workers: Worker[] = [];
  #next = 0;
  #batch = emptyBatch();
  #inFlight = new Map<number, Batch>();
  #ids = 0;
  #failure: Error | null = null;
  #idle: (() => void) | null = null;
  pairs = 0;

  /** threads: worker count (default: cores − 1, at least 1; the main thread is busy reading). */
  constructor(onRatio: RatioHandler, options: { threads?: number; batchChars?: number } = {}) {
    this.#onRatio = onRatio;
    this.#threads = options.threads ?? Math.max(1, availableParallelism() - 1);
    this.#batchChars = options.batchChars ?? 2_000_000;
  }

  submit = (comparison: Comparison, index: number, a: string, b: string): void => {
    this.pairs++;
    if (a === b) {
      this.#onRatio(comparison, index, 1.0); // identical (or both empty): difflib says 1.0
      return;
    }
    const batch = this.#batch;
    batch.comparison.push(comparison);
    batch.index.push(index);
    batch.a.push(a);
    batch.b.push(b);
    batch.chars += a.length + b.length;
    if (batch.chars >= this.#batchChars) this.#dispatch();
  };

  #dispatch(): void {
    const batch = this.#batch;
    this.#batch = emptyBatch();
    if (this.#workers.length === 0) {
      for (let i = 0; i < this.#threads; i++) {
        const worker = new Worker(new URL('./similarity-worker.ts', import.meta.url));
        worker.on('message', (m: { id: number; ratios: Float64Array }) => this.#receive(m.id, m.ratios));
        worker.on('error', (error) => this.#fail(error));
        this.#workers.push(worker);
      }
    }
    const id = this.#ids++;
    this.#inFlight.set(id, batch);
    const worker = this.#workers[this.#next++ % this.#workers.length] as Worker;
    worker.postMessage({ id, a: batch.a, b: batch.b });
  }

  #receive(id: number, ratios: Float64Array): void {
    const batch = this.#inFlight.get(id);
    this.#inFlight.delete(id);
    if (batch) for (let i = 0; i < ratios.length; i++) this.#onRatio(batch.comparison[i] as Comparison, batch.index[i] as number, ratios[i] as number);
    if (this.#inFlight.size === 0) this.#idle?.();
  }

  #fail(error: Error): void {
    this.#failure = error;
    this.#idle?.();
  }

  /** Computes what is left (inline), waits for the workers, stops them. */
  async finish(): Promise<void> {
    const rest = this.#batch;
    this.#batch = emptyBatch();
    for (let i = 0; i < rest.a.length; i++) this.#onRatio(rest.comparison[i] as Comparison, rest.index[i] as number, similarityRatio(rest.a[i] as string, rest.b[i] as string));
    if (this.#inFlight.size > 0 && this.#failure === null) await new Promise<void>((resolve) => (this.#idle = resolve));
    await Promise.all(this.#workers.map((w) => w.terminate()));
    this.#workers = [];
    if (this.#failure) throw this.#failure;
  }
}
