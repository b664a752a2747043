// Double of k6's root module: sleep(seconds) blocks the VU, as k6's does (the doubles run one VU per thread).
export function sleep(seconds: number): void {
  if (seconds > 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, seconds * 1000);
}
