// The k6 script's clock. k6's JavaScript runtime (Sobek) documents only Date.now(): wall-clock
// milliseconds, integer, and not monotonic (an NTP step moves it). k6 does not document a global
// `performance`; when the runtime offers one anyway (the Node test doubles do) it is used for
// sub-millisecond, monotonic readings anchored to Date.now() once per VU.
// Records hold integer ns computed from these ms readings; `resolution_ns` says what they are worth.
// No k6 or Node imports: the same code runs under both.

export interface Clock {
  /** 'performance.now' (monotonic, sub-ms) or 'Date.now' (wall clock, 1 ms steps). */
  readonly source: 'performance.now' | 'Date.now';
  /** Finest step the readings can show, ns (1e6 for Date.now). */
  readonly resolution_ns: number;
  /** Unix time in ms, fractional when the source allows. */
  nowUnixMs(): number;
}

interface PerformanceLike {
  now(): number;
}

export function createClock(global: { performance?: unknown } = globalThis): Clock {
  const perf = global.performance as PerformanceLike | undefined;
  if (perf !== undefined && perf !== null && typeof perf.now === 'function') {
    const wallAtStart = Date.now();
    const perfAtStart = perf.now();
    return {
      source: 'performance.now',
      resolution_ns: 1000,
      nowUnixMs: () => wallAtStart + (perf.now() - perfAtStart),
    };
  }
  return { source: 'Date.now', resolution_ns: 1e6, nowUnixMs: () => Date.now() };
}

/**
 * ns since `originUnixMs`, never negative and never before `notBefore` (keeps a record's
 * timestamps ordered if the wall clock steps back mid-request).
 */
export function nsSince(clock: Clock, originUnixMs: number, notBefore = 0): number {
  const ns = Math.round((clock.nowUnixMs() - originUnixMs) * 1e6);
  return ns < notBefore ? notBefore : ns;
}

/**
 * nsSince(clock, originUnixMs, notBefore) as one closure, for the per-event path (each call through
 * an object costs in k6's runtime). For Date.now the readings are whole ms, so (ms − origin) × 1e6 is
 * already the integer nsSince rounds to.
 */
export function nsClock(clock: Clock, originUnixMs: number): (notBefore: number) => number {
  if (clock.source === 'Date.now')
    return (notBefore) => {
      const ns = (Date.now() - originUnixMs) * 1e6;
      return ns < notBefore ? notBefore : ns;
    };
  return (notBefore) => nsSince(clock, originUnixMs, notBefore);
}
