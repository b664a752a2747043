// Streamed workloads (io/workload-file.ts openWorkload): a trace file becomes a compact index and
// each request is synthesised when it is needed, the same on every thread, with memory bounded by
// the block cache, not by the file.
import test from 'ava';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Worker } from 'node:worker_threads';
import { createPlan } from '../core/plan.ts';
import { parseTraceJsonl } from '../core/workload/trace.ts';
import { loadRunManifest, type LoadConfig } from '../engine/config.ts';
import { openWorkload, workloadSpec } from '../io/workload-file.ts';
import { generateMooncakeLikeTrace, writeMooncakeLikeTrace } from '../workloads/generate-trace.ts';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const dir = mkdtempSync(join(tmpdir(), 'shadowbench-lazy-'));
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

const SMALL = join(dir, 'small.jsonl');
writeFileSync(SMALL, generateMooncakeLikeTrace(400, 5));
const eagerSmall = parseTraceJsonl(readFileSync(SMALL, 'utf8'), { file: SMALL, seed: 9 });

test('item(i) equals the eager parse, on two sources, and after the block cache has evicted', async (t) => {
  const a = await openWorkload(SMALL, { seed: 9 });
  const b = await openWorkload(SMALL, { seed: 9 });
  const tiny = await openWorkload(SMALL, { seed: 9, blockCacheChars: 10_000 }); // about 3 blocks
  t.is(a.format, 'trace');
  t.is(a.length, 400);
  for (const i of [0, 1, 7, 123, 399, 7, 0]) {
    t.deepEqual(a.item(i), eagerSmall[i]);
    t.deepEqual(b.item(i), eagerSmall[i]);
    t.deepEqual(tiny.item(i), eagerSmall[i]);
  }
  t.deepEqual(
    Array.from(a.timestamps!),
    eagerSmall.map((i) => i.timestamp_ms),
  );
  t.deepEqual(a.apis, ['chat']);
  t.deepEqual(a.models, ['meta-llama/Llama-3.1-8B-Instruct']);
});

test('a worker thread rebuilds the same source from its spec (the index is shared, not copied)', async (t) => {
  const source = await openWorkload(SMALL, { seed: 9 });
  const spec = workloadSpec(source);
  t.is(spec.kind, 'file');
  if (spec.kind === 'file') t.true(spec.columns.offsets.buffer instanceof SharedArrayBuffer);
  const worker = new Worker(new URL('./support/workload-source-worker.ts', import.meta.url), { workerData: { spec, index: 5 } });
  const reply = await new Promise<{ length: number; item: unknown; timestamp: number | null }>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  await worker.terminate();
  t.is(reply.length, 400);
  t.deepEqual(reply.item, source.item(5));
  t.is(reply.timestamp, eagerSmall[5]!.timestamp_ms);
});

test('--sample picks seeded line indices: reproducible, seed-dependent, in file (time) order, same as the eager path', async (t) => {
  const ids = async (seed: number) => {
    const s = await openWorkload(SMALL, { seed, sample: 100 });
    return Array.from({ length: s.length }, (_, i) => s.item(i).id);
  };
  const first = await ids(1);
  t.is(first.length, 100);
  t.deepEqual(await ids(1), first);
  t.notDeepEqual(await ids(2), first);
  const lines = first.map((id) => Number(id.slice('line-'.length)));
  t.deepEqual(
    lines,
    [...lines].sort((x, y) => x - y),
  );
  const sampled = await openWorkload(SMALL, { seed: 1, sample: 100 });
  const ts = Array.from(sampled.timestamps!);
  t.true(ts.every((x, i) => i === 0 || x >= ts[i - 1]!));
  t.true(sampled.report.notes.some((n) => n.endsWith('sampled 100 of 400 items (seed 1)')));
  // The parser's sampling (openai/sharegpt, k6) keeps the same lines.
  const { parseWorkload } = await import('../core/workload/workload.ts');
  const eager = parseWorkload(readFileSync(SMALL, 'utf8'), { file: SMALL, seed: 1, sample: 100 });
  t.deepEqual(
    eager.items.map((i) => i.id),
    first,
  );
  await t.throwsAsync(openWorkload(SMALL, { seed: 1, sample: 401 }), { message: /sample 401 must be an integer from 1 to the 400 items/ });
});

