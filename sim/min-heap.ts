// A binary min-heap of numbers: the simulated end times of requests in flight, so the load a new
// request sees is the simulated schedule's, not inflated when the simulator's own event loop lags.
export class MinHeap {
  private readonly items: number[] = [];

  get size(): number {
    return this.items.length;
  }

  push(value: number): void {
    const a = this.items;
    a.push(value);
    let i = a.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if ((a[parent] as number) <= value) break;
      a[i] = a[parent] as number;
      i = parent;
    }
    a[i] = value;
  }

  /** Removes every value ≤ limit and returns how many remain. */
  dropUpTo(limit: number): number {
    const a = this.items;
    while (a.length > 0 && (a[0] as number) <= limit) {
      const last = a.pop() as number;
      if (a.length === 0) break;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= a.length) break;
        const r = l + 1;
        const c = r < a.length && (a[r] as number) < (a[l] as number) ? r : l;
        if ((a[c] as number) >= last) break;
        a[i] = a[c] as number;
        i = c;
      }
      a[i] = last;
    }
    return a.length;
  }
}
