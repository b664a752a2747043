// Traffic shifting, automatic rollback, the admin endpoint and the proxy command, against the sim.
import test from 'ava';
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { request } from 'undici';
import { startSim } from '../sim/server.ts';
import { startProxy, type ProxyServer, type ProxyState } from '../proxy/server.ts';
import { readRecords } from '../io/records-file.ts';
import {
  CHAT_PATH,
  chat as chatBody,
  jsonLines,
  post,
  proxyOptions as testProxyOptions,
  tmpDir,
  until,
  type Reply,
} from './support/proxy-harness.ts';

const TOKEN = 'test-admin-token-0123456789';
const CANDIDATE_MODEL = 'candidate-served-model';

const proxyOptions = (over: Parameters<typeof testProxyOptions>[0]) => testProxyOptions({ runId: 'canary-test', ...over });
/** Short answers: 8 tokens. */
const chat = (content: string, extra: Record<string, unknown> = {}) => chatBody(content, { max_tokens: 8, ...extra });

/** Sends `n` requests, `concurrency` at a time. */
async function sendMany(base: string, n: number, concurrency: number, make: (i: number) => [unknown, Record<string, string>]) {
  const replies: Reply[] = new Array(n);
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let i = next++; i < n; i = next++) {
        const [body, headers] = make(i);
        replies[i] = await post(base, CHAT_PATH, body, headers);
      }
    }),
  );
  return replies;
}

