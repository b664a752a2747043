// Target specs of the metrics flags: URL{matchers}, several per flag, @file. Matcher semantics as in
// PromQL (prometheus/prometheus:docs/querying/basics.md): = != =~ !~, regexes fully anchored, a
// missing label reads as "".
import test from 'ava';
import { matches, parseSelector, parseTargetSpec, splitTargets } from '../core/metrics-selector.ts';
import { UsageError } from '../core/options.ts';
import { scrapeTargets } from '../cli/metrics-options.ts';
import { describeTarget } from '../io/prometheus-scrape.ts';

test('operators, escapes, spaces and a trailing comma', (t) => {
  t.deepEqual(parseSelector('{ namespace="llm", pod=~"vllm-.*" ,gpu!="3",Hostname!~"a|b", x="q\\"\\\\\\n",}'), [
    { label: 'namespace', op: '=', value: 'llm' },
    { label: 'pod', op: '=~', value: 'vllm-.*' },
    { label: 'gpu', op: '!=', value: '3' },
    { label: 'Hostname', op: '!~', value: 'a|b' },
    { label: 'x', op: '=', value: 'q"\\\n' },
  ]);
  t.deepEqual(parseSelector('{}'), []);
});

test('bad selectors say what is wrong', (t) => {
  t.throws(() => parseTargetSpec('http://d:9400/metrics{pod="a"'), { message: 'selector must end with "}"' });
  t.throws(() => parseSelector('{pod=~"("}'), { message: /pod=~"\(": not a valid regular expression/ });
  t.throws(() => parseSelector('{pod~"a"}'), { message: /pod: expected one of = != =~ !~/ });
  t.throws(() => parseSelector("{pod='a'}"), { message: /expected a double-quoted value/ });
  t.throws(() => parseSelector('{pod="a" ns="b"}'), { message: /expected "," or "}"/ });
  t.throws(() => parseSelector('{9pod="a"}'), { message: /expected a label name/ });
  t.throws(() => parseSelector('{pod="a\\t"}'), { message: /unknown escape/ });
});

test('matching is anchored and a missing label is ""', (t) => {
  const m = parseSelector('{pod=~"vllm-.*",namespace="llm"}');
  t.true(matches({ pod: 'vllm-worker-a', namespace: 'llm' }, m));
  t.false(matches({ pod: 'x-vllm-worker', namespace: 'llm' }, m));
  t.false(matches({ pod: 'vllm-a' }, m));
  t.false(matches({ pod: 'vllm' }, parseSelector('{pod=~"vll"}')));
  t.true(matches({ gpu: '0' }, parseSelector('{pod=""}')));
  t.false(matches({ gpu: '0', pod: '' }, parseSelector('{pod!=""}')));
  t.true(matches({ gpu: '0' }, parseSelector('{pod!~"other-.*"}')));
});

test('a flag value splits on commas and blanks outside braces and quotes; the URL is cut at the first { after the authority', (t) => {
  t.deepEqual(splitTargets('http://a:8000/metrics,http://b:9090/metrics  http://d:9400/metrics{pod=~"x|y, z",ns="n"}'), [
    'http://a:8000/metrics',
    'http://b:9090/metrics',
    'http://d:9400/metrics{pod=~"x|y, z",ns="n"}',
  ]);
  const spec = parseTargetSpec('http://u:p@d:9400/metrics{pod=~"a"}');
  t.is(spec.url, 'http://u:p@d:9400/metrics');
  t.is(spec.selector, '{pod=~"a"}');
  t.is(describeTarget('http://u:secret@d:9400/metrics{pod=~"a"}').includes('secret'), false);
});

test('scrapeTargets: several URLs per flag and @file (one per line, # comments), errors name flag and file:line', (t) => {
  const files: Record<string, string> = {
    'c.txt': '# frontend\nhttp://fe:8000/metrics\n\nhttp://10.0.0.1:9090/metrics\nhttp://dcgm:9400/metrics{namespace="llm"}\n',
    'bad.txt': 'http://ok:1/metrics\nftp://x/metrics\n',
  };
  const read = (path: string) => {
    const text = files[path];
    if (text === undefined) throw Object.assign(new Error('no'), { code: 'ENOENT' });
    return text;
  };
  t.deepEqual(scrapeTargets({ baselineMetrics: ['http://b:8000/metrics,http://b:9400/metrics'], candidateMetrics: ['@c.txt'] }, read), {
    baseline: ['http://b:8000/metrics', 'http://b:9400/metrics'],
    candidate: ['http://fe:8000/metrics', 'http://10.0.0.1:9090/metrics', 'http://dcgm:9400/metrics{namespace="llm"}'],
  });
  const error = t.throws(() => scrapeTargets({ baselineMetrics: [], candidateMetrics: ['@bad.txt'] }, read), { instanceOf: UsageError });
  t.is(error?.message, '--candidate-metrics @bad.txt:2: ftp: URLs are not supported; expected http(s)');
  t.throws(() => scrapeTargets({ baselineMetrics: ['http://d/metrics{pod=~"["}'], candidateMetrics: [] }, read), {
    message: /^--baseline-metrics: pod=~"\[": not a valid regular expression/,
  });
});
