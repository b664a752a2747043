// Double of k6/metrics: records every add with the tags k6 would attach (the scenario's tags,
// i.e. `arm`, plus the add's own), so tests can evaluate thresholds as k6 would.
import { state } from './execution.ts';

export interface Sample {
  value: number;
  tags: Record<string, string>;
}
export const samples = new Map<string, { type: 'trend' | 'rate' | 'counter'; isTime: boolean; values: Sample[] }>();

class Metric {
  readonly name: string;
  constructor(name: string, type: 'trend' | 'rate' | 'counter', isTime = false) {
    this.name = name;
    if (!samples.has(name)) samples.set(name, { type, isTime, values: [] });
  }
  add(value: number | boolean, tags?: Record<string, string>): void {
    samples.get(this.name)!.values.push({ value: Number(value), tags: { ...state.tags, ...tags } });
  }
}

export class Trend extends Metric {
  constructor(name: string, isTime = false) {
    super(name, 'trend', isTime);
  }
}
export class Rate extends Metric {
  constructor(name: string) {
    super(name, 'rate');
  }
}
export class Counter extends Metric {
  constructor(name: string) {
    super(name, 'counter');
  }
}
