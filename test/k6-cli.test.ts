// runK6Load without k6: the missing-binary message, and the exact `k6 run` command line it would run.
// The stand-in K6_BIN only writes down how it was called and exits non-zero: it never pretends to
// be k6 (no output, no records), so what is tested is the command line and the folder set-up.
import test from 'ava';
import { chmodSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseWorkload } from '../core/workload/workload.ts';
import type { LoadConfig } from '../engine/config.ts';
import { findK6, K6_MISSING_EXIT, runK6Load } from '../cli/load-k6.ts';
import { run as load } from '../cli/load.ts';
import { DEFAULT_GATES, parseGates } from '../analysis/gates.ts';
import { bundleStatus } from '../k6/build.ts';
import { gatesToThresholds } from '../k6/script/thresholds.ts';
import { UsageError } from '../core/options.ts';
import { capturingStderr, capturingStdout } from './support/load-helpers.ts';

const dir = mkdtempSync(join(tmpdir(), 'sb-k6-cli-'));
const workloadText =
  Array.from({ length: 3 }, (_, i) =>
    JSON.stringify({ id: `q${i}`, messages: [{ role: 'user', content: `hi ${i}` }], max_tokens: 4 }),
  ).join('\n') + '\n';

function loadConfig(runDir: string): LoadConfig {
  return {
    engine: 'k6',
    runId: 'run-cli',
    runDir,
    arms: [
      { arm: 'baseline', url: 'http://127.0.0.1:9', model: null, headers: { authorization: 'Bearer SECRET-B' }, simulatedProfile: null },
      { arm: 'candidate', url: 'http://127.0.0.1:10', model: 'cand-model', headers: {}, simulatedProfile: null },
    ],
    workload: parseWorkload(workloadText, { file: 'w.jsonl', seed: 1, model: 'm' }),
    workloadPath: 'w.jsonl',
    plan: { arrival: 'constant', qps: 5, requests: 4, warmup: 1, seed: 1, order: 'sequential' },
    seed: 1,
    stream: true,
    timeoutMs: 20_000,
    graceMs: 0,
    maxInflight: 0,
    workers: 0,
    pacer: 'clock',
    preflight: false,
    progress: false,
    options: {},
  };
}

test.serial('no k6: exit 2 with how to install k6 ≥ 1.2 and the xk6-sse extension', async (t) => {
  process.env.K6_BIN = join(dir, 'no-such-k6');
  const { value, stderr } = await capturingStderr(() => runK6Load(loadConfig(join(dir, 'run-missing'))));
  t.is(value.exitCode, K6_MISSING_EXIT);
  t.regex(stderr, /needs grafana k6 v1\.2 or newer/);
  t.regex(stderr, /github\.com\/grafana\/k6\/releases/);
  t.regex(stderr, /xk6 build --with github\.com\/phymbert\/xk6-sse/);
  t.regex(stderr, /K6_BIN=.*no-such-k6 is not an executable file/);
  t.is(findK6({ PATH: dir }), null);
});

