// The built-in simulated endpoints as child processes (`node sim/main.ts ...`), so the server
// never shares the engine's event loop. Waits for the sim's one-line JSON ready signal on stdout.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';

/**
 * One V8 helper thread instead of Node's default four, as `npm run load` runs the engine (package.json):
 * the helpers run garbage collection next to the JavaScript thread, and on a small machine shared
 * with the load engine they take the cores its senders need at their due instants. (Measured for the
 * engine's own flag on 2 cores: p99 send lag at 100 QPS 1.1-1.4 ms with four, 0.4-0.8 ms with one; the
 * sims ran with one helper thread in both series, so their share of that gain was not measured apart.)
 */
export const SIM_NODE_FLAGS = ['--v8-pool-size=1'];

export interface SimProcess {
  url: string;
  /** Prometheus targets of the simulated deployment (frontend, workers, DCGM with its selector), as the metrics flags take them. */
  metrics: string[];
  model: string;
  profile: string;
  pid: number;
  close(): Promise<void>;
}

const SIM_MAIN = fileURLToPath(new URL('./main.ts', import.meta.url));
const READY_TIMEOUT_MS = 20_000;
const live = new Set<ChildProcess>();
let exitHookInstalled = false;

/**
 * Starts `sim --profile <profile> --port 0 [args]` and resolves once it prints its listening line.
 * The child gets its own process group, so a terminal's Ctrl-C reaches only the load command, which
 * then drains its in-flight requests against a still-running sim and stops the sim itself.
 */
export function startSimProcess(profile: string, args: readonly string[] = []): Promise<SimProcess> {
  // Its stdin is a pipe from this process: if this process dies, even by kill -9, the pipe closes and
  // the sim exits (--exit-with-stdin) instead of outliving it.
  const child = spawn(process.execPath, [...SIM_NODE_FLAGS, SIM_MAIN, '--profile', profile, '--port', '0', '--exit-with-stdin', ...args], {
    stdio: ['pipe', 'pipe', 'pipe'],
    detached: true,
  });
  live.add(child);
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', () => {
      for (const c of live) c.kill('SIGKILL');
    });
  }
  let stderrTail = '';
  child.stderr?.setEncoding('utf8').on('data', (text: string) => {
    stderrTail = (stderrTail + text).slice(-2000);
  });
  const close = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
    await exited;
    clearTimeout(timer);
    live.delete(child);
  };
  return new Promise((resolve, reject) => {
    const fail = (why: string) => {
      clearTimeout(timer);
      void close();
      reject(new Error(`simulated endpoint (${profile}) ${why}${stderrTail ? `:\n${stderrTail.trim()}` : ''}`));
    };
    const timer = setTimeout(() => fail(`printed no ready line within ${READY_TIMEOUT_MS / 1000} s`), READY_TIMEOUT_MS);
    child.once('exit', (code, signal) => fail(`exited (${signal ?? `code ${code}`}) before it was ready`));
    child.once('error', (error) => fail(`could not start: ${error.message}`));
    const lines = createInterface({ input: child.stdout });
    lines.on('line', (line) => {
      let ready: { event?: string; url?: string; model?: string; profile?: string; metrics?: string[] };
      try {
        ready = JSON.parse(line) as typeof ready;
      } catch {
        return;
      }
      if (ready.event !== 'listening' || typeof ready.url !== 'string') return;
      clearTimeout(timer);
      child.removeAllListeners('exit');
      child.once('exit', () => live.delete(child));
      lines.close();
      child.stdout?.resume();
      resolve({
        url: ready.url,
        metrics: Array.isArray(ready.metrics) ? ready.metrics : [`${ready.url}/metrics`],
        model: ready.model ?? '',
        profile: ready.profile ?? profile,
        pid: child.pid ?? 0,
        close,
      });
    });
  });
}

/**
 * The built-in baseline and candidate deployments of the load command, started together: each
 * arm's URL and its Prometheus targets (a single vLLM's /metrics; a Dynamo profile's frontend, two
 * worker metrics ports and a DCGM endpoint with its selector).
 */
export async function startSimTopology(
  profiles: { baseline: string; candidate: string },
  args: readonly string[] = [],
): Promise<{ baseline: SimProcess; candidate: SimProcess; close(): Promise<void> }> {
  const [b, c] = await Promise.allSettled([startSimProcess(profiles.baseline, args), startSimProcess(profiles.candidate, args)]);
  if (b.status === 'rejected' || c.status === 'rejected') {
    if (b.status === 'fulfilled') await b.value.close();
    if (c.status === 'fulfilled') await c.value.close();
    throw (b.status === 'rejected' ? b.reason : (c as PromiseRejectedResult).reason) as Error;
  }
  return { baseline: b.value, candidate: c.value, close: async () => void (await Promise.all([b.value.close(), c.value.close()])) };
}
