// The built-in profiles, started through the CLI as the harness does, give over HTTP the TTFT that the
// same engines give in virtual time for the same requests (open loop at 100 QPS, client-side TTFT =
// send → first non-empty content chunk). The profiles are calibrated to the migration guide in virtual
// time on the conversation workload (test/sim-profiles.test.ts); this checks the HTTP layer adds no
// more than the tolerance. The shipped sample workload is ~97 % prefix-cached, so its TTFT is below
// the guide's (vllm-single-node ≈ 50 / 240 ms).
import test from 'ava';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { percentile } from '../../analysis/stats/stats.ts';
import { openLoop, sampleWorkloadChat, sampleWorkloadRequests } from '../../sim/calibrate.ts';
import { PROFILE_NAMES, PROFILES } from '../../sim/profiles.ts';
import { runVirtual } from '../../sim/virtual.ts';

const MAIN = fileURLToPath(new URL('../../cli/main.ts', import.meta.url));

for (const profile of PROFILE_NAMES) {
  const virtual = runVirtual(PROFILES[profile], sampleWorkloadChat(450), { qps: 100, seed: 1, skipFirst: 100 });
  const target = { p50: Math.round(virtual.ttftP50Ms), p99: Math.round(virtual.ttftP99Ms) };
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
