// Ctrl-C during `load --engine k6`. No k6 is installed here, and nothing below pretends to be k6's
// output: K6_BIN is a stand-in that only notes its pid, each signal it receives and when, and when
// it exits. What the test checks is the parent: it forwards the first SIGINT to the k6 process, waits
// for it, converts the console-output file and writes run.json with `interrupted`; a second SIGINT
// kills the k6 process and still converts. The console-output lines are RequestRecords the test
// builds itself (source "fixture") and appends to the file while the stand-in waits.
import test, { type ExecutionContext } from 'ava';
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { emptyRecord, serializeRecord, type RequestRecord } from '../core/record.ts';
import { readRecords } from '../io/records-file.ts';
import { tempDir } from './support/load-helpers.ts';

const MAIN = fileURLToPath(new URL('../cli/main.ts', import.meta.url));
const dir = tempDir('sb-k6-interrupt-');
const workload = join(dir, 'workload.jsonl');
writeFileSync(
  workload,
  Array.from({ length: 3 }, (_, i) =>
    JSON.stringify({ id: `q${i}`, messages: [{ role: 'user', content: `hi ${i}` }], max_tokens: 3 }),
  ).join('\n') + '\n',
);

// The stand-in k6. `k6 version` exits at once; `k6 run` logs {event: start, pid}, then each signal;
// on SIGINT it exits 300 ms later (so the parent has to wait for it), unless STANDIN_SIGINT=ignore.
// It exits by itself after 20 s whatever happens, so it cannot outlive a failed test for long.
const standIn = join(dir, 'k6-stand-in');
writeFileSync(
  standIn,
  `#!${process.execPath}
const { appendFileSync } = require('node:fs');
if (process.argv[2] !== 'run') process.exit(0);
const note = (event) => appendFileSync(process.env.STANDIN_LOG, JSON.stringify({ ...event, t: Date.now() }) + '\\n');
const exit = (code) => { note({ event: 'exit', code }); process.exit(code); };
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    note({ event: 'signal', signal });
    if (process.env.STANDIN_SIGINT !== 'ignore') setTimeout(() => exit(0), 300);
  });
}
setTimeout(() => exit(3), 20_000);
note({ event: 'start', pid: process.pid, args: process.argv.slice(2), resolution: process.env.K6_AUTO_EXTENSION_RESOLUTION });
`,
);
chmodSync(standIn, 0o755);

interface StandInEvent {
  event: 'start' | 'signal' | 'exit';
  t: number;
  pid?: number;
  args?: string[];
  resolution?: string;
  signal?: string;
  code?: number;
}

const events = (log: string): StandInEvent[] =>
  existsSync(log)
    ? readFileSync(log, 'utf8')
        .trim()
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as StandInEvent)
    : [];

/** Polls (another process writes the file) until the condition holds; fails after timeoutMs. */
/** Polls until the condition holds; a condition that throws (a file caught mid-write) counts as not yet. */
async function until(what: string, condition: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const holds = () => {
    try {
      return condition();
    } catch {
      return false;
    }
  };
  while (!holds()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms)));
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Starts `load --engine k6` with the stand-in; the load process and the stand-in are killed at teardown. */
function startLoad(t: ExecutionContext, name: string, mode: 'exit' | 'ignore', extra: string[] = []) {
  const out = join(dir, name);
  const log = join(dir, `${name}-stand-in.jsonl`);
  const args = [
    '--engine',
    'k6',
    '--baseline',
    'http://127.0.0.1:9',
    '--candidate',
    'http://127.0.0.1:10',
    '--no-preflight',
    '--no-progress',
    '--workload',
    workload,
    '--qps',
    '5',
    '--requests',
    '3',
    '--out',
    out,
    ...extra,
  ];
  const child: ChildProcess = spawn(process.execPath, [MAIN, 'load', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, K6_BIN: standIn, STANDIN_LOG: log, STANDIN_SIGINT: mode },
  });
  let output = '';
  child.stdout!.setEncoding('utf8').on('data', (s: string) => (output += s));
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (output += s));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    const pid = events(log).find((e) => e.event === 'start')?.pid;
    if (pid !== undefined) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  });
  return { child, exited, out, log, output: () => output };
}

/** A finished streamed request, built from integers: the test's own data, not k6's. */
function testRecord(runId: string, arm: string, index: number): RequestRecord {
  const ms = 1_000_000;
  return {
    ...emptyRecord({
      run_id: runId,
      arm,
      index,
      item_id: `q${index}`,
      warmup: false,
      source: 'fixture',
      streaming: true,
      scheduled_ns: index * 200 * ms,
    }),
    sent_ns: index * 200 * ms + ms,
    headers_ns: index * 200 * ms + 5 * ms,
    first_chunk_ns: index * 200 * ms + 20 * ms,
    first_content_ns: index * 200 * ms + 20 * ms,
    content_ns: [20, 30, 40].map((x) => index * 200 * ms + x * ms),
    content_tokens: [1, 1, 1],
    end_ns: index * 200 * ms + 41 * ms,
    http_status: 200,
    outcome: { kind: 'ok' },
    usage: { prompt_tokens: 5, completion_tokens: 3, cached_prompt_tokens: null },
    finish_reason: 'stop',
    output_text: 'one two three',
  };
}

