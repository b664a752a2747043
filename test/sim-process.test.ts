// The sim child processes the load command starts must not outlive it, even when it is killed
// with SIGKILL (no exit hook runs then): the sim watches the pipe on its stdin.
import test from 'ava';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const SIM_PROCESS = fileURLToPath(new URL('../sim/process.ts', import.meta.url));

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

test('a sim started by startSimProcess exits when its parent is killed with SIGKILL', async (t) => {
  // The parent: starts one sim, prints the sim's pid and url, then waits to be killed.
  const parent = spawn(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `
    const { startSimProcess } = await import(${JSON.stringify(SIM_PROCESS)});
    const sim = await startSimProcess('vllm-single-node', ['--time-scale', '0']);
    console.log(JSON.stringify({ pid: sim.pid, url: sim.url }));
    setInterval(() => {}, 1000);
  `,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  t.teardown(() => {
    parent.kill('SIGKILL');
  });
  const [line] = (await once(createInterface({ input: parent.stdout }), 'line')) as [string];
  const { pid, url } = JSON.parse(line) as { pid: number; url: string };
  t.teardown(() => {
    if (alive(pid)) process.kill(pid, 'SIGKILL');
  });
  t.is((await fetch(`${url}/health`)).status, 200, 'the sim serves while its parent lives');

  parent.kill('SIGKILL');
  const deadline = Date.now() + 10_000;
  while (alive(pid) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
  t.false(alive(pid), 'the sim exited after its parent was killed');
});
