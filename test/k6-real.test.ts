// The k6 engine under the real k6 binary (v1.3.0 + xk6-sse): K6_BIN, or ../shared/tools/k6 beside
// the checkout (CI has it). Without either, every test here is skipped with that reason in its title.
// Short runs against in-process simulated endpoints; the assertions are about completeness and
// outcomes (every planned index recorded once per arm, exit codes, run.json facts), never timings,
// so they hold with both cores busy. Timing agreement with the Node engine is `npm run bench -- k6`.
import test from 'ava';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { once } from 'node:events';
import { parseAllDocuments } from 'yaml';
import { readRecords } from '../io/records-file.ts';
import type { RequestRecord } from '../core/record.ts';
import { run as k6Manifest } from '../cli/k6-manifest.ts';
import { capturingStderr, capturingStdout, startTestSim, tempDir } from './support/load-helpers.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const MAIN = join(ROOT, 'cli/main.ts');
const SHARED_K6 = resolve(ROOT, '../shared/tools/k6');
const K6 = process.env.K6_BIN ?? (existsSync(SHARED_K6) ? SHARED_K6 : null);
const real = K6 === null ? test.serial.skip : test.serial;
const why = K6 === null ? ' [skipped: no real k6 — set K6_BIN or put k6 at ../shared/tools/k6]' : '';

const dir = tempDir('sb-k6-real-');
const workload = join(dir, 'workload.jsonl');
writeFileSync(
  workload,
  Array.from({ length: 4 }, (_, i) =>
    JSON.stringify({ id: `item-${i}`, messages: [{ role: 'user', content: `count to ${i + 3}` }], max_tokens: 8 }),
  ).join('\n') + '\n',
);
const K6_ENV = { ...process.env, K6_BIN: K6 ?? '', K6_AUTO_EXTENSION_RESOLUTION: 'false' };

interface LoadRun {
  code: number | null;
  out: string;
  output: string;
  records: RequestRecord[];
  manifest: {
    interrupted: string | null;
    warnings: string[];
    k6: { exit_code: number; planned: Record<string, number> | null; summaries: unknown[] };
  };
}

/** `npm run load -- --engine k6 …` as a child process; `onStart` gets it (e.g. to send Ctrl-C). */
async function load(
  name: string,
  urls: [string, string],
  extra: string[],
  onStart?: (pid: number, out: string) => Promise<void>,
): Promise<LoadRun> {
  const out = join(dir, name);
  const child = spawn(
    process.execPath,
    [
      MAIN,
      'load',
      '--engine',
      'k6',
      '--baseline',
      urls[0],
      '--candidate',
      urls[1],
      '--workload',
      workload,
      '--no-progress',
      '--no-preflight',
      '--no-analyze',
      '--timeout',
      '10',
      '--k6-expected-latency',
      '500',
      '--out',
      out,
      ...extra,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], env: K6_ENV },
  );
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => (output += s));
  child.stderr.setEncoding('utf8').on('data', (s: string) => (output += s));
  const exited = once(child, 'exit') as Promise<[number | null]>;
  if (onStart) await onStart(child.pid!, out);
  const [code] = await exited;
  const records = existsSync(join(out, 'records.jsonl')) ? (await readRecords(join(out, 'records.jsonl'))).records : [];
  const manifest = JSON.parse(readFileSync(join(out, 'run.json'), 'utf8')) as LoadRun['manifest'];
  return { code, out, output, records, manifest };
}

const byArm = (records: RequestRecord[], arm: string) =>
  records
    .filter((r) => r.arm === arm)
    .map((r) => r.index)
    .sort((a, b) => a - b);
const range = (n: number) => Array.from({ length: n }, (_, i) => i);

