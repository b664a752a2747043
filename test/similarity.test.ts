import test from 'ava';
import { readFileSync } from 'node:fs';
import { codePointLength, consistentShare, similarityRatio } from '../analysis/stats/similarity.ts';

interface CorpusPair {
  kind: string;
  a: string;
  b: string;
  ratio: string;
}
const corpus = JSON.parse(readFileSync(new URL('./fixtures/analysis/similarity-corpus.json', import.meta.url), 'utf8')) as {
  python: string;
  pairs: CorpusPair[];
};

test('the corpus is big enough and covers the cases that matter', (t) => {
  t.true(corpus.pairs.length >= 300);
  const kinds = new Set(corpus.pairs.map((p) => p.kind));
  for (const kind of ['edge', 'identical', 'unicode', 'long-text', 'autojunk-boundary', 'all-popular', 'emoji-autojunk'])
    t.true(kinds.has(kind), kind);
  t.true(corpus.pairs.some((p) => p.a === '' && p.b === ''));
  t.true(corpus.pairs.some((p) => codePointLength(p.b) >= 200 && /(\b\w+\b).*\b\1\b/.test(p.b)));
});

test("similarityRatio equals CPython's SequenceMatcher(None, a, b).ratio() on every corpus pair", (t) => {
  const wrong: string[] = [];
  for (const [i, p] of corpus.pairs.entries()) {
    const got = similarityRatio(p.a, p.b);
    if (got !== Number(p.ratio)) wrong.push(`#${i} (${p.kind}): expected ${p.ratio}, got ${got}`);
  }
  t.deepEqual(wrong, [], `python ${corpus.python}`);
});

test('the docstring examples', (t) => {
  t.is(similarityRatio('abcd', 'bcde'), 0.75);
  t.is(similarityRatio('', ''), 1.0);
  t.is(similarityRatio('abc', ''), 0);
  t.is(similarityRatio('abxcd', 'abcd'), (2 * 4) / 9);
});

test('astral characters count as one element, as in Python', (t) => {
  t.is(codePointLength('a😀b'), 3);
  // 'a😀b' vs 'a😁b': 2 matches of 6 elements; by UTF-16 units it would be 3 (shared high surrogate) of 8.
  t.is(similarityRatio('a😀b', 'a😁b'), (2 * 2) / 6);
});

test('results do not depend on earlier calls (scratch buffers are reset)', (t) => {
  const long = 'x'.repeat(5000) + 'abc';
  const first = similarityRatio('abcd', 'bcde');
  similarityRatio(long, long.slice(7) + 'zz');
  t.is(similarityRatio('abcd', 'bcde'), first);
});

test('consistentShare counts ratios at or above the threshold', (t) => {
  t.is(consistentShare([0.9, 0.89, 1, 0.5], 0.9), 0.5);
  t.true(Number.isNaN(consistentShare([], 0.9)));
});