async function admin(
  proxy: ProxyServer,
  method: 'GET' | 'POST',
  path: string,
  body?: unknown,
  token = TOKEN,
): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await request(`${proxy.adminUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.statusCode, json: (await res.body.json()) as Record<string, unknown> };
}

test.serial(
  'a weight of 0.25 sends a binomial share of 400 requests to the candidate, which really serves them; users stick to one arm',
  async (t) => {
    const [base, cand] = await Promise.all([
      startSim({ profile: 'vllm-single-node', timeScale: 0 }),
      startSim({ profile: 'dynamo-disaggregated', timeScale: 0, model: CANDIDATE_MODEL }),
    ]);
    const proxy = await startProxy(
      proxyOptions({ baselineUrl: base.url, candidateUrl: cand.url, weight: 0.25, models: { baseline: null, candidate: CANDIDATE_MODEL } }),
    );
    let byCandidate = 0;
    try {
      const replies = await sendMany(proxy.url, 400, 16, (i) => [chat(`request ${i}`), {}]);
      t.true(replies.every((r) => r.status === 200));
      byCandidate = replies.filter((r) => r.body.includes(`"model":"${CANDIDATE_MODEL}"`)).length;
      t.log(`${byCandidate} of 400 requests served by the candidate at weight 0.25`);
      // Binomial(400, 0.25): mean 100, sd 8.66; 4 sd either side.
      t.true(Math.abs(byCandidate - 100) <= 4 * Math.sqrt(400 * 0.25 * 0.75), `${byCandidate} of 400 served by the candidate`);
      t.is(
        proxy.state().totals.candidate.primary + proxy.state().totals.candidate.shadow,
        400,
        'every request reached the candidate, as primary or shadow',
      );

      const users = await sendMany(proxy.url, 120, 8, (i) => [chat(`user request ${i}`, { user: `user-${i % 40}` }), {}]);
      const armOf = new Map<string, Set<boolean>>();
      users.forEach((r, i) => {
        const key = `user-${i % 40}`;
        armOf.set(key, (armOf.get(key) ?? new Set()).add(r.body.includes(CANDIDATE_MODEL)));
      });
      t.true(
        [...armOf.values()].every((arms) => arms.size === 1),
        "each user's three requests were served by one arm",
      );
    } finally {
      await proxy.close();
      await Promise.all([base.close(), cand.close()]);
    }
    const routing = jsonLines(join(proxy.runDir, 'routing.jsonl')).slice(0, 400);
    t.is(routing.filter((l) => l.primary === 'candidate').length, byCandidate, 'routing.jsonl names the arm that answered');
    t.true(routing.every((l) => l.weight === 0.25 && l.shadow === 'sent'));
  },
);

test.serial(
  'a candidate error burst triggers rollback within one check interval; the weight stays 0 until an operator resets it',
  async (t) => {
    const CHECK_MS = 200;
    // The candidate fails every request unless the client forces "no fault" (x-sim-fault: none): the burst is
    // the requests sent without that header; the baseline is healthy throughout.
    const [base, cand] = await Promise.all([
      startSim({ profile: 'vllm-single-node', timeScale: 0 }),
      startSim({ profile: 'dynamo-disaggregated', timeScale: 0, faults: { errorRate: 1 } }),
    ]);
    const proxy = await startProxy(
      proxyOptions({
        baselineUrl: base.url,
        candidateUrl: cand.url,
        weight: 0.5,
        checkIntervalMs: CHECK_MS,
        windowMs: 60_000,
        admin: { host: '127.0.0.1', port: 0, token: TOKEN },
      }),
    );
    const healthy = { 'x-sim-fault': 'none' };
    const checkedAfter = async (ms: number) => {
      await until('a rollback check after that instant', () => {
        const at = proxy.state().last_check?.at;
        return at !== undefined && Date.parse(at) > ms;
      });
    };
    try {
      t.is((await admin(proxy, 'GET', '/admin/state', undefined, 'wrong-token')).status, 401);
      t.is((await request(`${proxy.adminUrl}/admin/state`)).statusCode, 401, 'no token');

      const before = await sendMany(proxy.url, 40, 8, (i) => [chat(`healthy ${i}`), healthy]);
      t.true(before.every((r) => r.status === 200));
      await until('healthy records', () => proxy.state().totals.candidate.ok === 40);
      await checkedAfter(Date.now());
      t.false(proxy.state().rolled_back, 'healthy traffic does not roll back');
      t.is(proxy.state().weight, 0.5);

      await sendMany(proxy.url, 5, 5, (i) => [chat(`burst ${i}`), {}]);
      await until('burst records', () => proxy.state().totals.candidate.failed === 5);
      // Behaviour, not speed: the first rollback check that runs after the burst is recorded triggers it
      // (every check after that instant sees the 5 failures in its window). How soon that check comes is
      // the check interval plus the machine's timer delays: not judged here.
      await checkedAfter(Date.now());
      t.true(proxy.state().last_check?.trigger, `the first check after the burst: ${JSON.stringify(proxy.state().last_check)}`);
      t.true(proxy.state().rolled_back, 'rolled back by that check');

      const state = (await admin(proxy, 'GET', '/admin/state')).json as unknown as ProxyState;
      t.is(state.weight, 0);
      t.true(state.rolled_back);
      t.regex(state.reason ?? '', /candidate error rate 11\.11 % \(5\/45\) > 1\.00 %/);
      t.is(state.window.candidate.errors, 5);

      // Stays rolled back: three more checks, more traffic, and an operator's weight is refused.
      const rolledAt = Date.now();
      await checkedAfter(rolledAt + 3 * CHECK_MS);
      const after = await sendMany(proxy.url, 30, 6, (i) => [chat(`after ${i}`), healthy]);
      t.true(
        after.every((r) => r.status === 200),
        'every client is served by the baseline again',
      );
      t.is(proxy.state().weight, 0);
      const refused = await admin(proxy, 'POST', '/admin/weight', { weight: 0.5 });
      t.is(refused.status, 409);
      t.regex(String(refused.json.error), /reset-rollback/);

      const reset = await admin(proxy, 'POST', '/admin/reset-rollback', {});
      t.is(reset.status, 200);
      t.false(reset.json.rolled_back);
      t.is(reset.json.weight, 0, 'after a reset the weight restarts at 0');
      const set = await admin(proxy, 'POST', '/admin/weight', { weight: 0.3 });
      t.is(set.json.weight, 0.3);
      t.is((await admin(proxy, 'POST', '/admin/weight', { weight: 3 })).status, 400);
      await checkedAfter(Date.now());
      t.false(proxy.state().rolled_back, 'the errors from before the reset do not trigger again');
    } finally {
      await proxy.close();
      await Promise.all([base.close(), cand.close()]);
    }
    const routing = jsonLines(join(proxy.runDir, 'routing.jsonl'));
    t.true(
      routing.slice(45, 75).every((l) => l.primary === 'baseline' && l.weight === 0),
      'requests after the rollback all went to the baseline',
    );
    const events = jsonLines(join(proxy.runDir, 'events.jsonl'));
    t.deepEqual(
      events.map((e) => e.event),
      ['started', 'rollback', 'weight', 'rollback_reset', 'weight', 'stopped'],
    );
    const rollback = events.find((e) => e.event === 'rollback') as { reasons: string[]; window: { candidate: { errors: number } } };
    t.regex(rollback.reasons[0] ?? '', /candidate error rate/);
    t.is(rollback.window.candidate.errors, 5);
    const { records } = await readRecords(join(proxy.runDir, 'records.jsonl'));
    t.is(records.filter((r) => r.arm === 'candidate' && r.outcome.kind === 'http_error').length, 5);
  },
);

/** Runs `npm run proxy` (node cli/main.ts proxy) and waits for its ready line. */
function startCli(args: string[], env: Record<string, string> = {}) {
  const child = spawn(process.execPath, ['cli/main.ts', 'proxy', ...args], {
    cwd: new URL('..', import.meta.url).pathname,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += String(d)));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const ready = new Promise<Record<string, unknown>>((resolve, reject) => {
    createInterface({ input: child.stdout }).once('line', (line) => resolve(JSON.parse(line) as Record<string, unknown>));
    void exited.then((code) => reject(new Error(`proxy exited ${code}: ${stderr}`)));
  });
  return { child, ready, exited, stderr: () => stderr };
}

test.serial('npm run proxy: schedule, admin, SIGTERM flushes the run folder; bad input exits 2 naming the flag or file', async (t) => {
  const [base, cand] = await Promise.all([
    startSim({ profile: 'vllm-single-node', timeScale: 0 }),
    startSim({ profile: 'dynamo-disaggregated', timeScale: 0, model: CANDIDATE_MODEL }),
  ]);
  const dir = tmpDir('sb-canary-');
  const schedule = join(dir, 'schedule.yaml');
  writeFileSync(schedule, 'steps:\n  - {day: 1, weight: 1}\n');
  try {
    const cli = startCli(
      [
        '--baseline',
        base.url,
        '--candidate',
        cand.url,
        '--candidate-model',
        CANDIDATE_MODEL,
        '--listen',
        '127.0.0.1:0',
        '--admin-listen',
        '127.0.0.1:0',
        '--schedule',
        schedule,
        '--out',
        dir,
        '--run-id',
        'cli-run',
        '--record-text',
      ],
      { SHADOWBENCH_ADMIN_TOKEN: TOKEN },
    );
    const ready = await cli.ready;
    t.is(ready.event, 'listening');
    t.is(ready.weight, 1);
    t.is(ready.source, 'schedule');
    const reply = await post(String(ready.url), CHAT_PATH, chat('scheduled'));
    t.true(reply.body.includes(CANDIDATE_MODEL), 'day 1 of this schedule sends everything to the candidate');
    const state = await request(`${String(ready.admin_url)}/admin/state`, { headers: { authorization: `Bearer ${TOKEN}` } });
    t.is(((await state.body.json()) as ProxyState).totals.requests, 1);
    cli.child.kill('SIGTERM');
    t.is(await cli.exited, 0, cli.stderr());
    const runDir = join(dir, 'cli-run');
    const manifest = JSON.parse(readFileSync(join(runDir, 'run.json'), 'utf8')) as Record<string, unknown>;
    t.is(manifest.interrupted, 'SIGTERM');
    t.truthy(manifest.ended_at);
    const { records } = await readRecords(join(runDir, 'records.jsonl'));
    t.deepEqual(records.map((r) => r.arm).sort(), ['baseline', 'candidate']);
    t.true(
      records.every((r) => r.output_text.length > 0 && !r.output_text.startsWith('sha256:')),
      '--record-text keeps the text',
    );
    t.false(readFileSync(join(runDir, 'run.json'), 'utf8').includes(TOKEN), 'the admin token is not written');
  } finally {
    await Promise.all([base.close(), cand.close()]);
  }

  writeFileSync(schedule, 'steps:\n  - {day: 1, weight: 7}\n');
  const bad: Array<[string[], Record<string, string>, RegExp]> = [
    [['--candidate', 'http://127.0.0.1:1'], {}, /--baseline: required/],
    [
      ['--baseline', 'http://127.0.0.1:1', '--candidate', 'http://127.0.0.1:2', '--weight', '2'],
      {},
      /--weight: got "2"; expected a number from 0 to 1/,
    ],
    // A base URL ending in /v1 is accepted now (one endpoint policy, core/endpoint.ts; test/endpoint.test.ts); a non-http one is not.
    [['--baseline', 'ftp://127.0.0.1:1', '--candidate', 'http://127.0.0.1:2'], {}, /--baseline: expected an http or https URL, got ftp:/],
    [
      ['--baseline', 'http://127.0.0.1:1', '--candidate', 'http://127.0.0.1:2', '--admin-listen', '127.0.0.1:0'],
      { SHADOWBENCH_ADMIN_TOKEN: '' },
      /SHADOWBENCH_ADMIN_TOKEN/,
    ],
    [
      ['--baseline', 'http://127.0.0.1:1', '--candidate', 'http://127.0.0.1:2', '--admin-listen', '0.0.0.0:0'],
      { SHADOWBENCH_ADMIN_TOKEN: TOKEN },
      /must be a loopback address/,
    ],
    [
      ['--baseline', 'http://127.0.0.1:1', '--candidate', 'http://127.0.0.1:2', '--schedule', schedule],
      {},
      /schedule\.yaml: steps\[0\]\.weight: expected a number from 0 to 1/,
    ],
  ];
  for (const [args, env, message] of bad) {
    const cli = startCli(args, env);
    t.is(await cli.exited, 2, args.join(' '));
    t.regex(cli.stderr(), message);
    await cli.ready.catch(() => undefined);
  }
});
