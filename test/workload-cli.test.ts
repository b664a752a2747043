// The workload flags of `shadowbench load` (cli/workload-options.ts) reach openWorkload, and flags
// that only one format reads are refused with the others.
import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LOAD_OPTIONS, prepareRun } from '../cli/load.ts';
import { parseOptions, UsageError } from '../core/options.ts';

const FIXTURES = join(import.meta.dirname, 'fixtures', 'workloads');
const dir = mkdtempSync(join(tmpdir(), 'shadowbench-workload-cli-'));
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

const prepare = (argv: string[]) => {
  const { values, explicit } = parseOptions(LOAD_OPTIONS, [...argv, '--out', join(dir, `run-${Math.random()}`)], {});
  return prepareRun(values, explicit, {});
};

test('azure flags: --max-output-tokens caps, --prefix-tokens shares a prefix, --output-control none drops the extras', async (t) => {
  const { workload, plan } = await prepare([
    '--workload',
    join(FIXTURES, 'azure-conv-head.csv'),
    '--arrival',
    'trace',
    '--max-output-tokens',
    '50',
    '--prefix-tokens',
    '30',
    '--output-control',
    'none',
  ]);
  t.is(workload.format, 'azure');
  t.is(plan.arrival, 'trace');
  const a = workload.item(0).body;
  const b = workload.item(1).body;
  t.deepEqual(Object.keys(a).sort(), ['max_tokens', 'messages', 'model']);
  t.is(a.max_tokens, 44);
  t.is(b.max_tokens, 50); // 109 capped
  const words = (body: Record<string, unknown>) => (body.messages as Array<{ content: string }>)[0]!.content.split(' ');
  t.deepEqual(words(a).slice(0, 30), words(b).slice(0, 30));
  t.is(workload.report.capped, 14); // the fixture rows with GeneratedTokens > 50
});

test('format-specific flags are refused with other formats', async (t) => {
  await t.throwsAsync(prepare(['--workload', join(FIXTURES, 'trace.jsonl'), '--prefix-tokens', '30']), {
    instanceOf: UsageError,
    message: '--prefix-tokens applies to azure workloads; this one is trace',
  });
  await t.throwsAsync(prepare(['--workload', join(FIXTURES, 'chat.jsonl'), '--max-model-len', '4096']), {
    instanceOf: UsageError,
    message: '--max-model-len applies to sharegpt, trace, azure workloads; this one is openai',
  });
  await t.throwsAsync(prepare(['--workload', join(FIXTURES, 'azure-conv-head.csv'), '--prefix-groups', '3']), {
    instanceOf: UsageError,
    message: /--prefix-groups needs --prefix-tokens/,
  });
});

test('--max-model-len on a trace: skipped lines counted; every line skipped is a --workload error naming the reason', async (t) => {
  const { workload } = await prepare(['--workload', join(FIXTURES, 'trace.jsonl'), '--max-model-len', '100000']);
  t.is(workload.report.examined, workload.length);
  await t.throwsAsync(prepare(['--workload', join(FIXTURES, 'trace.jsonl'), '--max-model-len', '2']), {
    instanceOf: UsageError,
    message: /^--workload: .*trace\.jsonl: every one of the \d+ items was skipped, mostly for prompt\+output over --max-model-len 2/,
  });
});