/** Waits for the stand-in to run, then appends the test's record lines to the (emptied) console-output file. */
async function writeConsoleLines(out: string, log: string, records: RequestRecord[], truncatedTail: string): Promise<void> {
  await until('the stand-in k6 to start', () => events(log).some((e) => e.event === 'start'));
  appendFileSync(
    join(out, 'k6-console.log'),
    'a console line that is not a record\n' + records.map((r) => serializeRecord(r) + '\n').join('') + truncatedTail,
  );
}

/** The run id from k6-config.json, once the file is completely written (it may exist before it is). */
async function runIdOnceWritten(out: string): Promise<string> {
  let runId = '';
  await until('k6-config.json', () => {
    runId = (JSON.parse(readFileSync(join(out, 'k6-config.json'), 'utf8')) as { run_id: string }).run_id;
    return true;
  });
  return runId;
}

test('first Ctrl-C: forwarded to k6 once, the parent waits for it, converts the console output, writes run.json with interrupted, analyses, exits 130', async (t) => {
  const load = startLoad(t, 'run-first', 'exit');
  const runId = await runIdOnceWritten(load.out);
  const records = [testRecord(runId, 'baseline', 0), testRecord(runId, 'candidate', 0), testRecord(runId, 'baseline', 1)];
  // The last line is cut off mid-record, as when k6 is stopped while writing.
  await writeConsoleLines(load.out, load.log, records, serializeRecord(testRecord(runId, 'candidate', 1)).slice(0, 40));
  const sentAt = Date.now();
  load.child.kill('SIGINT');
  t.is(await within(load.exited, 60_000, 'load exit'), 130, load.output());

  const seen = events(load.log);
  t.deepEqual(
    seen.map((e) => (e.event === 'signal' ? `signal ${e.signal}` : e.event)),
    ['start', 'signal SIGINT', 'exit'],
    'exactly one SIGINT reached the k6 process, which then exited by itself',
  );
  // k6 is never allowed to reach the network: no usage report, no extension fetched at run time.
  t.true(seen[0]!.args?.includes('--no-usage-report'), JSON.stringify(seen[0]!.args));
  t.is(seen[0]!.resolution, 'false', 'K6_AUTO_EXTENSION_RESOLUTION=false in the k6 environment');
  const signalled = seen[1]!;
  const exitedAt = seen[2]!.t;
  t.true(signalled.t >= sentAt - 5, 'forwarded after the Ctrl-C');

  const manifest = JSON.parse(readFileSync(join(load.out, 'run.json'), 'utf8'));
  t.is(manifest.interrupted, 'SIGINT (forwarded to k6)');
  t.true(Date.parse(manifest.ended_at) >= exitedAt - 1, 'the run ended when the k6 process had exited');
  t.is(manifest.k6.exit_code, 0);
  t.is(manifest.k6.records, 3);
  t.regex(manifest.warnings.join('\n'), /k6-console\.log:5: last line is incomplete/);
  t.regex(manifest.warnings.join('\n'), /stopped by SIGINT \(forwarded to k6\)/);

  const read = await readRecords(join(load.out, 'records.jsonl'));
  t.deepEqual(read.records, records);
  // The analysis ran on what was converted: index 0 on both arms, index 1 on the baseline only (its candidate line was cut off).
  t.true(existsSync(join(load.out, 'summary.json')), load.output());
  const pairs = readFileSync(join(load.out, 'pairs.csv'), 'utf8')
    .trim()
    .split('\n')
    .slice(1)
    .map((l) => l.split(',').slice(0, 4).join(','));
  t.deepEqual(pairs, ['0,q0,ok,ok', '1,q1,ok,']);
});

test('second Ctrl-C: the k6 process is killed, what it wrote is still converted, exit 130 without analysis', async (t) => {
  const load = startLoad(t, 'run-second', 'ignore');
  const runId = await runIdOnceWritten(load.out);
  const records = [testRecord(runId, 'baseline', 0), testRecord(runId, 'candidate', 0)];
  await writeConsoleLines(load.out, load.log, records, '');
  load.child.kill('SIGINT');
  await until('the forwarded SIGINT', () => events(load.log).some((e) => e.event === 'signal'));
  const second = Date.now();
  load.child.kill('SIGINT');
  t.is(await within(load.exited, 30_000, 'load exit'), 130, load.output());
  t.true(Date.now() - second < 10_000, "did not wait for the stand-in's own 20 s exit");

  const seen = events(load.log);
  t.deepEqual(
    seen.map((e) => (e.event === 'signal' ? `signal ${e.signal}` : e.event)),
    ['start', 'signal SIGINT'],
    'one SIGINT forwarded, then SIGKILL (no exit of its own)',
  );
  const pid = seen[0]!.pid!;
  t.throws(() => process.kill(pid, 0), { code: 'ESRCH' }, 'the k6 process is gone');

  const manifest = JSON.parse(readFileSync(join(load.out, 'run.json'), 'utf8'));
  t.is(manifest.interrupted, 'SIGINT (second: k6 killed)');
  t.is(manifest.k6.exit_code, 128 + 9);
  t.regex(manifest.warnings.join('\n'), /k6 killed by a second SIGINT/);
  t.deepEqual((await readRecords(join(load.out, 'records.jsonl'))).records, records);
  t.false(existsSync(join(load.out, 'summary.json')), 'no analysis after a second Ctrl-C');
});
