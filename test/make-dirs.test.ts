// io/make-dirs.ts: mkdir -p that fails with the folder's errno error instead of looping.
import test from 'ava';
import { existsSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeDirs, nearestExisting } from '../io/make-dirs.ts';
import { tempDir } from './support/load-helpers.ts';

test('creates every missing folder down the path; an existing path is left as it is', (t) => {
  const dir = tempDir('sb-dirs-');
  const deep = join(dir, 'a', 'b', 'c');
  makeDirs(deep);
  t.true(statSync(deep).isDirectory());
  makeDirs(deep);
  makeDirs(dir);
  t.true(statSync(deep).isDirectory());
});

test('nearestExisting: the path itself, or the nearest part of it that exists', (t) => {
  const dir = tempDir('sb-dirs-');
  t.is(nearestExisting(dir), dir);
  t.is(nearestExisting(join(dir, 'a', 'b')), dir);
  writeFileSync(join(dir, 'f'), 'x');
  t.is(nearestExisting(join(dir, 'f')), join(dir, 'f'), 'a file exists too');
  t.throws(() => nearestExisting(join(dir, 'f', 'sub')), { code: 'ENOTDIR' });
});

test('a file on the path fails with ENOTDIR naming the folder it could not create', (t) => {
  const dir = tempDir('sb-dirs-');
  writeFileSync(join(dir, 'f'), 'x');
  t.throws(() => makeDirs(join(dir, 'f', 'sub')), { code: 'ENOTDIR', message: new RegExp(join(dir, 'f', 'sub')) });
});

// Node's own recursive mkdirSync never returns here (mkdir answers ENOENT under /proc).
test('a folder the file system refuses to create (under /proc) fails at once with ENOENT', (t) => {
  if (!existsSync('/proc/self')) return t.pass('no /proc on this system');
  t.throws(() => makeDirs('/proc/shadowbench-test/run'), { code: 'ENOENT', message: /\/proc\/shadowbench-test/ });
});
