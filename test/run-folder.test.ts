// The run folder's life and integrity (io/run-folder.ts, cli/interrupts.ts, engine/run-load.ts):
// run.json says running from the start, then complete / interrupted / failed; SIGTERM and SIGHUP act
// as Ctrl-C; a folder left `running` (kill -9) is analysed as interrupted and refused as a reference;
// one run per folder; disk faults are one line and exit 2; planned requests without a record are
// counted (not_sent). Readiness is event-driven (the first record lines), never a fixed sleep.
import test from 'ava';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { serializeRecord, type RequestRecord } from '../core/record.ts';
import { UsageError } from '../core/options.ts';
import { validateRunManifest } from '../core/run.ts';
import { RecordWriter, readRecords } from '../io/records-file.ts';
import {
  checkRunSegment,
  createRunFolder,
  LOCK_FILE,
  readRunManifest,
  RunFolderError,
  writeFileAtomic,
  writeRunManifest,
} from '../io/run-folder.ts';
import { Interrupts, SIGNAL_EXIT, type InterruptTarget, type SignalSource, type StopSignal } from '../cli/interrupts.ts';
import { LOAD_OPTIONS, MAX_TIMER_S, qpsWarning, run as load } from '../cli/load.ts';
import { checkKubernetesName, run as k6Manifest } from '../cli/k6-manifest.ts';
import { parseOptions } from '../core/options.ts';
import { analyzeRunFolderDetailed } from '../pipeline/analyze-folder.ts';
import { fixtureRun } from './fixtures/analysis/build-run.ts';
import { capturingStderr, capturingStdout, startTestSim as sim, tempDir } from './support/load-helpers.ts';
import { runCli } from './support/run-cli.ts';

const MAIN = fileURLToPath(new URL('../cli/main.ts', import.meta.url));
const tmp = () => tempDir('sb-run-folder-');
const jsonl = (records: RequestRecord[]) => records.map((r) => serializeRecord(r) + '\n').join('');

/** A folder as a complete run left it: records and a run.json with status complete. */
function completeFolder(records: RequestRecord[], runId = 'fixture-run'): string {
  const dir = tmp();
  writeFileSync(join(dir, 'records.jsonl'), jsonl(records));
  writeFileSync(
    join(dir, 'run.json'),
    JSON.stringify({ v: 1, run_id: runId, arms: [{ arm: 'baseline' }, { arm: 'candidate' }], status: 'complete', warnings: [] }),
  );
  return dir;
}

