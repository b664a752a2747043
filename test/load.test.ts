// The load command: help, start-up validation, preflight, secrets, SIGINT, and the default run with
// built-in simulated endpoints (child processes) followed by the analysis.
import test, { type ExecutionContext } from 'ava';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readRecords } from '../io/records-file.ts';
import { parseMetricsLines } from '../core/scrape-entry.ts';
import { LOAD_OPTIONS, run } from '../cli/load.ts';
import { flagOf, UsageError } from '../core/options.ts';
import { startSim } from '../sim/server.ts';
import { capturingStdout, filesUnder, startTestSim as sim, tempDir } from './support/load-helpers.ts';

const MAIN = fileURLToPath(new URL('../cli/main.ts', import.meta.url));
const tmp = () => tempDir('sb-load-');

test('--help lists every option with its default', async (t) => {
  const { value, stdout: out } = await capturingStdout(() => run(['--help']));
  t.is(value, 0);
  const lines = out.split('\n');
  for (const [key, opt] of Object.entries(LOAD_OPTIONS)) {
    const flag = opt.kind === 'boolean' && opt.default === true ? `--[no-]${flagOf(key).slice(2)}` : flagOf(key);
    // The option's entry: its flag line, and the next line when the flag is too long to share one.
    const at = lines.findIndex((l) => l.startsWith(`  ${flag} `) || l === `  ${flag}` || l.startsWith(`  ${flag} <`));
    t.true(at >= 0, `${flag} listed`);
    const entry = `${lines[at]} ${lines[at + 1]?.startsWith('      ') ? lines[at + 1] : ''}`;
    if (opt.kind === 'boolean')
      t.true(
        entry.includes(opt.default === true ? `on by default; --no-${flagOf(key).slice(2)} turns it off` : 'off by default'),
        `${flag} default shown`,
      );
    else if (opt.default !== undefined && !Array.isArray(opt.default))
      t.true(entry.includes(`default ${String(opt.default)}`), `${flag} default shown`);
  }
  t.regex(out, /BASELINE_API_KEY/);
});

test('bad combinations fail at start-up naming the flag', async (t) => {
  await t.throwsAsync(run(['--baseline', 'http://127.0.0.1:1']), { instanceOf: UsageError, message: /--candidate is missing/ });
  await t.throwsAsync(run(['--baseline', 'ftp://x', '--candidate', 'http://127.0.0.1:1']), {
    instanceOf: UsageError,
    message: /--baseline: expected an http/,
  });
  await t.throwsAsync(run(['--arrival', 'trace', '--qps', '5']), {
    instanceOf: UsageError,
    message: /--qps does not apply with --arrival trace/,
  });
  await t.throwsAsync(run(['--time-scale', '2']), { instanceOf: UsageError, message: /--time-scale applies only with --arrival trace/ });
  await t.throwsAsync(run(['--qps', '0']), { instanceOf: UsageError, message: /--qps: got "0"/ });
  await t.throwsAsync(run(['--engine', 'jmeter']), { instanceOf: UsageError, message: /--engine.*node, k6/ });
  await t.throwsAsync(run(['--preconnect', 'many']), {
    instanceOf: UsageError,
    message: /--preconnect: expected auto or an integer 0-256, got "many"/,
  });
  await t.throwsAsync(run(['--preconnect', '257']), { instanceOf: UsageError, message: /--preconnect: expected auto/ });
  // The sample workload has no timestamps: trace arrival is refused before any load, naming the flag.
  const s = await sim(t);
  await t.throwsAsync(run(['--baseline', s.url, '--candidate', s.url, '--arrival', 'trace', '--no-progress', '--out', join(tmp(), 'r')]), {
    instanceOf: UsageError,
    message: /^--arrival: .*needs a timestamp/,
  });
  await t.throwsAsync(run(['--baseline', s.url, '--candidate', s.url, '--workload', 'no/such/file.jsonl']), {
    instanceOf: UsageError,
    message: /--workload: no\/such\/file\.jsonl: .*no such file/,
  });
});

