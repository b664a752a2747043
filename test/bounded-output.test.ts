// Issue 18 items 5 and 6: memory does not follow response size (--max-output-bytes; one SSE line
// capped), n > 1 refused when the workload loads, and the model a response names is recorded.
// The memory checks run `load` in a child process and assert only its peak RSS (a bound on memory,
// not on time).
import test from 'ava';
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { readRecords } from '../io/records-file.ts';
import { tempDir } from './support/load-helpers.ts';
import { runCli } from './support/run-cli.ts';

const execFileP = promisify(execFile);
const CHILD = new URL('./support/load-child.ts', import.meta.url).pathname;
const MB = 1 << 20;

/** A server answering every completion with `write(res)`; models for preflight. */
async function server(
  t: { teardown(fn: () => Promise<void> | void): void },
  write: (res: ServerResponse) => Promise<void>,
): Promise<string> {
  const s = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      if (req.method === 'GET') return void res.writeHead(200, { 'content-type': 'application/json' }).end('{"data":[]}');
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      write(res).catch(() => res.destroy());
    });
  });
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    s.closeAllConnections();
    s.close();
  });
  return `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
}

async function put(res: ServerResponse, data: string | Buffer): Promise<void> {
  if (!res.write(data)) await once(res, 'drain');
}

const workload = (lines: object[]) => {
  const file = join(tempDir('sb-bounded-'), 'workload.jsonl');
  writeFileSync(file, lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
  return file;
};
const ONE = [{ id: 'big', messages: [{ role: 'user', content: 'say a lot' }] }];

async function loadInChild(url: string, out: string): Promise<{ code: number; maxRssMb: number }> {
  const args = ['--baseline', url, '--candidate', url, '--workload', workload(ONE), '--requests', '1', '--qps', '1'];
  const flags = ['--workers', '0', '--no-preflight', '--no-progress', '--no-analyze', '--timeout', '120', '--out', out];
  const { stdout } = await execFileP(process.execPath, [CHILD, ...args, ...flags], { maxBuffer: 1 << 20 });
  return JSON.parse(stdout.trim().split('\n').at(-1) as string) as { code: number; maxRssMb: number };
}

test('a 100 MB streamed answer: load stays under 300 MB RSS, keeps 1 MiB of text (truncated) and times every chunk', async (t) => {
  const piece = 'x'.repeat(64 * 1024);
  const event = Buffer.from(
    `data: ${JSON.stringify({ model: 'served-model', choices: [{ index: 0, delta: { content: piece }, finish_reason: null }] })}\n\n`,
  );
  const chunks = 1600; // 1600 × 64 KiB = 100 MiB of answer per arm
  const url = await server(t, async (res) => {
    for (let k = 0; k < chunks; k++) await put(res, event);
    res.end(`data: ${JSON.stringify({ choices: [], usage: { prompt_tokens: 3, completion_tokens: chunks } })}\n\ndata: [DONE]\n\n`);
  });
  const out = join(tempDir('sb-bounded-'), 'run');
  const { code, maxRssMb } = await loadInChild(url, out);
  t.is(code, 0);
  t.log(`peak RSS of load with two 100 MiB answers: ${maxRssMb.toFixed(0)} MB`);
  t.true(maxRssMb < 300, `peak RSS ${maxRssMb.toFixed(0)} MB`);
  const { records } = await readRecords(join(out, 'records.jsonl'));
  t.is(records.length, 2);
  for (const r of records) {
    t.is(r.outcome.kind, 'ok');
    t.true(r.truncated);
    t.is(r.output_text.length, MB, 'the default cap: 1 MiB of (ASCII) text');
    t.is(r.content_ns.length, chunks, 'timing ran to the end of the stream');
    t.is(r.model, 'served-model');
  }
});

test('one 100 MB SSE line without a newline: parsing stops at the line cap, protocol_error, RSS under 300 MB', async (t) => {
  const block = Buffer.alloc(MB, 'y');
  const url = await server(t, async (res) => {
    await put(res, 'data: {"choices":[{"index":0,"delta":{"content":"');
    for (let k = 0; k < 100; k++) {
      if (res.destroyed) return;
      await put(res, block);
    }
    res.end();
  });
  const out = join(tempDir('sb-bounded-'), 'run');
  const { code, maxRssMb } = await loadInChild(url, out);
  t.is(code, 0);
  t.log(`peak RSS of load with a 100 MiB line: ${maxRssMb.toFixed(0)} MB`);
  t.true(maxRssMb < 300, `peak RSS ${maxRssMb.toFixed(0)} MB`);
  const { records } = await readRecords(join(out, 'records.jsonl'));
  for (const r of records) {
    t.is(r.outcome.kind, 'protocol_error');
    t.regex((r.outcome as { message: string }).message, /SSE line is longer than \d+ characters/);
  }
});

test('n > 1 is refused when the workload loads, naming file and line', async (t) => {
  const file = workload([
    { id: 'a', messages: [{ role: 'user', content: 'one' }] },
    { id: 'b', messages: [{ role: 'user', content: 'three' }], n: 3 },
  ]);
  const result = await runCli([
    'load',
    '--baseline',
    'http://127.0.0.1:9',
    '--candidate',
    'http://127.0.0.1:9',
    '--workload',
    file,
    '--requests',
    '1',
  ]);
  t.is(result.code, 2);
  t.regex(
    result.stderr,
    new RegExp(`${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:2.*"n" is 3 \\(expected 1: a record holds one choice`),
  );
});
