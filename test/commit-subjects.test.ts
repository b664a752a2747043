// CONTRIBUTING.md's rule: a commit subject of at most 72 characters (the why and the figures go in
// the body). Checked for every commit after GRANDFATHERED, the last commit before the check existed
// (about twenty older subjects are longer; history is not rewritten). Skipped, saying why, where
// there is no git history (an export or a shallow clone without that commit).
import test from 'ava';
import { execFileSync } from 'node:child_process';

const GRANDFATHERED = 'a8cbec7';
const LIMIT = 72;

function subjectsSince(base: string): string[] | null {
  try {
    execFileSync('git', ['cat-file', '-e', `${base}^{commit}`], { stdio: 'ignore' });
    return execFileSync('git', ['log', '--format=%h %s', `${base}..HEAD`], { encoding: 'utf8' })
      .split('\n')
      .filter(Boolean);
  } catch {
    return null;
  }
}

const subjects = subjectsSince(GRANDFATHERED);
const run = subjects === null ? test.skip : test;

run(
  `commit subjects after ${GRANDFATHERED} are at most ${LIMIT} characters${subjects === null ? ' [skipped: no git history]' : ''}`,
  (t) => {
    const long = (subjects ?? []).filter((line) => line.slice(line.indexOf(' ') + 1).length > LIMIT);
    t.deepEqual(long, [], `shorten these subjects (move the detail into the body): ${long.join(' | ')}`);
  },
);