real(`streaming run: every planned index recorded once per arm, all ok, planned per arm in run.json${why}`, async (t) => {
  const [a, b] = [await startTestSim(t), await startTestSim(t, { profile: 'dynamo-disaggregated', seed: 2 })];
  const run = await load('sse', [a.url, b.url], ['--qps', '5', '--requests', '6', '--warmup', '1']);
  t.is(run.code, 0, run.output);
  for (const arm of ['baseline', 'candidate']) t.deepEqual(byArm(run.records, arm), range(7), `${arm} indices`);
  for (const r of run.records) {
    t.is(r.outcome.kind, 'ok', JSON.stringify(r.outcome));
    t.is(r.source, 'k6');
    t.true(r.token_timing && r.content_ns.length > 0 && r.output_text.length > 0);
  }
  t.deepEqual(run.manifest.k6.planned, { baseline: 7, candidate: 7 });
  t.is(run.manifest.k6.exit_code, 0);
  t.false(
    run.manifest.warnings.some((w) => w.startsWith('dropped_iterations')),
    'no drop, no dropped-iterations warning',
  );
  // Stock k6 has only Date.now: the run says so (see k6/README.md, "Time and precision").
  t.true(
    run.manifest.warnings.some((w) => w.startsWith('k6 timestamps: Date.now (1 ms steps)')),
    run.manifest.warnings.join('\n'),
  );
});

real(`buffered mode: core k6/http, every index once per arm, token timing not measured${why}`, async (t) => {
  const [a, b] = [await startTestSim(t), await startTestSim(t, { seed: 2 })];
  const run = await load('buffered', [a.url, b.url], ['--qps', '5', '--requests', '4', '--k6-mode', 'buffered']);
  t.is(run.code, 0, run.output);
  for (const arm of ['baseline', 'candidate']) t.deepEqual(byArm(run.records, arm), range(4));
  for (const r of run.records) {
    t.is(r.outcome.kind, 'ok', JSON.stringify(r.outcome));
    t.is(r.source, 'k6-buffered');
    t.false(r.token_timing);
    t.deepEqual(r.content_ns, []);
    t.true(r.output_text.length > 0);
  }
});

real(`an injected candidate error rate fails the k6 threshold (k6 exit 99); the failures are records${why}`, async (t) => {
  const [a, b] = [await startTestSim(t), await startTestSim(t, { seed: 3, faults: { errorRate: 1, errorStatus: 503 } })];
  const run = await load('errors', [a.url, b.url], ['--qps', '5', '--requests', '4']);
  t.is(run.code, 0, run.output); // --no-analyze: the verdict is not asked for
  t.is(run.manifest.k6.exit_code, 99, 'k6: thresholds crossed');
  t.true(
    run.manifest.warnings.some((w) => w.startsWith('k6 thresholds crossed: request_failed{arm:candidate} rate<=0.01')),
    run.manifest.warnings.join('\n'),
  );
  t.deepEqual(byArm(run.records, 'candidate'), range(4), 'failed requests are records too');
  for (const r of run.records.filter((r) => r.arm === 'candidate')) t.like(r.outcome, { kind: 'http_error', status: 503 });
  for (const r of run.records.filter((r) => r.arm === 'baseline')) t.is(r.outcome.kind, 'ok');
});