test('filters on the index: --max-model-len skips lines, counted in the report and in run.json warnings', async (t) => {
  const rows = readFileSync(SMALL, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { input_length: number; output_length: number });
  const over = rows.filter((r) => r.input_length + Math.min(r.output_length, 100) > 16_000).length;
  t.true(over > 0 && over < 400);
  const source = await openWorkload(SMALL, { seed: 9, filters: { maxModelLen: 16_000, maxOutputTokens: 100 } });
  t.is(source.length, 400 - over);
  t.like(source.report, { examined: 400, kept: 400 - over, skipped: { 'prompt+output over --max-model-len 16000': over } });
  t.true((source.item(0).body.max_tokens as number) <= 100);
  const manifest = loadRunManifest(
    {
      runId: 'r',
      seed: 9,
      arms: [],
      workload: source,
      workloadPath: SMALL,
      plan: { arrival: 'constant', qps: 1, requests: 10, warmup: 0, seed: 9 },
    } as unknown as LoadConfig,
    { engine: 'node', started_at: 'a', ended_at: 'b', config: {}, versions: {}, interrupted: false } as never,
  );
  t.deepEqual(manifest.workload, { path: SMALL, format: 'trace', items: 400 - over, models: ['meta-llama/Llama-3.1-8B-Instruct'] });
  t.regex(
    manifest.warnings[0]!,
    new RegExp(`kept ${400 - over} of 400; skipped ${over} \\(prompt\\+output over --max-model-len 16000: ${over}\\)`),
  );
});

test('the plan reads only timestamps: a source whose item() throws still plans constant, poisson and trace', async (t) => {
  const real = await openWorkload(SMALL, { seed: 9 });
  const spy = {
    ...real,
    source: real.source,
    format: real.format,
    length: real.length,
    timestamps: real.timestamps,
    apis: real.apis,
    models: real.models,
    report: real.report,
    item: (): never => {
      throw new Error('the plan built an item');
    },
  };
  for (const options of [
    { arrival: 'constant', qps: 10, requests: 1000 },
    { arrival: 'poisson', qps: 10, requests: 1000 },
    { arrival: 'trace', requests: 1000 },
  ] as const) {
    const plan = createPlan(spy, { ...options, seed: 1 });
    t.is(plan.total, 1000);
    for (let i = 0; i < plan.total; i++) plan.scheduledNs(i);
  }
  t.is(createPlan(spy, { arrival: 'trace', seed: 1 }).scheduledNs(5), Math.round((real.timestamps![5]! - real.timestamps![0]!) * 1e6));
});

test('heap bound: a 24k-line Mooncake-shaped trace opens and serves 200 items in far less heap than its prompts', async (t) => {
  const path = join(dir, 'big.jsonl');
  writeMooncakeLikeTrace(path, 24_000, 1);
  const rows = readFileSync(path, 'utf8')
    .trim()
    .split('\n')
    .map((l) => (JSON.parse(l) as { input_length: number }).input_length);
  const words = rows.reduce((a, b) => a + b, 0);
  // Eager synthesis would hold every prompt: ≥ 5 bytes a word (a space and a ≥ 4-letter word on average).
  t.true(words * 5 > 700 * 2 ** 20, `${words} words`);
  gc();
  const before = process.memoryUsage().heapUsed;
  const source = await openWorkload(path, { seed: 1 });
  t.is(source.length, 24_000);
  let chars = 0;
  for (let k = 0; k < 200; k++) chars += (source.item((k * 7919) % 24_000).body.messages as Array<{ content: string }>)[0]!.content.length;
  t.true(chars > 200 * 1000);
  gc();
  const grown = (process.memoryUsage().heapUsed - before) / 2 ** 20;
  t.true(grown < 64, `heap grew ${grown.toFixed(1)} MiB`);
  t.truthy(source); // kept alive across the measurement
});

test('openWorkload reads ShareGPT whole, counting with o200k by default (or the estimate), skips in the report', async (t) => {
  const path = join(dir, 'conv.json');
  const reply = '当然可以。前缀缓存让共享同一系统提示的请求只计算一次键值缓存，从而缩短首个令牌的延迟。';
  writeFileSync(
    path,
    JSON.stringify([
      {
        id: 'a',
        conversations: [
          { from: 'human', value: '请解释一下前缀缓存。' },
          { from: 'gpt', value: reply },
        ],
      },
      { id: 'b', conversations: [{ from: 'human', value: 'one turn only' }] },
    ]),
  );
  const { loadTokenCounter } = await import('../io/tokenizer.ts');
  const { counter } = await loadTokenCounter('o200k');
  const source = await openWorkload(path, { seed: 1 });
  t.is(source.format, 'sharegpt');
  t.is(source.length, 1);
  t.is(source.item(0).body.max_tokens, counter.count(reply));
  t.like(source.report, { tokenizer: 'o200k_base (gpt-tokenizer)', skipped: { 'fewer than 2 turns': 1 } });
  const estimated = await openWorkload(path, { seed: 1, tokenizer: 'estimate' });
  t.regex(estimated.report.tokenizer!, /^estimate/);
});
