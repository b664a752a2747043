// The two built-in profiles, started through the CLI as the harness does, reproduce the migration
// guide's TTFT figures at 100 QPS (open loop, client-side TTFT = send → first non-empty content chunk).
import test from 'ava';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { percentile } from '../../analysis/stats/stats.ts';
import { openLoop, sampleWorkloadRequests } from '../../sim/calibrate.ts';

const MAIN = fileURLToPath(new URL('../../cli/main.ts', import.meta.url));

const TARGETS = {
  'vllm-single-node': { p50: 85, p99: 420 },
  'dynamo-disaggregated': { p50: 52, p99: 185 },
} as const;

for (const [profile, target] of Object.entries(TARGETS)) {
  test.serial(
    `${profile}: TTFT P50/P99 at 100 QPS within ±15 % of ${target.p50} / ${target.p99} ms; the CLI prints its ready line and exits cleanly on SIGTERM`,
    async (t) => {
      const child = spawn(process.execPath, [MAIN, 'sim', '--profile', profile, '--port', '0', '--seed', '1'], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      t.teardown(() => {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL'); // a failed assertion must not leave it running
      });
      let stderr = '';
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      const lines = createInterface({ input: child.stdout });
      const [line] = (await once(lines, 'line')) as [string];
      const ready = JSON.parse(line) as { event: string; url: string; profile: string; model: string };
      t.is(ready.event, 'listening');
      t.is(ready.profile, profile);
      t.regex(ready.url, /^http:\/\/127\.0\.0\.1:\d+$/);
      const extra: string[] = [];
      lines.on('line', (l) => extra.push(l));

      // 4.5 s at 100 QPS of the shipped sample workload; the first second warms the server up to its steady load.
      // The client closes each stream at its first content chunk (see openLoop: the simulated load is unchanged).
      const timings = await openLoop(ready.url, sampleWorkloadRequests(450), 100, 100, false);
      t.true(timings.every((r) => r.status === 200));
      const ttft = timings.map((r) => r.ttftMs).filter((v): v is number => v !== null);
      t.is(ttft.length, 350);
      const p50 = percentile(ttft, 50);
      const p99 = percentile(ttft, 99);
      t.log(`${profile}: TTFT P50 ${p50.toFixed(1)} ms, P99 ${p99.toFixed(1)} ms`);
      t.true(Math.abs(p50 / target.p50 - 1) <= 0.15, `P50 ${p50.toFixed(1)} ms vs ${target.p50}`);
      t.true(Math.abs(p99 / target.p99 - 1) <= 0.15, `P99 ${p99.toFixed(1)} ms vs ${target.p99}`);

      child.kill('SIGTERM');
      const [code] = (await once(child, 'exit')) as [number | null];
      t.is(code, 0, stderr);
      t.deepEqual(extra, [], 'only the ready line goes to stdout');
      t.regex(stderr, /SIGTERM, closing/);
    },
  );
}
