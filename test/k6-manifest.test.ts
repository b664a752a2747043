// k6:manifest: the k6-operator manifest (golden), the 1 MiB limit per ConfigMap (script and
// workload apart), the command with the shipped default workload, nothing left behind when a
// manifest is refused, its --help, and --collect's errors for a wrong folder or logs without records.
import test from 'ava';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { emptyRecord, serializeRecord } from '../core/record.ts';
import { CONFIGMAP_LIMIT, manifestYaml, POD_FILES, run as manifest, type ManifestInput } from '../cli/k6-manifest.ts';
import { UsageError } from '../core/options.ts';
import { capturingStderr, capturingStdout, tempDir } from './support/load-helpers.ts';

const dir = tempDir('sb-k6-manifest-');
const endpoints = ['--baseline', 'http://127.0.0.1:9', '--candidate', 'http://127.0.0.1:10'];

const input = (over: Partial<ManifestInput> = {}): ManifestInput => ({
  name: 'shadowbench-run-1',
  namespace: 'load',
  parallelism: 4,
  image: 'grafana/k6:1.2.0',
  headersSecret: 'llm-keys',
  bundle: 'export const options = {};\n',
  workloadJsonl: '{"id":"a","body":{"prompt":"x"}}\n',
  configJson: '{"v":1}\n',
  workloadSource: 'w.jsonl',
  ...over,
});

interface Doc {
  kind: string;
  metadata: { name: string };
  data?: Record<string, string>;
  spec?: {
    script: { configMap: { name: string; file: string } };
    runner: Record<string, never> & {
      env: Array<{ name: string; value?: string }>;
      volumes: Array<{ name: string; configMap: { name: string } }>;
      volumeMounts: Array<{ name: string; mountPath: string }>;
    };
  };
}
const documents = (yaml: string): Doc[] => parseAllDocuments(yaml).map((d) => d.toJS() as Doc);

