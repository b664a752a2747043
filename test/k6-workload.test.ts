// The workload as it travels to k6 (k6/script/workload.ts): the Node side writes the resolved items,
// the script reads them back without the workload parsers. Same items, ids and order; a file that
// is not one shadowbench wrote is named by file:line.
import test from 'ava';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseWorkload } from '../core/workload/workload.ts';
import { readResolvedWorkload, resolvedWorkloadLine } from '../k6/script/workload.ts';
import { resolvedWorkloadJsonl } from '../cli/load-k6.ts';
import { checkK6Config } from '../k6/script/config.ts';

const chatFile = join(import.meta.dirname, '..', 'workloads', 'sample-chat.jsonl');

test('resolved workload: read back as the items the parser resolved (chat; completions with timestamps)', (t) => {
  const chat = parseWorkload(readFileSync(chatFile, 'utf8'), { file: 'sample-chat.jsonl', seed: 1 });
  t.deepEqual(readResolvedWorkload(resolvedWorkloadJsonl(chat), 'k6-workload.jsonl'), chat.items);
  const completions = parseWorkload(
    ['{"prompt":"a","max_tokens":3,"timestamp_ms":0}', '{"prompt":"b","max_tokens":4,"timestamp_ms":250}'].join('\n'),
    { file: 'c.jsonl', seed: 1, model: 'm' },
  );
  const text = completions.items.map(resolvedWorkloadLine).join('');
  t.deepEqual(readResolvedWorkload(text, 'k6-workload.jsonl'), completions.items);
  t.deepEqual(
    completions.items.map((i) => [i.api, i.timestamp_ms]),
    [
      ['completions', 0],
      ['completions', 250],
    ],
  );
  // The file stays an openai workload: the parser reads it back to the same items.
  t.deepEqual(parseWorkload(text, { file: 'k6-workload.jsonl', seed: 1, format: 'openai' }).items, completions.items);
});

test('resolved workload: anything else is named by file:line', (t) => {
  const good = resolvedWorkloadLine({ id: 'a', api: 'chat', body: { model: 'm', messages: [] }, timestamp_ms: null });
  t.throws(() => readResolvedWorkload(good + '{"messages":[{"role":"user","content":"hi"}]}\n', 'w.jsonl'), {
    message: /^w\.jsonl:2: expected a resolved workload line .*load --engine k6/,
  });
  t.throws(() => readResolvedWorkload(good + '\n{not json\n', 'w.jsonl'), { message: /^w\.jsonl:3: not JSON/ });
  t.throws(() => readResolvedWorkload(good.replace('/v1/chat/completions', '/v1/embeddings'), 'w.jsonl'), { message: /^w\.jsonl:1: / });
  t.throws(() => readResolvedWorkload('\n', 'w.jsonl'), { message: 'w.jsonl: the workload has no items' });
});

test('k6 config: the workload is the resolved one; parse options or other formats are refused, naming the key', (t) => {
  const base = {
    v: 1,
    run_id: 'r',
    mode: 'sse',
    qps: 1,
    total_requests: 1,
    warmup: 0,
    seed: 1,
    order: 'sequential',
    workload_file: '/w.jsonl',
    arms: [{ arm: 'baseline', url: 'http://127.0.0.1:1', model: null }],
    timeout_s: 1,
    expected_latency_s: 1,
    max_vus: 0,
    start_delay_s: 0,
    thresholds: {},
    summary_file: null,
  };
  t.notThrows(() => checkK6Config({ ...base, workload: {} }));
  t.notThrows(() => checkK6Config({ ...base, workload: { format: 'openai' } }));
  for (const workload of [{ format: 'sharegpt' }, { format: 'openai', sample: 10 }])
    t.throws(() => checkK6Config({ ...base, workload }), {
      message: /^shadowbench k6 config: workload: expected \{\} or \{"format": "openai"\}/,
    });
});