/** Spawns `load`; resolves `exited` with the exit code. */
function spawnLoad(args: string[]) {
  const child = spawn(process.execPath, [MAIN, 'load', '--no-progress', '--no-analyze', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, exited, stderr: () => stderr };
}

/** Resolves once `file` holds at least n lines (the run has sent and recorded): readiness, not a time bound. */
async function recordLines(file: string, n: number): Promise<void> {
  for (;;) {
    if (existsSync(file) && readFileSync(file, 'utf8').split('\n').length > n) return;
    await new Promise((resolve) => setTimeout(resolve, 20)); // another process writes it: poll
  }
}

/** A fake process for the signal logic: emits the signals a test sends. */
class FakeSignals implements SignalSource {
  listeners = new Map<StopSignal, (signal: StopSignal) => void>();
  on(signal: StopSignal, listener: (signal: StopSignal) => void) {
    this.listeners.set(signal, listener);
  }
  off(signal: StopSignal) {
    this.listeners.delete(signal);
  }
  send(signal: StopSignal) {
    this.listeners.get(signal)?.(signal);
  }
}

test('Interrupts: SIGTERM and SIGHUP act as Ctrl-C: stop, then exit now, then save and exit with 128 + the first signal', (t) => {
  for (const first of ['SIGTERM', 'SIGHUP', 'SIGINT'] as const) {
    const source = new FakeSignals();
    const exits: number[] = [];
    const calls: string[] = [];
    const target: InterruptTarget = {
      stop: (reason) => calls.push(`stop ${reason}`),
      exitNow: (reason) => calls.push(`exitNow ${reason}`),
      abandon: () => calls.push('abandon'),
    };
    const interrupts = new Interrupts({ source, exit: (code) => exits.push(code), notice: () => undefined }).attach();
    t.deepEqual([...source.listeners.keys()].sort(), ['SIGHUP', 'SIGINT', 'SIGTERM']);
    interrupts.running(target);
    source.send(first);
    t.deepEqual(calls, [`stop ${first}`], `${first}: the first signal drains`);
    t.deepEqual(exits, [], 'and does not exit');
    source.send('SIGINT');
    t.deepEqual(calls, [`stop ${first}`, 'exitNow SIGINT (second)']);
    source.send('SIGINT');
    t.deepEqual(calls.at(-1), 'abandon', 'the third saves what it can');
    t.deepEqual(exits, [SIGNAL_EXIT[first]], 'then exits with the first signal’s code');
    t.is(interrupts.exitCode, { SIGTERM: 143, SIGHUP: 129, SIGINT: 130 }[first]);
    interrupts.dispose();
    t.is(source.listeners.size, 0);
  }
});

test('Interrupts: during start-up a signal aborts the start-up; after the load it exits at once', (t) => {
  const source = new FakeSignals();
  const exits: number[] = [];
  const interrupts = new Interrupts({ source, exit: (code) => exits.push(code) }).attach();
  source.send('SIGTERM');
  t.true(interrupts.startup.signal.aborted);
  t.deepEqual(exits, []);
  interrupts.after();
  source.send('SIGHUP');
  t.deepEqual(exits, [129]);
  interrupts.dispose();
});

test('createRunFolder: one run per folder: a second taker is refused while the first holds it; --force replaces, never appends', (t) => {
  const dir = join(tmp(), 'run');
  const first = createRunFolder(dir, { flag: '--out' });
  t.true(existsSync(join(dir, LOCK_FILE)));
  t.throws(() => createRunFolder(dir, { flag: '--out' }), {
    instanceOf: UsageError,
    message: /--out .*run: in use by another run \(process \d+/,
  });
  t.throws(
    () => createRunFolder(dir, { flag: '--out', force: true }),
    { message: /in use by another run/ },
    '--force never takes a live run',
  );
  writeFileSync(join(dir, 'records.jsonl'), 'old run\n');
  first.release();
  t.false(existsSync(join(dir, LOCK_FILE)));
  t.throws(() => createRunFolder(dir, { flag: '--out' }), {
    message: /--out .*run: already holds a run \(records\.jsonl\); choose a new folder, or --force to replace what it holds/,
  });
  writeFileSync(join(dir, 'notes.txt'), 'mine');
  const forced = createRunFolder(dir, { flag: '--out', force: true });
  t.false(existsSync(join(dir, 'records.jsonl')), "the previous run's records are removed, not appended to");
  t.true(existsSync(join(dir, 'notes.txt')), 'files a run does not write are left alone');
  forced.release();
  t.throws(() => createRunFolder('', { flag: '--out' }), { message: /^--out: empty/ });
});

test('createRunFolder: a lock left by a dead process (kill -9) does not block --force', (t) => {
  const dir = join(tmp(), 'run');
  mkdirSync(dir);
  const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  writeFileSync(join(dir, LOCK_FILE), `${dead.stdout}\n`);
  writeFileSync(join(dir, 'run.json'), '{}');
  t.throws(() => createRunFolder(dir, { flag: '--out' }), { message: /already holds a run \(run\.json\)/ });
  const taken = createRunFolder(dir, { flag: '--out', force: true });
  t.is(readFileSync(join(dir, LOCK_FILE), 'utf8').trim(), String(process.pid));
  taken.release();
});

test('run ids are one folder name; the proxy refuses .. and a used --run-id', async (t) => {
  for (const bad of ['..', '.', 'a/b', '', 'x y'])
    t.throws(() => checkRunSegment('--run-id', bad), { message: /^--run-id: got .*; expected one folder name/ });
  t.notThrows(() => checkRunSegment('--run-id', 'nightly-2026.01_a'));
  const out = tmp();
  mkdirSync(join(out, 'used'));
  writeFileSync(join(out, 'used', 'records.jsonl'), '');
  const ends = ['--baseline', 'http://127.0.0.1:9', '--candidate', 'http://127.0.0.1:10', '--out', out];
  const r = await runCli(['proxy', ...ends, '--run-id', '..']);
  t.is(r.code, 2);
  t.regex(r.stderr, /--run-id: got "\.\."/);
  const used = await runCli(['proxy', ...ends, '--run-id', 'used']);
  t.is(used.code, 2);
  t.regex(used.stderr, /--run-id .*used: already holds a run \(records\.jsonl\); choose a new folder \(one run per folder\)/);
});

test('run.json: written atomically and read back validated; a bad file names the field', (t) => {
  const dir = tmp();
  t.is(readRunManifest(dir), null, 'no run.json');
  writeFileSync(join(dir, 'run.json'), JSON.stringify({ interrupted: 7, arms: 5 }));
  t.throws(() => readRunManifest(dir), { instanceOf: RunFolderError, message: /run\.json: v: expected 1/ });
  writeFileSync(join(dir, 'run.json'), '{"v": 1,');
  t.throws(() => readRunManifest(dir), { message: /run\.json: cannot read the run manifest \(not valid JSON/ });
  const manifest = validateRunManifest({ v: 1, run_id: 'r', arms: [{ arm: 'baseline' }], status: 'complete', planned: { baseline: 3 } });
  writeRunManifest(dir, manifest);
  t.deepEqual(readdirSync(dir), ['run.json'], 'no temporary file left');
  const back = readRunManifest(dir);
  t.is(back?.status, 'complete');
  t.deepEqual(back?.planned, { baseline: 3 });
  t.false('status_given' in JSON.parse(readFileSync(join(dir, 'run.json'), 'utf8')), "the reader's note is not written back");
});

test('a records file on a full device (/dev/full): one error naming the file, records counted as lost, no throw from the timer', async (t) => {
  if (!existsSync('/dev/full')) return t.pass('no /dev/full on this system');
  const errors: Error[] = [];
  const writer = new RecordWriter('/dev/full', { onError: (error) => errors.push(error) });
  const [a, b] = fixtureRun({ withRepeat: false, indices: 1 });
  writer.write(a!);
  writer.flushSync();
  writer.write(b!);
  await writer.close();
  t.is(errors.length, 1);
  t.is(errors[0]?.message, 'cannot write /dev/full: no space left on the device (ENOSPC)');
  t.is(writer.written, 0);
  t.is(writer.lost, 2);
  // Without onError the caller gets the same one-line error.
  const plain = new RecordWriter('/dev/full');
  plain.write(a!);
  t.throws(() => plain.flushSync(), { instanceOf: RunFolderError, message: /^cannot write \/dev\/full: no space left/ });
  await t.notThrowsAsync(plain.close(), 'closing after the failure does not throw again');
});

/** A tiny tmpfs (root only); null when mounting is not permitted here. */
function tinyTmpfs(t: { teardown(fn: () => void): void }, size: string): string | null {
  const dir = tmp();
  const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { encoding: 'utf8' });
  if (mounted.status !== 0) return null;
  t.teardown(() => void spawnSync('umount', ['-l', dir]));
  return dir;
}

test.serial(
  'a write cut short by a full disk is cut back to the last complete line; writing resumes cleanly when space returns',
  async (t) => {
    const disk = tinyTmpfs(t, '64k');
    if (disk === null) return t.pass('skipped: mount -t tmpfs is not permitted here (needs root)');
    const file = join(disk, 'records.jsonl');
    const records = fixtureRun({ withRepeat: false, indices: 40 });
    for (const r of records) r.output_text = 'x'.repeat(3000); // ~3.5 KB lines: the one that does not fit lands in part
    const writer = new RecordWriter(file, { flags: 'wx' }); // no onError: the proxy's mode, which retries
    writer.write(records[0]!);
    writer.flushSync();
    const filler = join(disk, 'filler');
    try {
      for (;;) writeFileSync(filler, Buffer.alloc(512, 120), { flag: 'a' });
    } catch {
      // full but for less than one block
    }
    let failures = 0;
    for (const r of records.slice(1, 10)) {
      writer.write(r);
      try {
        writer.flushSync();
      } catch (error) {
        failures++;
        t.regex((error as Error).message, /records\.jsonl: no space left on the device \(ENOSPC\)/);
      }
    }
    t.true(failures > 0, 'the disk was full');
    const text = readFileSync(file, 'utf8');
    t.true(text.endsWith('\n'), 'no half line left at the end');
    const kept = (await readRecords(file)).records.length;
    t.is(text.split('\n').length - 1, kept, 'every line on disk is a whole record');
    // Space returns: the next write goes on after the last complete line.
    rmSync(filler);
    writer.write(records[10]!);
    writer.flushSync();
    await writer.close();
    const { records: back, summary } = await readRecords(file);
    t.deepEqual(summary.warnings, []);
    t.is(back.length, kept + 1);
    t.is(back.at(-1)?.index, records[10]!.index);
  },
);

test('a record cut short in the middle of the file (a failed write that could not be cut back) is skipped with a warning naming its line', async (t) => {
  const dir = tmp();
  const [a, b, c] = fixtureRun({ withRepeat: false, indices: 2 }).map((r) => serializeRecord(r));
  const cut = b!.slice(0, 57);
  writeFileSync(join(dir, 'records.jsonl'), `${a}\n${cut}\n${c}\n`);
  const { records, summary } = await readRecords(join(dir, 'records.jsonl'));
  t.is(records.length, 2);
  t.deepEqual(summary.warnings, [
    `${join(dir, 'records.jsonl')}:2: incomplete record (57 bytes, cut short by a failed write: disk full?); skipped`,
  ]);
  // The analysis' reader (byte ranges, fast parser) says the same, in summary.json.
  const { report } = await analyzeRunFolderDetailed(dir, { quiet: true });
  t.true(report.records.warnings.includes(summary.warnings[0]!), report.records.warnings.join('\n'));
  // A line that is not a record's beginning is still an error naming it.
  writeFileSync(join(dir, 'records.jsonl'), `${a}\n${b!.slice(0, 57)}garbage"}\n${c}\n`);
  await t.throwsAsync(readRecords(join(dir, 'records.jsonl')), { message: /records\.jsonl:2: / });
});

test.serial('analyze on a full disk: one line naming the file and ENOSPC, exit 2, no 0-byte or half export left', async (t) => {
  const disk = tinyTmpfs(t, '256k');
  if (disk === null) return t.pass('skipped: mount -t tmpfs is not permitted here (needs root); the /dev/full test covers the writer');
  const dir = join(disk, 'run');
  mkdirSync(dir);
  writeFileSync(join(dir, 'records.jsonl'), jsonl(fixtureRun({ withRepeat: false, indices: 30 })));
  // Fill the device but for a few KiB: the first export does not fit.
  const filler = Buffer.alloc(1024, 120);
  try {
    for (;;) writeFileSync(join(disk, 'filler'), filler, { flag: 'a' });
  } catch {
    // full
  }
  const before = readFileSync(join(dir, 'records.jsonl'), 'utf8');
  const r = await runCli(['analyze', dir, '--quiet']);
  t.is(r.code, 2, r.stderr);
  const lines = r.stderr.trim().split('\n');
  t.is(lines.length, 1, r.stderr);
  t.regex(lines[0] ?? '', /^shadowbench: cannot write .*run\/\S+: no space left on the device \(ENOSPC\)$/);
  for (const name of readdirSync(dir)) {
    t.false(name.endsWith('.tmp'), `${name}: no temporary file left`);
    t.true(statSync(join(dir, name)).size > 0, `${name}: no 0-byte output`);
  }
  t.is(readFileSync(join(dir, 'records.jsonl'), 'utf8'), before, 'the records are kept');
});

test.serial('load on a full disk: one line naming records.jsonl and ENOSPC, exit 2; the records written are kept', async (t) => {
  const disk = tinyTmpfs(t, '64k');
  if (disk === null) return t.pass('skipped: mount -t tmpfs is not permitted here (needs root); the /dev/full test covers the writer');
  const [b, c] = [await sim(t), await sim(t)];
  const dir = join(disk, 'run');
  const r = spawnLoad(['--baseline', b.url, '--candidate', c.url, '--qps', '200', '--requests', '2000', '--out', dir]);
  t.is(await r.exited, 2, r.stderr());
  const errorLines = r
    .stderr()
    .split('\n')
    .filter((l) => /ENOSPC/.test(l));
  t.true(errorLines.length >= 1);
  t.regex(
    r.stderr().trim().split('\n').at(-1) ?? '',
    /^shadowbench: cannot write .*run\/records\.jsonl: no space left on the device \(ENOSPC\)$/,
  );
  t.notRegex(r.stderr(), /\n\s+at /, 'no stack trace');
  const { records } = await readRecords(join(dir, 'records.jsonl'));
  t.true(records.length > 0, 'the records already written are kept (a cut last line is skipped)');
  const manifest = readRunManifest(dir);
  // Marked failed when run.json could still be rewritten; otherwise it still says running (analysed as interrupted).
  t.true(manifest?.status === 'failed' || manifest?.status === 'running', manifest?.status);
  if (manifest?.status === 'failed') t.regex(String(manifest.error), /records\.jsonl: no space left/);
});

test.serial(
  'SIGTERM mid-run: drained like Ctrl-C, run.json interrupted (SIGTERM), every sent request has a record, gate says INVESTIGATE and refuses it as reference',
  async (t) => {
    const [b, c] = [await sim(t, { timeScale: 0.3 }), await sim(t, { timeScale: 0.3 })];
    const dir = join(tmp(), 'run');
    const r = spawnLoad(['--baseline', b.url, '--candidate', c.url, '--qps', '40', '--duration', '30', '--out', dir]);
    await recordLines(join(dir, 'records.jsonl'), 10);
    const running = readRunManifest(dir);
    t.is(running?.status, 'running', 'run.json says running while the run goes on');
    t.deepEqual(running?.planned, { baseline: 1200, candidate: 1200 });
    r.child.kill('SIGTERM');
    t.is(await r.exited, 143, r.stderr());
    t.regex(r.stderr(), /SIGTERM: stopping new sends; waiting up to 10 s for the requests in flight/);
    t.regex(r.stderr(), /planned but not sent: baseline \d+, candidate \d+/);
    const manifest = JSON.parse(readFileSync(join(dir, 'run.json'), 'utf8'));
    t.is(manifest.status, 'interrupted');
    t.is(manifest.interrupted, 'SIGTERM');
    const { records, summary } = await readRecords(join(dir, 'records.jsonl'));
    t.is(summary.truncatedLastLine, null);
    t.is(records.length, 2 * manifest.counts.pairs_sent, 'every request sent has a record on both arms');
    t.false(existsSync(join(dir, LOCK_FILE)), 'the folder is released');

    const gate = await runCli(['gate', dir]);
    t.is(gate.code, 1, gate.stderr);
    t.regex(gate.stdout, /VERDICT: INVESTIGATE/);
    t.regex(gate.stdout, /status "interrupted" \(SIGTERM\)/);
    t.regex(gate.stdout, /planned requests never sent or never recorded: baseline \d+, candidate \d+ \(not_sent\)/);
    const summaryJson = JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8'));
    t.is(summaryJson.validity.not_sent.baseline, 1200 - manifest.counts.pairs_sent);
    const tonight = completeFolder(fixtureRun({ withRepeat: false }));
    const against = await runCli(['gate', tonight, '--against', dir, '--quiet']);
    t.is(against.code, 2);
    t.regex(against.stderr, /--against .*: the reference run is not complete, run\.json status "interrupted" \(SIGTERM\)/);
  },
);

test.serial(
  'kill -9: the folder still says running, is analysed as interrupted, refused as reference (unless --allow-incomplete); --force takes it over',
  async (t) => {
    const [b, c] = [await sim(t), await sim(t)];
    const dir = join(tmp(), 'run');
    const r = spawnLoad(['--baseline', b.url, '--candidate', c.url, '--qps', '40', '--duration', '30', '--out', dir]);
    await recordLines(join(dir, 'records.jsonl'), 10);
    r.child.kill('SIGKILL');
    await r.exited;
    t.is(readRunManifest(dir)?.status, 'running');
    const gate = await runCli(['gate', dir]);
    t.is(gate.code, 1, gate.stderr);
    t.regex(gate.stdout, /status "running": the run never recorded its end .*analysed as interrupted/);
    const tonight = completeFolder(fixtureRun({ withRepeat: false }));
    const refused = await runCli(['gate', tonight, '--against', dir, '--quiet']);
    t.is(refused.code, 2);
    t.regex(refused.stderr, /the reference run is not complete, run\.json status "running".*\(or --allow-incomplete\)/);
    const allowed = await runCli(['gate', tonight, '--against', dir, '--quiet', '--allow-incomplete']);
    t.not(allowed.code, 2, allowed.stderr);

    const again = await capturingStderr(() => t.throwsAsync(load(['--no-progress', '--no-analyze', '--out', dir, '--requests', '2'])));
    t.regex(again.value?.message ?? '', /already holds a run/);
    const forced = await capturingStderr(() =>
      load(['--baseline', b.url, '--candidate', c.url, '--no-progress', '--no-analyze', '--out', dir, '--requests', '2', '--force']),
    );
    t.is(forced.value, 0, forced.stderr);
    t.is(readRunManifest(dir)?.status, 'complete');
    t.is((await readRecords(join(dir, 'records.jsonl'))).records.length, 4, 'only the new run’s records');
  },
);

test.serial('two runs started on one --out: the second is refused while the first runs', async (t) => {
  const [b, c] = [await sim(t), await sim(t)];
  const dir = join(tmp(), 'run');
  const first = spawnLoad(['--baseline', b.url, '--candidate', c.url, '--qps', '20', '--duration', '30', '--out', dir]);
  await recordLines(join(dir, 'records.jsonl'), 2);
  const second = spawnLoad(['--baseline', b.url, '--candidate', c.url, '--requests', '2', '--out', dir]);
  t.is(await second.exited, 2);
  t.regex(second.stderr(), /--out .*run: in use by another run \(process \d+ holds .*run\.lock\); choose another folder/);
  first.child.kill('SIGINT');
  t.is(await first.exited, 130, first.stderr());
  const { records } = await readRecords(join(dir, 'records.jsonl'));
  t.true(
    records.every((r) => r.run_id === records[0]?.run_id),
    'one run in the folder',
  );
});

test('bounds: --timeout and --grace at most 2,147,483 s; --out "" refused; an unsendable --qps warns', async (t) => {
  t.is(MAX_TIMER_S, 2_147_483);
  t.notThrows(() => parseOptions(LOAD_OPTIONS, ['--timeout', '2147483']));
  t.throws(() => parseOptions(LOAD_OPTIONS, ['--timeout', '1e7']), { instanceOf: UsageError, message: /^--timeout: .*2147483/ });
  t.throws(() => parseOptions(LOAD_OPTIONS, ['--grace', '3000000']), { instanceOf: UsageError, message: /^--grace: / });
  await t.throwsAsync(load(['--out', '', '--requests', '2']), { instanceOf: UsageError, message: /^--out: empty/ });
  t.is(qpsWarning(100, 2, 1), null);
  t.regex(qpsWarning(20000, 2, 1) ?? '', /--qps 20000 × 2 arms is above what one sending thread can send on time/);
});

test('npm run build answers --help and refuses unknown flags (exit 2, one line)', (t) => {
  const build = fileURLToPath(new URL('../k6/build.ts', import.meta.url));
  const help = spawnSync(process.execPath, [build, '--help'], { encoding: 'utf8' });
  t.is(help.status, 0);
  t.regex(help.stdout, /^Usage: npm run build -- \[options\]/);
  t.regex(help.stdout, /--outdir <DIR>/);
  const bogus = spawnSync(process.execPath, [build, '--bogus'], { encoding: 'utf8' });
  t.is(bogus.status, 2);
  t.is(bogus.stderr.trim(), 'shadowbench: --bogus: unknown option; see --help');
  t.is(bogus.stdout, '', 'nothing built');
});

test.serial(
  'k6:manifest: --name and --namespace must be Kubernetes names (DNS-1123); a used --out is refused unless --force',
  async (t) => {
    // https://github.com/kubernetes/apimachinery pkg/util/validation/validation.go: dns1123LabelFmt "[a-z0-9]([-a-z0-9]*[a-z0-9])?", at most 63.
    for (const bad of ['Bad_Name!', 'a\nb', 'a: b #c', '-lead', 'trail-', 'x'.repeat(64)])
      t.throws(() => checkKubernetesName('--namespace', bad), {
        instanceOf: UsageError,
        message: /^--namespace: got .*; expected a Kubernetes name \(DNS-1123 label\)/,
      });
    t.notThrows(() => checkKubernetesName('--namespace', 'load-tests'));
    t.throws(() => checkKubernetesName('--name', 'x'.repeat(60), '-workload'.length), { message: /at most 54 characters/ });
    const ends = ['--baseline', 'http://127.0.0.1:9', '--candidate', 'http://127.0.0.1:10', '--requests', '2'];
    const out = join(tmp(), 'm');
    await t.throwsAsync(k6Manifest([...ends, '--name', 'Bad_Name!', '--out', out]), { message: /^--name: got "Bad_Name!"/ });
    t.false(existsSync(out), 'nothing written');
    await capturingStderr(() => capturingStdout(() => k6Manifest([...ends, '--out', out])));
    const first = readRunManifest(out);
    t.is(first?.status, 'running', 'running until --collect');
    await t.throwsAsync(k6Manifest([...ends, '--out', out]), { message: /--out .*m: already holds a run \(run\.json\)/ });
    t.is(readRunManifest(out)?.run_id, first?.run_id, 'its run_id is kept');
    await capturingStderr(() => capturingStdout(() => k6Manifest([...ends, '--out', out, '--force'])));
    t.not(readRunManifest(out)?.run_id, first?.run_id);
  },
);

test.serial('not_sent from k6 runner logs that lack iterations: counted per arm, a validity problem, INVESTIGATE', async (t) => {
  const out = join(tmp(), 'k6run');
  await capturingStderr(() =>
    capturingStdout(() =>
      k6Manifest(['--baseline', 'http://127.0.0.1:9', '--candidate', 'http://127.0.0.1:10', '--requests', '30', '--out', out]),
    ),
  );
  const runId = readRunManifest(out)?.run_id ?? '';
  t.deepEqual(readRunManifest(out)?.planned, { baseline: 30, candidate: 30 });
  // Two runner logs (a k6-operator run), no handleSummary line, and the candidate's last 4 iterations never ran.
  const records = fixtureRun({ withRepeat: false, indices: 30, runId }).filter((r) => !(r.arm === 'candidate' && r.index >= 26));
  const logs = [join(out, '..', 'runner-0.log'), join(out, '..', 'runner-1.log')];
  writeFileSync(logs[0]!, 'time="…" level=info msg="k6 starting"\n' + jsonl(records.filter((r) => r.index % 2 === 0)));
  writeFileSync(logs[1]!, jsonl(records.filter((r) => r.index % 2 === 1)));
  await capturingStderr(() => k6Manifest(['--collect', out, ...logs]));
  t.is(readRunManifest(out)?.status, 'complete');
  const { value: analysed, stdout } = await capturingStdout(() => capturingStderr(() => analyzeRunFolderDetailed(out)));
  const report = analysed.value.report;
  t.deepEqual(report.validity.not_sent, { baseline: 0, candidate: 4 });
  t.true(report.validity.problems.some((p) => /candidate 4 \(not_sent\)/.test(p)));
  t.is(analysed.value.verdict, 'INVESTIGATE');
  t.regex(stdout, /candidate 4 \(not_sent\)/, 'said in the terminal report');
  t.is(JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')).validity.not_sent.candidate, 4);
});

test('analyze on a folder whose records.jsonl is a directory: one line, exit 2', async (t) => {
  const dir = tmp();
  mkdirSync(join(dir, 'records.jsonl'));
  const r = await runCli(['analyze', dir]);
  t.is(r.code, 2);
  t.is(
    r.stderr.trim(),
    `shadowbench: ${join(dir, 'records.jsonl')}: is not a file (a folder?); a run folder holds records.jsonl as a file`,
  );
});

test('writeFileAtomic: an unwritable target is one RunFolderError line, and no temporary file is left', (t) => {
  const dir = tmp();
  mkdirSync(join(dir, 'summary.csv'));
  t.throws(() => writeFileAtomic(join(dir, 'summary.csv'), 'x'), { instanceOf: RunFolderError, message: /^cannot write .*summary\.csv: / });
  t.deepEqual(readdirSync(dir), ['summary.csv']);
});