test('preflight fails fast with a readable message naming the arm, the URL and what is wrong', async (t) => {
  const s = await sim(t);
  const closed = await startSim({ profile: 'vllm-single-node', port: 0 });
  await closed.close();
  await t.throwsAsync(run(['--baseline', s.url, '--candidate', closed.url, '--requests', '2']), {
    instanceOf: UsageError,
    message: new RegExp(
      `preflight failed.*\\n  candidate \\(${closed.url.replace(/\./g, '\\.')}\\): cannot connect: connection refused`,
      's',
    ),
  });
  await t.throwsAsync(run(['--baseline', s.url, '--candidate', s.url, '--candidate-model', 'gpt-nope', '--requests', '2']), {
    instanceOf: UsageError,
    message:
      /candidate \(.*\) does not serve model "gpt-nope"; it serves "meta-llama\/Llama-3\.1-8B-Instruct" \(set --candidate-model or --model\)/,
  });
  // A server that wants a key, and one that is not OpenAI-compatible.
  const guarded = createServer((req, res) => {
    if (req.headers.authorization !== 'Bearer right-key-123') {
      res.writeHead(401, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: 'invalid api key' } }));
    } else {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<html>hello</html>');
    }
  });
  await new Promise<void>((resolve) => guarded.listen(0, '127.0.0.1', resolve));
  t.teardown(() => guarded.close());
  const url = `http://127.0.0.1:${(guarded.address() as AddressInfo).port}`;
  await t.throwsAsync(run(['--baseline', url, '--candidate', s.url, '--requests', '2'], { BASELINE_API_KEY: 'wrong-key-456' }), {
    message: /baseline \(.*\): GET \/v1\/models was refused \(401\): invalid api key — check BASELINE_API_KEY/,
  });
  const notOpenAi = await t.throwsAsync(
    run(['--baseline', url, '--candidate', s.url, '--requests', '2'], { BASELINE_API_KEY: 'right-key-123' }),
    { message: /did not return JSON \(not an OpenAI-compatible server\?\)/ },
  );
  t.false(notOpenAi?.message.includes('right-key-123'));
});

test.serial('secrets (API keys, secret headers) appear nowhere under the run folder; run.json lists header names only', async (t) => {
  const [b, c] = [await sim(t), await sim(t)];
  const dir = join(tmp(), 'run');
  const env = { BASELINE_API_KEY: 'sk-base-SECRET-111111', CANDIDATE_API_KEY: 'sk-cand-SECRET-222222' };
  const code = await run(
    [
      '--baseline',
      b.url,
      '--candidate',
      c.url,
      '--qps',
      '50',
      '--requests',
      '8',
      '--header',
      'x-api-key: hdr-SECRET-333333',
      '--baseline-repeat',
      '--no-progress',
      '--out',
      dir,
    ],
    env,
  );
  t.true(code === 0 || code === 1, `analysis exit code ${code}`);
  const files = filesUnder(dir);
  t.true(files.some((f) => f.endsWith('records.jsonl')) && files.some((f) => f.endsWith('run.json')));
  for (const file of files) {
    const text = readFileSync(file, 'utf8');
    for (const secret of ['SECRET-111111', 'SECRET-222222', 'SECRET-333333']) t.false(text.includes(secret), `${file} holds ${secret}`);
  }
  const manifest = JSON.parse(readFileSync(join(dir, 'run.json'), 'utf8'));
  t.deepEqual(
    manifest.arms.map((a: { header_names: string[] }) => a.header_names),
    [
      ['authorization', 'x-api-key'],
      ['authorization', 'x-api-key'],
      ['authorization', 'x-api-key'],
    ],
  );
  t.deepEqual(manifest.config.api_keys_from_env, ['BASELINE_API_KEY', 'CANDIDATE_API_KEY']);
  const { records } = await readRecords(join(dir, 'records.jsonl'));
  t.is(records.length, 24);
});

/** Spawns the load command; resolves when it exits. */
function spawnLoad(args: string[]) {
  const child = spawn(process.execPath, [MAIN, 'load', '--no-progress', '--no-analyze', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, exited, stderr: () => stderr };
}

/** spawnLoad of a baseline and a candidate sim, writing to `dir`. */
function spawnPairLoad(b: { url: string }, c: { url: string }, dir: string, args: string[]) {
  return spawnLoad(['--baseline', b.url, '--candidate', c.url, '--out', dir, ...args]);
}

/**
 * The run folder a stopped run leaves: run.json and every sent request's record, on both arms, once
 * (records = arms × pairs sent, one per (arm, index), no half last line). Returns both for the test's own checks.
 */
async function stoppedRunFolder(t: ExecutionContext, dir: string) {
  const manifest = JSON.parse(readFileSync(join(dir, 'run.json'), 'utf8'));
  const { records, summary } = await readRecords(join(dir, 'records.jsonl'));
  t.is(summary.truncatedLastLine, null);
  t.is(records.length, 2 * manifest.counts.pairs_sent, 'records = arms × pairs sent');
  const keys = new Set(records.map((r) => `${r.arm}:${r.index}`));
  t.is(keys.size, records.length, 'one record per (arm, index)');
  const unpaired = records.filter((r) => !keys.has(`${r.arm === 'baseline' ? 'candidate' : 'baseline'}:${r.index}`));
  t.deepEqual(unpaired, [], 'every request sent has its record on both arms');
  return { manifest, records };
}

async function waitForLines(file: string, n: number, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (existsSync(file) && readFileSync(file, 'utf8').split('\n').length > n) return;
    await new Promise((resolve) => setTimeout(resolve, 20)); // polling a file another process writes
  }
  throw new Error(`${file} did not reach ${n} lines`);
}