/** Every run of the command with os.tmpdir() pointed at a fresh folder, so the bundle's temporary folder can be checked. */
async function inPrivateTmp<T>(fn: () => Promise<T>): Promise<{ value: T; tmp: string }> {
  const tmp = tempDir('sb-k6-manifest-tmp-');
  const saved = process.env.TMPDIR;
  process.env.TMPDIR = tmp;
  try {
    return { value: await fn(), tmp };
  } finally {
    if (saved === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = saved;
  }
}

test('manifest: a script ConfigMap (bundle + config), a workload ConfigMap, a TestRun mounting both (golden)', (t) => {
  const yaml = manifestYaml(input());
  t.is(yaml, readFileSync(new URL('./golden/k6-testrun.yaml', import.meta.url), 'utf8'));
  // The paths the script reads are where the two ConfigMaps are mounted.
  const [script, workload, testRun] = documents(yaml);
  t.is(testRun!.spec!.script.configMap.name, script!.metadata.name);
  t.is(testRun!.spec!.runner.volumes[0]!.configMap.name, workload!.metadata.name);
  t.deepEqual(Object.keys(script!.data!), ['shadow.js', 'config.json']);
  t.is(POD_FILES.config, '/test/config.json', 'the operator mounts the script ConfigMap at /test');
  t.is(POD_FILES.workload, `${testRun!.spec!.runner.volumeMounts[0]!.mountPath}/${Object.keys(workload!.data!)[0]}`);
  t.is(testRun!.spec!.runner.env[0]!.value, POD_FILES.config);
  t.deepEqual(
    (testRun!.spec as unknown as { initializer: unknown }).initializer,
    testRun!.spec!.runner,
    'the initializer runs the init code too: same env and volumes',
  );
});

test('manifest: each ConfigMap has its own 1 MiB; a piece too big alone is named with what to do', (t) => {
  // Together over the limit, each under it: accepted (the shipped workload is in this case).
  const big = 'x'.repeat(CONFIGMAP_LIMIT - 100);
  const yaml = manifestYaml(input({ bundle: big, workloadJsonl: `${big.slice(0, -1)}\n` }));
  t.deepEqual(
    documents(yaml).map((d) => d.kind),
    ['ConfigMap', 'ConfigMap', 'TestRun'],
  );

  // 2000 items of 600 bytes = 1.2 MB: about 2000 × 1048576 × 0.95 / 1.2 MB items fit.
  const items = Array.from({ length: 2000 }, (_, i) => `${JSON.stringify({ id: `q${i}`, pad: 'p'.repeat(600 - 20 - String(i).length) })}`);
  const workloadJsonl = items.join('\n') + '\n';
  const bytes = Buffer.byteLength(workloadJsonl);
  const fitting = Math.floor((2000 * CONFIGMAP_LIMIT * 0.95) / bytes);
  t.throws(() => manifestYaml(input({ workloadJsonl })), {
    instanceOf: UsageError,
    message: `--workload w.jsonl: the resolved workload is ${bytes} bytes, more than one ConfigMap (shadowbench-run-1-workload) may hold (Kubernetes allows 1048576); use --sample ${fitting} (about that many of its 2000 items fit) or a smaller workload`,
  });
  t.true(Buffer.byteLength(items.slice(0, fitting).join('\n') + '\n') <= CONFIGMAP_LIMIT, 'the suggested sample fits');
  t.throws(() => manifestYaml(input({ workloadJsonl: `${'x'.repeat(CONFIGMAP_LIMIT + 1)}\n` })), {
    message: /use a workload with shorter items$/,
  });
  t.throws(() => manifestYaml(input({ bundle: 'x'.repeat(CONFIGMAP_LIMIT), configJson: '{}\n' })), {
    instanceOf: UsageError,
    message: /^ConfigMap shadowbench-run-1-script would hold 1048579 bytes \(k6 bundle 1048576 \+ config 3; Kubernetes allows 1048576\)/,
  });
});

test.serial('k6:manifest with the shipped default workload: fits, workload in its own ConfigMap, no bundle folder left', async (t) => {
  const out = join(dir, 'default');
  const { value, tmp } = await inPrivateTmp(() => capturingStderr(() => capturingStdout(() => manifest([...endpoints, '--out', out]))));
  t.is(value.value.value, 0);
  t.deepEqual(readdirSync(out).sort(), ['k6-config.json', 'run.json', 'testrun.yaml']);
  t.deepEqual(readdirSync(tmp), [], "the bundle's temporary folder is removed");
  t.regex(value.value.stdout, /kubectl create -f /);
  const [script, workload] = documents(readFileSync(join(out, 'testrun.yaml'), 'utf8'));
  const config = JSON.parse(readFileSync(join(out, 'k6-config.json'), 'utf8'));
  t.is(config.workload_file, POD_FILES.workload);
  t.is(script!.data!['config.json'], readFileSync(join(out, 'k6-config.json'), 'utf8'));
  const lines = workload!.data!['workload.jsonl']!.trimEnd().split('\n');
  const items = readFileSync(new URL('../workloads/sample-chat.jsonl', import.meta.url), 'utf8')
    .trimEnd()
    .split('\n');
  t.is(lines.length, items.length, 'every item of the default workload');
  t.true(Buffer.byteLength(workload!.data!['workload.jsonl']!) <= CONFIGMAP_LIMIT);
});

test.serial(
  'k6:manifest with a workload too big for its ConfigMap: the error says --sample N, nothing is left behind; --sample N works',
  async (t) => {
    const file = join(dir, 'big.jsonl');
    const text =
      Array.from({ length: 1500 }, (_, i) =>
        JSON.stringify({ id: `q${i}`, messages: [{ role: 'user', content: `${i} ${'w'.repeat(900)}` }], max_tokens: 4 }),
      ).join('\n') + '\n';
    writeFileSync(file, text);
    const out = join(dir, 'too-big');
    const { value: error, tmp } = await inPrivateTmp(() =>
      t.throwsAsync(manifest([...endpoints, '--workload', file, '--out', out]), { instanceOf: UsageError }),
    );
    t.regex(
      error.message,
      new RegExp(`^--workload ${file}: the resolved workload is \\d+ bytes, more than one ConfigMap \\(\\S+-workload\\) may hold`),
    );
    const sample = /use --sample (\d+) \(about that many of its 1500 items fit\)/.exec(error.message)?.[1];
    t.truthy(sample, error.message);
    t.false(existsSync(out), 'no run folder');
    t.deepEqual(readdirSync(tmp), [], 'no bundle folder');

    const sampled = join(dir, 'sampled');
    const { value } = await capturingStderr(() =>
      capturingStdout(() => manifest([...endpoints, '--workload', file, '--sample', sample!, '--out', sampled])),
    );
    t.is(value.value, 0);
    t.is(
      documents(readFileSync(join(sampled, 'testrun.yaml'), 'utf8'))[1]!
        .data!['workload.jsonl']!.trimEnd()
        .split('\n').length,
      Number(sample),
    );
  },
);

test.serial(
  'k6:manifest --gates: a bad file is refused as analyze refuses it (no stack, nothing written); a good one becomes k6 thresholds',
  async (t) => {
    const out = join(dir, 'gates');
    const missing = join(dir, 'no-such-gates.yaml');
    await t.throwsAsync(manifest([...endpoints, '--gates', missing, '--out', out]), {
      instanceOf: UsageError,
      message: `--gates ${missing}: cannot read (ENOENT)`,
    });
    const bad = join(dir, 'bad-gates.yaml');
    writeFileSync(bad, 'slo: [\n');
    await t.throwsAsync(manifest([...endpoints, '--gates', bad, '--out', out]), {
      instanceOf: UsageError,
      message: new RegExp(`^--gates ${bad}: `),
    });
    t.false(existsSync(out), 'no run folder');
    const good = join(dir, 'gates.yaml');
    writeFileSync(good, 'slo:\n  ttft_p99_ms: 900\n  enforce: true\n');
    const { value } = await capturingStderr(() => capturingStdout(() => manifest([...endpoints, '--gates', good, '--out', out])));
    t.is(value.value, 0);
    t.deepEqual(JSON.parse(readFileSync(join(out, 'k6-config.json'), 'utf8')).thresholds['ttft{arm:candidate}'], ['p(99)<=900']);
    t.is(JSON.parse(readFileSync(join(out, 'run.json'), 'utf8')).config.gates, good, 'run.json names the gates file');
  },
);

test.serial('k6:manifest --help says both URLs are required (no simulated endpoints); without them it is refused', async (t) => {
  const { value, stdout } = await capturingStdout(() => manifest(['--help']));
  t.is(value, 0);
  t.false(/simulated endpoints are started/.test(stdout), stdout);
  t.regex(stdout, /both URLs are required: no simulated\nendpoints are started/);
  t.regex(stdout, /--baseline <URL> +baseline base URL as the runner pods reach it .*required unless --collect/);
  await t.throwsAsync(manifest(['--baseline', 'http://127.0.0.1:9']), {
    instanceOf: UsageError,
    message: /--baseline and --candidate: both URLs are needed/,
  });
});

test.serial('--collect: a folder k6:manifest did not write is refused naming it and what it should hold', async (t) => {
  const log = join(dir, 'pod.log');
  writeFileSync(log, 'hello\n');
  const missing = join(dir, 'no-such-run');
  await t.throwsAsync(manifest(['--collect', missing, log]), {
    instanceOf: UsageError,
    message: `--collect ${missing}: not a folder; give the run folder k6:manifest wrote (it holds testrun.yaml, k6-config.json and run.json)`,
  });
  const empty = join(dir, 'not-a-run');
  mkdirSync(empty);
  await t.throwsAsync(manifest(['--collect', empty, log]), {
    instanceOf: UsageError,
    message: `--collect ${empty}: no k6-config.json in it; give the run folder k6:manifest wrote (it holds testrun.yaml, k6-config.json and run.json)`,
  });
  mkdirSync(join(empty, 'k6-config.json'));
  await t.throwsAsync(manifest(['--collect', empty, log]), {
    instanceOf: UsageError,
    message: `--collect ${empty}: ${join(empty, 'k6-config.json')}: cannot read (EISDIR); give the run folder k6:manifest wrote (it holds testrun.yaml, k6-config.json and run.json)`,
  });
  rmdirSync(join(empty, 'k6-config.json'));
  writeFileSync(join(empty, 'k6-config.json'), '{"v": 1');
  await t.throwsAsync(manifest(['--collect', empty, log]), {
    instanceOf: UsageError,
    message: /^--collect .*not-a-run: .*k6-config\.json is not valid JSON/,
  });
});

test.serial(
  '--collect: logs without records fail naming them, with no success line and no records.jsonl; logs with records are merged',
  async (t) => {
    const runDir = join(dir, 'collect');
    await capturingStderr(() => capturingStdout(() => manifest([...endpoints, '--requests', '2', '--out', runDir])));
    const runJson = readFileSync(join(runDir, 'run.json'), 'utf8');
    const runId = JSON.parse(readFileSync(join(runDir, 'k6-config.json'), 'utf8')).run_id as string;
    const a = join(dir, 'runner-0.log');
    const b = join(dir, 'runner-1.log');
    writeFileSync(a, 'time="…" level=info msg="k6 starting"\n');
    writeFileSync(b, '');
    const { value: error, stderr } = await capturingStderr(() =>
      t.throwsAsync(manifest(['--collect', runDir, a, b]), { instanceOf: UsageError }),
    );
    t.is(
      error.message,
      `--collect: no records found in ${a}, ${b} (1 other lines, 0 runner summaries); give the logs of the runner pods (label runner=true) saved with kubectl logs once the TestRun has finished`,
    );
    t.false(/records from|analyse with/.test(stderr), stderr);
    t.false(existsSync(join(runDir, 'records.jsonl')));
    t.false(existsSync(join(runDir, 'records.jsonl.tmp')));
    t.is(readFileSync(join(runDir, 'run.json'), 'utf8'), runJson, 'run.json untouched');
    await t.throwsAsync(manifest(['--collect', runDir, join(dir, 'no-such.log')]), {
      instanceOf: UsageError,
      message: /no-such\.log is not a file/,
    });

    const record = (arm: 'baseline' | 'candidate') =>
      serializeRecord(
        emptyRecord({ run_id: runId, arm, index: 0, item_id: 'q0', warmup: false, source: 'k6', streaming: true, scheduled_ns: 0 }),
      );
    writeFileSync(a, `${record('baseline')}\n`);
    writeFileSync(b, `${record('candidate')}\n`);
    const done = await capturingStderr(() => manifest(['--collect', runDir, a, b]));
    t.is(done.value, 0);
    t.regex(done.stderr, /2 records from 2 runner logs .*analyse with: npm run analyze/);
    t.is(readFileSync(join(runDir, 'records.jsonl'), 'utf8').trimEnd().split('\n').length, 2);
  },
);

test.serial('--runner-image goes to the runner and initializer pods; the hint is the per-pod logs loop, not kubectl logs -l', async (t) => {
  const out = join(dir, 'image');
  const { value } = await inPrivateTmp(() =>
    capturingStderr(() =>
      capturingStdout(() => manifest([...endpoints, '--out', out, '--namespace', 'load', '--runner-image', 'registry.local/k6-sse:1.3.0'])),
    ),
  );
  t.is(value.value.value, 0);
  const testRun = documents(readFileSync(join(out, 'testrun.yaml'), 'utf8'))[2] as unknown as {
    spec: { runner: { image: string }; initializer: { image: string } };
  };
  t.is(testRun.spec.runner.image, 'registry.local/k6-sse:1.3.0');
  t.is(testRun.spec.initializer.image, 'registry.local/k6-sse:1.3.0');
  const stdout = value.value.stdout;
  t.regex(
    stdout,
    /for p in \$\(kubectl get pods -n load -l k6_cr=[a-z0-9-]+,runner=true -o name\); do kubectl logs -n load "\$p" > ".*\/\$\{p#pod\/\}\.log"; done/,
  );
  t.notRegex(stdout, /kubectl logs -l/);
  t.notRegex(stdout, /stock k6 fetches xk6-sse/, 'no network note for a custom image');
  // The stock default says what it needs.
  const stock = await inPrivateTmp(() =>
    capturingStderr(() => capturingStdout(() => manifest([...endpoints, '--out', join(dir, 'stock')]))),
  );
  t.regex(stock.value.value.stdout, /runner image grafana\/k6:latest: stock k6 fetches xk6-sse when the test starts/);
  await t.throwsAsync(() => manifest([...endpoints, '--out', join(dir, 'both'), '--image', 'a', '--runner-image', 'b']), {
    instanceOf: UsageError,
    message: /--image a and --runner-image b: give one/,
  });
});
