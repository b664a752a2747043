// The CLI's edge: file-system errors on paths the user gave are one line and exit 2 (no stack trace);
// load checks --out, the workload and --sample before any simulated endpoint is started; proxy its
// --gates and --schedule files before it listens.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fileErrorMessage } from '../cli/file-error.ts';
import { checkOutDir, run } from '../cli/load.ts';
import { UsageError } from '../core/options.ts';
import { run as proxy } from '../cli/proxy.ts';
import { tempDir } from './support/load-helpers.ts';

const MAIN = fileURLToPath(new URL('../cli/main.ts', import.meta.url));
const cli = (...args: string[]) => spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', timeout: 20_000 });
const errno = (code: string, syscall: string, path: string, dest?: string) =>
  Object.assign(new Error(`${code}: ${syscall} '${path}'`), { code, syscall, path, ...(dest !== undefined && { dest }) });

test('fileErrorMessage: the path and what went wrong for errno errors with a path; null for anything else', (t) => {
  t.is(fileErrorMessage(errno('EACCES', 'open', '/r/summary.csv')), 'cannot open /r/summary.csv: permission denied (EACCES)');
  t.is(fileErrorMessage(errno('EISDIR', 'open', '/r/report')), 'cannot open /r/report: is a folder, not a file (EISDIR)');
  t.is(fileErrorMessage(errno('EEXIST', 'mkdir', '/r/f')), 'cannot create the folder /r/f: a file of that name exists (EEXIST)');
  t.is(
    fileErrorMessage(errno('ENOTDIR', 'mkdir', '/r/f/sub')),
    'cannot create the folder /r/f/sub: a part of the path is a file, not a folder (ENOTDIR)',
  );
  t.is(fileErrorMessage(errno('EROFS', 'rename', '/r/a.tmp', '/r/a')), 'cannot rename /r/a.tmp → /r/a: read-only file system (EROFS)');
  t.is(
    fileErrorMessage(errno('ENOSPC', 'write', '/r/records.jsonl')),
    'cannot write /r/records.jsonl: no space left on the device (ENOSPC)',
  );
  // fs.rm's SystemError: code ERR_FS_EISDIR, the errno code in info
  t.is(
    fileErrorMessage(Object.assign(errno('ERR_FS_EISDIR', 'rm', '/r/junit.xml'), { info: { code: 'EISDIR' } })),
    'cannot remove /r/junit.xml: is a folder, not a file (EISDIR)',
  );
  t.is(fileErrorMessage(errno('ECONNREFUSED', 'connect', '/tmp/sock')), null, 'not a file-system error');
  t.is(fileErrorMessage(Object.assign(new Error('x'), { code: 'ENOENT' })), null, 'no path: a bug, keep its stack');
  t.is(fileErrorMessage(new TypeError('x is undefined')), null);
  t.is(fileErrorMessage('ENOENT'), null);
});

test('convert --output into a folder that does not exist: one line naming the path, exit 2, no stack', (t) => {
  const out = join(tempDir('sb-cli-'), 'no', 'such', 'x.yaml');
  const r = cli('convert', '--output', out, 'vllm', 'serve', 'meta-llama/Llama-3.1-8B-Instruct');
  t.is(r.status, 2, r.stderr);
  t.is(r.stderr.trim(), `shadowbench: cannot open ${out}: no such file or folder (ENOENT)`);
});

test('load --out on an existing file, or under one: refused before any endpoint starts, exit 2', (t) => {
  const dir = tempDir('sb-cli-');
  const file = join(dir, 'f');
  writeFileSync(file, 'x');
  for (const [out, message] of [
    [file, `--out ${file}: is a file, not a folder`],
    [join(file, 'sub'), `--out ${join(file, 'sub')}: a part of the path is a file, not a folder`],
  ] as const) {
    const r = cli('load', '--out', out, '--requests', '2', '--no-progress');
    t.is(r.status, 2, r.stderr);
    t.is(r.stderr.trim(), `shadowbench: ${message}`, 'one line, and no simulated endpoint was started');
  }
});

test('load --out where the file system refuses to create a folder (under /proc): one line naming it, exit 2', (t) => {
  if (process.platform !== 'linux') return t.pass('no /proc on this system');
  const r = cli('load', '--out', '/proc/shadowbench-test/run', '--requests', '2', '--no-progress', '--no-analyze');
  t.is(r.status, 2, r.stderr);
  t.regex(r.stderr, /cannot create the folder \/proc\/shadowbench-test: no such file or folder/);
  t.notRegex(r.stderr, /\n\s+at /, 'no stack trace');
});

test('checkOutDir: a new folder under a writable one passes; a folder holding a run is refused; nothing is created', (t) => {
  const dir = tempDir('sb-cli-');
  t.notThrows(() => checkOutDir(join(dir, 'a', 'b', 'c')));
  t.notThrows(() => checkOutDir(dir));
  t.deepEqual(readdirSync(dir), [], 'the check created nothing');
  mkdirSync(join(dir, 'run'));
  writeFileSync(join(dir, 'run', 'records.jsonl'), '');
  t.throws(() => checkOutDir(join(dir, 'run')), { instanceOf: UsageError, message: /already holds a run/ });
});

test('load: the workload, --sample and headers fail before any simulated endpoint starts, each under its own flag', async (t) => {
  const out = join(tempDir('sb-cli-'), 'run');
  // No --baseline/--candidate: were sims started first, these would take seconds and print their URLs.
  await t.throwsAsync(run(['--workload', 'no/such.jsonl', '--out', out]), {
    instanceOf: UsageError,
    message: /^--workload: no\/such\.jsonl: .*no such file/,
  });
  await t.throwsAsync(run(['--sample', '100000', '--out', out]), {
    instanceOf: UsageError,
    message: /^--sample: workloads\/sample-chat\.jsonl: sample 100000 must be an integer from 1 to the \d+ items/,
  });
  await t.throwsAsync(run(['--header', 'no colon here', '--out', out]), {
    instanceOf: UsageError,
    message: /^--header: expected 'Name: value'/,
  });
  const r = cli('load', '--sample', '100000', '--no-progress', '--out', out);
  t.is(r.status, 2);
  t.notRegex(r.stderr, /simulated endpoints/);
});

test('proxy --gates / --schedule: a file that cannot be read or parsed is named as load and analyze name --gates FILE, before anything starts', async (t) => {
  const dir = tempDir('sb-cli-');
  const ends = ['--baseline', 'http://127.0.0.1:9', '--candidate', 'http://127.0.0.1:10', '--out', join(dir, 'run')];
  const missing = join(dir, 'no-such.yaml');
  await t.throwsAsync(proxy([...ends, '--gates', missing]), {
    instanceOf: UsageError,
    message: `--gates ${missing}: cannot read (ENOENT)`,
  });
  await t.throwsAsync(proxy([...ends, '--schedule', missing]), {
    instanceOf: UsageError,
    message: `--schedule ${missing}: cannot read (ENOENT)`,
  });
  const bad = join(dir, 'bad.yaml');
  writeFileSync(bad, '[{day: 1, weight: 7}]\n');
  await t.throwsAsync(proxy([...ends, '--schedule', bad]), { instanceOf: UsageError, message: new RegExp(`^--schedule ${bad}: \\S+: `) });
  await t.throwsAsync(proxy([...ends, '--gates', bad]), { instanceOf: UsageError, message: new RegExp(`^--gates ${bad}: `) });
});