test.serial(
  'k6 present: builds the bundle, empties the console file, passes the exact arguments; secrets only in the environment',
  async (t) => {
    const calls = join(dir, 'calls.jsonl');
    const fake = join(dir, 'k6');
    writeFileSync(
      fake,
      `#!/bin/sh\nprintf '%s\\n' "{\\"argv\\": \\"$*\\", \\"config\\": \\"$SB_CONFIG_FILE\\", \\"headers\\": $([ -n "$SB_HEADERS" ] && echo true || echo false)}" >> ${calls}\nexit 3\n`,
    );
    chmodSync(fake, 0o755);
    process.env.K6_BIN = fake;
    const runDir = join(dir, 'run-argv');
    const listeners = () => [process.listenerCount('SIGINT'), process.listenerCount('exit')];
    const before = listeners();
    const { value } = await capturingStderr(() => runK6Load(loadConfig(runDir)));
    t.is(value.exitCode, 2, 'no records: the run failed');
    t.is(value.interrupts, 0);
    t.deepEqual(listeners(), before, 'the Ctrl-C handlers are removed when k6 has exited');
    const lines = readFileSync(calls, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { argv: string; config: string; headers: boolean });
    t.is(lines.length, 2);
    t.is(lines[0]!.argv, 'version');
    const bundle = bundleStatus().file;
    t.is(lines[1]!.argv, `run --no-usage-report --console-output ${join(runDir, 'k6-console.log')} --log-format raw --quiet ${bundle}`);
    t.is(lines[1]!.config, join(runDir, 'k6-config.json'));
    t.true(lines[1]!.headers);
    t.false(bundleStatus().stale);
    t.is(readFileSync(join(runDir, 'k6-console.log'), 'utf8'), '');
    const config = JSON.parse(readFileSync(join(runDir, 'k6-config.json'), 'utf8'));
    t.is(config.total_requests, 5);
    t.is(config.warmup, 1);
    t.deepEqual(config.arms, [
      { arm: 'baseline', url: 'http://127.0.0.1:9', model: null },
      { arm: 'candidate', url: 'http://127.0.0.1:10', model: 'cand-model' },
    ]);
    for (const file of ['k6-config.json', 'run.json', 'k6-workload.jsonl'])
      t.false(readFileSync(join(runDir, file), 'utf8').includes('SECRET-B'), file);
    const manifest = JSON.parse(readFileSync(join(runDir, 'run.json'), 'utf8'));
    t.is(manifest.engine, 'k6');
    t.is(manifest.status, 'failed', 'k6 failed: the run is not complete');
    t.is(manifest.error, 'k6 exit 3 (error)');
    t.is(manifest.interrupted, null);
    t.deepEqual(manifest.planned, { baseline: 5, candidate: 5 }, 'planned requests per arm, warm-up included');
    t.true(manifest.warnings.includes('k6 exited 3 (see k6 output)'));
    t.is(manifest.dropped_iterations, null);
    t.true(existsSync(join(runDir, 'records.jsonl')));
    t.is(readFileSync(join(runDir, 'records.jsonl'), 'utf8'), '');
  },
);

test.serial('the resolved workload file re-parses to the same items', async (t) => {
  const { resolvedWorkloadJsonl } = await import('../cli/load-k6.ts');
  const original = parseWorkload(workloadText, { file: 'w.jsonl', seed: 1, model: 'm' });
  const again = parseWorkload(resolvedWorkloadJsonl(original), { file: 'k6-workload.jsonl', seed: 1, format: 'openai' });
  t.deepEqual(again.items, original.items);
});

test.serial(
  'load --engine k6: --k6-mode, --k6-max-vus, --k6-expected-latency and --gates reach the k6 script config and run.json',
  async (t) => {
    // The same kind of stand-in: it only exits non-zero, so the run has no records and load stops before any analysis.
    const fake = join(dir, 'k6-exit-3');
    writeFileSync(fake, '#!/bin/sh\nexit 3\n');
    chmodSync(fake, 0o755);
    process.env.K6_BIN = fake;
    const gates = join(dir, 'gates.yaml');
    writeFileSync(gates, 'rollback:\n  max_candidate_error_rate: 0.02\n');
    const common = [
      '--engine',
      'k6',
      '--baseline',
      'http://127.0.0.1:9',
      '--candidate',
      'http://127.0.0.1:10',
      '--no-preflight',
      '--no-progress',
      '--qps',
      '5',
      '--requests',
      '3',
    ];
    const flagged = join(dir, 'run-load-flags');
    const { value: code } = await capturingStderr(() =>
      load([...common, '--k6-mode', 'buffered', '--k6-max-vus', '7', '--k6-expected-latency', '1500', '--gates', gates, '--out', flagged]),
    );
    t.is(code, 2, 'no records: the run failed');
    const config = JSON.parse(readFileSync(join(flagged, 'k6-config.json'), 'utf8'));
    t.is(config.mode, 'buffered');
    t.is(config.max_vus, 7);
    t.is(config.expected_latency_s, 1.5);
    t.deepEqual(config.thresholds, gatesToThresholds(parseGates(readFileSync(gates, 'utf8'), gates)));
    t.notDeepEqual(config.thresholds, gatesToThresholds(DEFAULT_GATES));
    t.like(JSON.parse(readFileSync(join(flagged, 'run.json'), 'utf8')).config, {
      k6Mode: 'buffered',
      k6MaxVus: 7,
      k6ExpectedLatency: 1.5,
      gates,
    });

    // Defaults: streaming (k6's "sse"), unless --no-stream; the expected latency never exceeds --timeout.
    const defaults = join(dir, 'run-load-defaults');
    await capturingStderr(() => load([...common, '--out', defaults]));
    t.like(JSON.parse(readFileSync(join(defaults, 'k6-config.json'), 'utf8')), { mode: 'sse', max_vus: 0, expected_latency_s: 3 });
    const buffered = join(dir, 'run-load-no-stream');
    await capturingStderr(() => load([...common, '--no-stream', '--timeout', '1', '--out', buffered]));
    t.like(JSON.parse(readFileSync(join(buffered, 'k6-config.json'), 'utf8')), { mode: 'buffered', expected_latency_s: 1 });
  },
);