test.serial(
  'SIGINT: stops sending, lets in-flight requests finish, and leaves an analysable folder with records = arms × sent',
  async (t) => {
    const [b, c] = [await sim(t, { timeScale: 0.3 }), await sim(t, { timeScale: 0.3 })];
    const dir = join(tmp(), 'run');
    const load = spawnPairLoad(b, c, dir, [
      '--qps',
      '40',
      '--duration',
      '30',
      '--baseline-metrics',
      `${b.url}/metrics`,
      '--metrics-interval-ms',
      '100',
    ]);
    await waitForLines(join(dir, 'records.jsonl'), 20);
    load.child.kill('SIGINT');
    t.is(await load.exited, 130, load.stderr());
    // Acknowledged on stderr with --no-progress too.
    t.regex(
      load.stderr(),
      /SIGINT: stopping new sends; waiting up to 10 s for the requests in flight \(about \d+\) \(again to exit at once\)/,
    );
    const { manifest, records } = await stoppedRunFolder(t, dir);
    t.is(manifest.interrupted, 'SIGINT');
    t.truthy(manifest.ended_at);
    t.true(manifest.counts.pairs_sent < 40 * 30, 'stopped early');
    t.true(
      records.every((r) => r.outcome.kind === 'ok'),
      'in-flight requests finished within the grace period',
    );
    // The scraper was stopped after the drain, with a last scrape covering the whole run.
    const metricsFile = join(dir, 'metrics', 'baseline.jsonl');
    const scrapes = parseMetricsLines(readFileSync(metricsFile, 'utf8'), metricsFile).entries;
    t.is(scrapes.at(-1)?.kind, 'scrape');
    t.true((scrapes.at(-1)?.mono_ns ?? 0) >= Math.max(...records.map((r) => r.end_ns as number)), 'last scrape after the last response');
  },
);

for (const workers of ['2', '0'] as const) {
  test.serial(
    `SIGTERM at --qps 20000 (far above what a sender can send), --workers ${workers}: honoured, interrupted, every sent request has one record`,
    async (t) => {
      // The sender is behind its schedule from the first instant: before SEND_BURST it never returned to
      // its event loop (a catch-up loop, or a burst from every chunk read), so the stop message or the
      // signal itself (--workers 0) was never handled and the run never ended. Bounded by --requests.
      const [b, c] = [await sim(t), await sim(t)];
      const dir = join(tmp(), 'run');
      const requests = 20_000;
      const load = spawnPairLoad(b, c, dir, ['--qps', '20000', '--requests', String(requests), '--workers', workers, '--grace', '2']);
      await waitForLines(join(dir, 'records.jsonl'), 1, 60_000);
      load.child.kill('SIGTERM');
      t.is(await load.exited, 143, load.stderr());
      t.regex(load.stderr(), /SIGTERM: stopping new sends/);
      const { manifest } = await stoppedRunFolder(t, dir);
      t.is(manifest.status, 'interrupted');
      t.is(manifest.interrupted, 'SIGTERM');
      t.true(manifest.counts.pairs_sent < requests, `stopped before the schedule's end (${manifest.counts.pairs_sent} sent)`);
    },
  );
}

