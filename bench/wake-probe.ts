// The machine's own wake-up floor: a process that does nothing but wake at evenly spaced due
// instants (futex sleep until 0.2 ms before, then a spin) and notes how late it got the CPU. No
// sockets, no parsing, no heap to collect: its lateness is what any sending thread on this machine
// pays under the same load, whatever the engine's design (e.g. a sender split from its readers).
// Bench-only. Run as a child process (`node bench/wake-probe.ts RATE SECONDS` prints one JSON line)
// so it shares nothing with the process it is measured next to.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { percentile } from '../analysis/stats/stats.ts';
import { monoNow } from '../engine/pacer.ts';

export interface WakeLateness {
  wakeUps: number;
  p50Ms: number;
  p99Ms: number;
  p999Ms: number;
  maxMs: number;
}

/** Sleeps in Atomics.wait (a futex) until this long before each due instant, then spins. */
const SPIN_NS = 200_000n;

function probe(rate: number, seconds: number): WakeLateness {
  const cell = new Int32Array(new SharedArrayBuffer(4));
  const periodNs = BigInt(Math.round(1e9 / rate));
  const late: number[] = [];
  let due = monoNow() + 50_000_000n;
  const end = due + BigInt(Math.round(seconds * 1e9));
  for (; due < end; due += periodNs) {
    for (;;) {
      const sleepNs = due - SPIN_NS - monoNow();
      if (sleepNs <= 0n) break;
      Atomics.wait(cell, 0, 0, Number(sleepNs) / 1e6);
    }
    let now = monoNow();
    while (now < due) now = monoNow();
    late.push(Number(now - due) / 1e6);
  }
  return {
    wakeUps: late.length,
    p50Ms: percentile(late, 50),
    p99Ms: percentile(late, 99),
    p999Ms: percentile(late, 99.9),
    maxMs: Math.max(...late),
  };
}

/** Runs the probe in its own Node process for `seconds` at `rate` wake-ups per second. */
export function runWakeProbe(rate: number, seconds: number): Promise<WakeLateness> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [fileURLToPath(import.meta.url), String(rate), String(seconds)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(JSON.parse(out) as WakeLateness) : reject(new Error(`wake probe exited ${code}`))));
  });
}

if (import.meta.main) {
  const [rate, seconds] = process.argv.slice(2).map(Number);
  process.stdout.write(JSON.stringify(probe(rate ?? 300, seconds ?? 4)) + '\n');
}