test.serial(
  'k6:manifest takes the k6 flags of load --engine k6: same declarations, --k6-mode streaming|buffered, --k6-expected-latency in ms',
  async (t) => {
    const { K6_MANIFEST_OPTIONS, run: manifest } = await import('../cli/k6-manifest.ts');
    const { LOAD_OPTIONS } = await import('../cli/load.ts');
    for (const key of ['k6Mode', 'k6MaxVus', 'k6ExpectedLatency'] as const) t.is(K6_MANIFEST_OPTIONS[key], LOAD_OPTIONS[key], key);
    const workload = join(dir, 'manifest-workload.jsonl');
    writeFileSync(workload, workloadText);
    const common = [
      '--baseline',
      'http://127.0.0.1:9',
      '--candidate',
      'http://127.0.0.1:10',
      '--workload',
      workload,
      '--qps',
      '5',
      '--requests',
      '3',
    ];
    const flagged = join(dir, 'manifest-flags');
    const { value: code } = await capturingStderr(() =>
      capturingStdout(() =>
        manifest([...common, '--k6-mode', 'buffered', '--k6-max-vus', '7', '--k6-expected-latency', '1500', '--out', flagged]),
      ),
    );
    t.is(code.value, 0);
    t.like(JSON.parse(readFileSync(join(flagged, 'k6-config.json'), 'utf8')), { mode: 'buffered', max_vus: 7, expected_latency_s: 1.5 });
    t.like(JSON.parse(readFileSync(join(flagged, 'run.json'), 'utf8')).config, { k6Mode: 'buffered', k6MaxVus: 7, k6ExpectedLatency: 1.5 });
    t.true(
      readFileSync(join(flagged, 'testrun.yaml'), 'utf8').includes('"expected_latency_s": 1.5'),
      'the ConfigMap carries the same config',
    );

    // Defaults as for load: streaming (the script's "sse"), 3000 ms capped at --timeout; --no-stream selects buffered.
    const defaults = join(dir, 'manifest-defaults');
    await capturingStderr(() => capturingStdout(() => manifest([...common, '--timeout', '2', '--out', defaults])));
    t.like(JSON.parse(readFileSync(join(defaults, 'k6-config.json'), 'utf8')), { mode: 'sse', max_vus: 0, expected_latency_s: 2 });
    const noStream = join(dir, 'manifest-no-stream');
    await capturingStderr(() => capturingStdout(() => manifest([...common, '--no-stream', '--out', noStream])));
    t.like(JSON.parse(readFileSync(join(noStream, 'k6-config.json'), 'utf8')), { mode: 'buffered', expected_latency_s: 3 });

    // The old spellings are refused naming what is accepted; contradictions fail as in load.
    await t.throwsAsync(manifest([...common, '--k6-mode', 'sse']), {
      instanceOf: UsageError,
      message: '--k6-mode: got "sse"; expected one of streaming, buffered',
    });
    await t.throwsAsync(manifest([...common, '--k6-expected-latency', '0.5']), {
      instanceOf: UsageError,
      message: /--k6-expected-latency: got "0.5"; expected a number ≥ 1/,
    });
    await t.throwsAsync(manifest([...common, '--k6-mode', 'streaming', '--no-stream']), {
      instanceOf: UsageError,
      message: /--k6-mode streaming contradicts --no-stream/,
    });
  },
);