test.serial(
  'three SIGTERMs in a row: saved at once, one record per (arm, index), records = arms × sent (any the sender had not handed over made up as cancelled)',
  async (t) => {
    const [b, c] = [await sim(t), await sim(t)];
    const dir = join(tmp(), 'run');
    // The candidate stalls: its requests are in flight at the signals; the third leaves the sender thread no time to report them.
    const load = spawnPairLoad(b, c, dir, [
      '--qps',
      '50',
      '--duration',
      '30',
      '--workers',
      '1',
      '--grace',
      '60',
      '--candidate-header',
      'x-sim-fault: stall',
    ]);
    // The third can land after the run is saved, while the process exits: killed by it is the same 143 to a shell.
    const ended = new Promise<number | string | null>((resolve) => load.child.on('exit', (code, signal) => resolve(code ?? signal)));
    await waitForLines(join(dir, 'records.jsonl'), 10);
    // Signals of one kind sent together merge into one: each waits for the previous one's notice.
    const noticed = async (pattern: RegExp) => {
      while (!pattern.test(load.stderr())) await new Promise((resolve) => setTimeout(resolve, 10));
    };
    load.child.kill('SIGTERM');
    await noticed(/SIGTERM: stopping new sends/);
    load.child.kill('SIGTERM');
    await noticed(/SIGTERM \(second\): cancelling/);
    load.child.kill('SIGTERM');
    t.true([143, 'SIGTERM'].includes((await ended) as number | string), load.stderr());
    const { manifest, records } = await stoppedRunFolder(t, dir);
    t.is(manifest.status, 'interrupted');
    t.is(manifest.counts.records, records.length);
    const candidate = records.filter((r) => r.arm === 'candidate');
    t.true(
      candidate.length >= 10 && candidate.every((r) => r.outcome.kind === 'cancelled'),
      'the stalled candidate requests were in flight',
    );
  },
);

test.serial('SIGINT with requests still in flight after --grace: they are recorded as cancelled', async (t) => {
  const [b, c] = [await sim(t), await sim(t)];
  const dir = join(tmp(), 'run');
  // The candidate stalls forever, so its requests are in flight when the grace period ends.
  const load = spawnPairLoad(b, c, dir, ['--qps', '50', '--duration', '30', '--grace', '0.3', '--candidate-header', 'x-sim-fault: stall']);
  await waitForLines(join(dir, 'records.jsonl'), 10);
  load.child.kill('SIGINT');
  t.is(await load.exited, 130, load.stderr());
  const { records } = await stoppedRunFolder(t, dir);
  const candidate = records.filter((r) => r.arm === 'candidate');
  t.true(candidate.length > 0 && candidate.every((r) => r.outcome.kind === 'cancelled'));
  t.regex((candidate[0]!.outcome as { message: string }).message, /grace period/);
});

test.serial(
  'a second SIGINT exits at once: in-flight requests recorded as cancelled, records = arms × sent, a valid run.json',
  async (t) => {
    const [b, c] = [await sim(t), await sim(t)];
    const dir = join(tmp(), 'run');
    const load = spawnPairLoad(b, c, dir, ['--qps', '50', '--duration', '30', '--grace', '60', '--candidate-header', 'x-sim-fault: stall']);
    await waitForLines(join(dir, 'records.jsonl'), 10);
    load.child.kill('SIGINT');
    await new Promise((resolve) => setTimeout(resolve, 200)); // let the first one start the graceful stop
    const second = Date.now();
    load.child.kill('SIGINT');
    t.is(await load.exited, 130, load.stderr());
    t.true(Date.now() - second < 5000, 'exited without waiting for the 60 s grace period');
    const { manifest, records } = await stoppedRunFolder(t, dir);
    t.is(manifest.interrupted, 'SIGINT (second)');
    t.regex(load.stderr(), /SIGINT \(second\): cancelling the requests in flight \(about \d+\) and exiting/);
    t.is(manifest.counts.records, records.length);
    const candidate = records.filter((r) => r.arm === 'candidate');
    t.true(
      candidate.length >= 10 && candidate.every((r) => r.outcome.kind === 'cancelled'),
      'the stalled candidate requests were still in flight',
    );
    t.regex((candidate[0]!.outcome as { message: string }).message, /run stopped at once \(SIGINT \(second\)\)/);
  },
);

