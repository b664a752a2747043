// Shared helpers of the load / engine / scrape tests: in-process simulated endpoints on port 0 (closed
// at teardown), temporary run folders, a loopback port nothing listens on, and stdout capture.
import { mkdtempSync, readdirSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSim, type SimOptions, type SimServer } from '../../sim/server.ts';

/** A fresh temporary folder, e.g. tempDir('sb-load-'). */
export const tempDir = (prefix: string): string => mkdtempSync(join(tmpdir(), prefix));

/** A simulated endpoint on 127.0.0.1 (vllm-single-node, 20× faster than real time unless told), closed when the test ends. */
export async function startTestSim(t: { teardown(fn: () => Promise<void>): void }, options: Partial<SimOptions> = {}): Promise<SimServer> {
  const server = await startSim({ profile: 'vllm-single-node', port: 0, timeScale: 0.05, ...options });
  t.teardown(() => server.close());
  return server;
}

/** A loopback port that was free a moment ago and has no listener: connecting to it is refused. */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Every file under dir, recursively. */
export function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

/** Runs fn while collecting what it writes to one of the process's output streams. */
async function capturing<T>(stream: NodeJS.WriteStream, fn: () => Promise<T>): Promise<{ value: T; text: string }> {
  const write = stream.write;
  let text = '';
  stream.write = (chunk: string | Uint8Array) => {
    text += String(chunk);
    return true;
  };
  try {
    return { value: await fn(), text };
  } finally {
    stream.write = write;
  }
}

/** Runs fn while collecting what it writes to process.stdout (the command under test prints there). */
export async function capturingStdout<T>(fn: () => Promise<T>): Promise<{ value: T; stdout: string }> {
  const { value, text } = await capturing(process.stdout, fn);
  return { value, stdout: text };
}

/** Runs fn while collecting what it writes to process.stderr (progress and diagnostics). */
export async function capturingStderr<T>(fn: () => Promise<T>): Promise<{ value: T; stderr: string }> {
  const { value, text } = await capturing(process.stderr, fn);
  return { value, stderr: text };
}