real(`Ctrl-C is forwarded to k6: it stops, what it wrote is converted, exit 130${why}`, async (t) => {
  const [a, b] = [await startTestSim(t), await startTestSim(t, { seed: 2 })];
  const run = await load('sigint', [a.url, b.url], ['--qps', '5', '--requests', '300'], async (pid, out) => {
    // Once k6 has printed some records (it is mid-run: 300 requests at 5/s), press Ctrl-C once.
    const consoleFile = join(out, 'k6-console.log');
    for (let i = 0; i < 6000; i++) {
      if (existsSync(consoleFile) && statSync(consoleFile).size > 0 && readFileSync(consoleFile, 'utf8').includes('"source":"k6"')) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    process.kill(pid, 'SIGINT');
  });
  t.is(run.code, 130, run.output);
  t.is(run.manifest.interrupted, 'SIGINT (forwarded to k6)');
  t.true(run.records.length > 0 && run.records.length < 600, `${run.records.length} records`);
  // k6 ran handleSummary after the abort: planned is known and covers every record.
  const planned = run.manifest.k6.planned!;
  t.truthy(planned);
  for (const arm of ['baseline', 'candidate']) {
    const indices = byArm(run.records, arm);
    t.is(new Set(indices).size, indices.length, 'no index twice');
    t.true(indices.length <= planned[arm]!);
  }
});

real(`a two-segment split (as k6-operator runs it) merged by k6:manifest --collect: every index once per arm${why}`, async (t) => {
  const [a, b] = [await startTestSim(t), await startTestSim(t, { seed: 2 })];
  const runDir = join(dir, 'split');
  const made = await capturingStderr(() =>
    capturingStdout(() =>
      k6Manifest([
        '--baseline',
        a.url,
        '--candidate',
        b.url,
        '--workload',
        workload,
        '--qps',
        '6',
        '--requests',
        '9',
        '--timeout',
        '10',
        '--k6-expected-latency',
        '500',
        '--parallelism',
        '2',
        '--out',
        runDir,
      ]),
    ),
  );
  t.is(made.value.value, 0);
  // What the pods get: the ConfigMaps' files (config pointed at the local copy of the workload).
  const docs = parseAllDocuments(readFileSync(join(runDir, 'testrun.yaml'), 'utf8')).map(
    (d) => d.toJS() as { data?: Record<string, string> },
  );
  const pod = join(dir, 'split-pod');
  mkdirSync(pod, { recursive: true });
  writeFileSync(join(pod, 'shadow.js'), docs[0]!.data!['shadow.js']!);
  writeFileSync(join(pod, 'workload.jsonl'), docs[1]!.data!['workload.jsonl']!);
  const config = JSON.parse(docs[0]!.data!['config.json']!) as Record<string, unknown>;
  writeFileSync(join(pod, 'config.json'), JSON.stringify({ ...config, workload_file: join(pod, 'workload.jsonl') }));
  // Two runners at once, each with its segment; its stdout (console lines and summary) goes through a
  // pipe into its log, as a pod's does. --address: each runner its own REST API port (pods have their own network).
  const runner = async (segment: string, log: string): Promise<number | null> => {
    const args = [
      'run',
      '--no-usage-report',
      '--console-output',
      '/dev/stdout',
      '--log-format',
      'raw',
      '--quiet',
      '--address',
      '127.0.0.1:0',
    ];
    const child = spawn(
      'bash',
      [
        '-c',
        'set -o pipefail; "$0" "$@" | cat > "$LOG"',
        K6!,
        ...args,
        '--execution-segment',
        segment,
        '--execution-segment-sequence',
        '0,1/2,1',
        join(pod, 'shadow.js'),
      ],
      { stdio: ['ignore', 'ignore', 'inherit'], env: { ...K6_ENV, SB_CONFIG_FILE: join(pod, 'config.json'), LOG: log } },
    );
    const [code] = (await once(child, 'exit')) as [number | null];
    return code;
  };
  const logs = [join(runDir, 'runner-0.log'), join(runDir, 'runner-1.log')];
  const codes = await Promise.all([runner('0:1/2', logs[0]!), runner('1/2:1', logs[1]!)]);
  t.deepEqual(codes, [0, 0]);
  const collected = await capturingStderr(() => capturingStdout(() => k6Manifest(['--collect', runDir, ...logs])));
  t.is(collected.value.value, 0);
  const { records } = await readRecords(join(runDir, 'records.jsonl'));
  for (const arm of ['baseline', 'candidate']) t.deepEqual(byArm(records, arm), range(9), `${arm}: every index exactly once`);
  t.true(records.every((r) => r.outcome.kind === 'ok'));
  const manifest = JSON.parse(readFileSync(join(runDir, 'run.json'), 'utf8')) as LoadRun['manifest'];
  t.deepEqual(manifest.k6.planned, { baseline: 9, candidate: 9 }, 'planned summed over the two runners');
  t.is(manifest.k6.summaries.length, 2);
  t.deepEqual(new Set(records.map((r) => r.instance)), new Set(['0:1/2', '1/2:1']));
});
