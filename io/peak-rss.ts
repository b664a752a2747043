// Peak resident memory of this process, for the memory bounds of benchmarks and tests.
// VmHWM of /proc/self/status is this process image's own high-water mark. getrusage's maxRSS is not:
// Linux carries it across fork + exec, so a child started by a large parent reports the parent's peak
// (a `load` child of a 492 MB ava worker reported 492 MB). Elsewhere, maxRSS is the best there is.
import { readFileSync } from 'node:fs';

export function peakRssMiB(): number {
  try {
    const line = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync('/proc/self/status', 'utf8'));
    if (line) return Number(line[1]) / 1024;
  } catch {
    // no procfs
  }
  return process.resourceUsage().maxRSS / 1024;
}