test.serial('with no endpoints: starts the two simulated endpoints, runs, and analyses the folder', async (t) => {
  const dir = join(tmp(), 'run');
  const load = spawn(process.execPath, [MAIN, 'load', '--qps', '20', '--requests', '20', '--no-progress', '--out', dir], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  load.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  load.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  const code = await new Promise<number | null>((resolve) => load.on('exit', resolve));
  t.true(code === 0 || code === 1, `exit ${code}: ${stderr}`);
  t.regex(stderr, /simulated endpoints: baseline vllm-single-node at http:\/\/127\.0\.0\.1:\d+, candidate dynamo-disaggregated/);
  t.regex(stdout, /VERDICT: (PROCEED|INVESTIGATE)/);
  const manifest = JSON.parse(readFileSync(join(dir, 'run.json'), 'utf8'));
  t.deepEqual(
    manifest.arms.map((a: { simulated_profile: string }) => a.simulated_profile),
    ['vllm-single-node', 'dynamo-disaggregated'],
  );
  t.true(existsSync(join(dir, 'summary.json')));
  // The simulated endpoints' /metrics are scraped without being asked: the demo shows the server side too.
  t.deepEqual(Object.keys(manifest.config.metricsTargets), ['baseline', 'candidate']);
  const summary = JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8'));
  t.deepEqual(
    summary.server_metrics.map((m: { arm: string }) => m.arm),
    ['baseline', 'candidate'],
  );
  t.true(summary.server_metrics.every((m: { prefix_cache: { hit_rate: number } | null }) => (m.prefix_cache?.hit_rate ?? -1) >= 0));
  t.regex(stdout, /Server metrics \(scraped/);
  const { records } = await readRecords(join(dir, 'records.jsonl'));
  t.is(records.length, 40);
});

test.serial(
  'SIGINT before the first send: exit 130 saying so; run.json kept (interrupted, nothing sent), no empty records.jsonl',
  async (t) => {
    // An endpoint whose GET /v1/models never answers: the sender is still opening its connection
    // (--preconnect 1, given up after --timeout) when the signal arrives, so nothing has been sent.
    let preconnecting!: () => void;
    const seen = new Promise<void>((resolve) => (preconnecting = resolve));
    const held: import('node:http').ServerResponse[] = [];
    const hang = createServer((req, res) => {
      held.push(res);
      if (req.url === '/v1/models') preconnecting();
    });
    await new Promise<void>((resolve) => hang.listen(0, '127.0.0.1', resolve));
    t.teardown(() => {
      for (const res of held) res.destroy();
      hang.close();
    });
    const url = `http://127.0.0.1:${(hang.address() as AddressInfo).port}`;
    const dir = join(tmp(), 'run');
    const load = spawn(
      process.execPath,
      [
        MAIN,
        'load',
        '--no-progress',
        '--baseline',
        url,
        '--candidate',
        url,
        '--no-preflight',
        '--preconnect',
        '1',
        '--workers',
        '1',
        '--timeout',
        '1',
        '--requests',
        '5',
        '--out',
        dir,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stderr = '';
    load.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    const exited = new Promise<number | null>((resolve) => load.on('exit', resolve));
    await seen;
    load.kill('SIGINT');
    t.is(await exited, 130, stderr);
    t.regex(stderr, /\(baseline, candidate; constant 10\/s; 1 worker\)/, 'one worker, singular');
    t.regex(stderr, /SIGINT: stopping new sends/);
    t.regex(stderr, /interrupted before the first request was sent; nothing recorded/);
    t.notRegex(stderr, /no records|records\.jsonl:/, 'no analysis of an empty folder');
    const manifest = JSON.parse(readFileSync(join(dir, 'run.json'), 'utf8'));
    t.is(manifest.interrupted, 'SIGINT');
    t.is(manifest.counts.pairs_sent, 0);
    t.regex(manifest.warnings.join('\n'), /interrupted before the first request was sent/);
    t.false(existsSync(join(dir, 'records.jsonl')), 'the same --out can be used again');
  },
);

test.serial('Ctrl-C during the preflight check ends it at once (exit 130), not after its 5 s limit', async (t) => {
  let asked!: () => void;
  const modelsAsked = new Promise<void>((resolve) => (asked = resolve));
  const silent = createServer((req) => {
    if (req.url?.endsWith('/v1/models')) asked(); // and never answer
  });
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    silent.closeAllConnections();
    silent.close();
  });
  const url = `http://127.0.0.1:${(silent.address() as AddressInfo).port}`;
  const load = spawnLoad(['--baseline', url, '--candidate', url, '--requests', '5', '--out', join(tmp(), 'run')]);
  await modelsAsked;
  const interruptedAt = Date.now();
  load.child.kill('SIGINT');
  t.is(await load.exited, 130, load.stderr());
  t.true(Date.now() - interruptedAt < 3000, `exited ${Date.now() - interruptedAt} ms after Ctrl-C`);
  t.regex(load.stderr(), /interrupted before the first request was sent/);
  t.notRegex(load.stderr(), /preflight failed/);
});
