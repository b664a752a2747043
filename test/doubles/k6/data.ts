// Double of k6/data: SharedArray builds its array once per k6 instance and hands out copies
// of JSON data (k6 serialises the callback's result).
const arrays = new Map<string, unknown[]>();

export function resetSharedArrays(): void {
  arrays.clear();
}

export class SharedArray {
  constructor(name: string, build: () => unknown[]) {
    let array = arrays.get(name);
    if (array === undefined) {
      array = JSON.parse(JSON.stringify(build())) as unknown[];
      arrays.set(name, array);
    }
    return Object.freeze(array);
  }
}
