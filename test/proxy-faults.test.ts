// The proxy's secrets and disk faults (issue 18 items 3, 4, 7):
// - an upstream that echoes the request's headers and URL (a 500 body, and an answer's text) leaves no
//   credential anywhere in the run folder: configured keys, every credential header a client sent,
//   URL tokens (the whole folder is grepped);
// - records that cannot be written (ENOSPC from an injected sink) never stop the proxy serving: it
//   pauses recording, says so on its log and in its state, and resumes once a write succeeds;
// - time limits beyond Node's timer range are refused.
import test from 'ava';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createWriteStream, readdirSync, readFileSync, statSync } from 'node:fs';
import { Writable } from 'node:stream';
import { join } from 'node:path';
import type { RequestRecord } from '../core/record.ts';
import type { RunManifest } from '../core/run.ts';
import { readRecords } from '../io/records-file.ts';
import { MAX_TIMER_MS, startProxy } from '../proxy/server.ts';
import { SafeRecords, type RecordSink } from '../proxy/recording.ts';
import { chat, post, proxyOptions, until } from './support/proxy-harness.ts';
import { run as runProxyCli } from '../cli/proxy.ts';
import { UsageError } from '../core/options.ts';

/** An upstream that echoes everything it was sent: as a 500 JSON error, or as a streamed answer's text. */
async function echoServer(t: { teardown(fn: () => void): void }, how: 'error' | 'answer'): Promise<string> {
  const s = createServer((req: IncomingMessage, res: ServerResponse) => {
    req.resume();
    req.on('end', () => {
      const echo = JSON.stringify({ url: req.url, headers: req.headers });
      if (how === 'error') {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { message: `bad request, you sent ${echo}` } }));
        return;
      }
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const chunk = (text: string) =>
        `data: ${JSON.stringify({ choices: [{ index: 0, delta: { content: text }, finish_reason: null }] })}\n\n`;
      res.end(chunk('you sent ') + chunk(echo) + 'data: [DONE]\n\n');
    });
  });
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    s.closeAllConnections();
    s.close();
  });
  return `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
}

/** Every file under `dir`, recursively, as text. */
function folderText(dir: string): Array<[string, string]> {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? folderText(path) : [[path, readFileSync(path, 'utf8')] as [string, string]];
  });
}

const SECRETS = {
  bearer: 'sk-client-bearer-0123456789',
  apiKey: 'xk-client-apikey-0123456789',
  azure: 'az-client-api-key-0123456789',
  cookie: 'sess-client-cookie-0123456789',
  custom: 'tok-client-custom-0123456789',
  proxyAuth: 'pa-client-proxy-0123456789',
  query: 'qs-client-query-0123456789',
  configured: 'sk-configured-candidate-0123456789',
};

test('an upstream echoing request headers and URL: no credential reaches any file of the run folder', async (t) => {
  const baseline = await echoServer(t, 'answer');
  const candidate = await echoServer(t, 'error');
  const proxy = await startProxy(
    proxyOptions({
      baselineUrl: baseline,
      candidateUrl: candidate,
      recordText: true,
      apiKeys: { baseline: null, candidate: SECRETS.configured },
    }),
  );
  const headers = {
    authorization: `Bearer ${SECRETS.bearer}`,
    'x-api-key': SECRETS.apiKey,
    'api-key': SECRETS.azure,
    cookie: `session=${SECRETS.cookie}; theme=dark`,
    'x-custom-token': SECRETS.custom,
    'proxy-authorization': `Basic ${SECRETS.proxyAuth}`,
  };
  try {
    for (let i = 0; i < 3; i++) {
      const reply = await post(proxy.url, `/v1/chat/completions?api_key=${SECRETS.query}`, chat(`q${i}`), headers);
      t.is(reply.status, 200);
      t.true(reply.body.includes(SECRETS.bearer), 'the client itself gets the echo untouched (the proxy only redacts what it writes)');
    }
    await until('records', () => proxy.state().totals.candidate.shadow === 3);
  } finally {
    await proxy.close();
  }
  const { records } = await readRecords(join(proxy.runDir, 'records.jsonl'));
  // The echo happened (else the grep below proves nothing): a 500 with the headers, an answer with them.
  const shadow = records.filter((r: RequestRecord) => r.arm === 'candidate');
  t.deepEqual(
    shadow.map((r) => r.outcome.kind),
    ['http_error', 'http_error', 'http_error'],
  );
  for (const r of shadow) t.regex(r.outcome.kind === 'ok' ? '' : r.outcome.message, /you sent .*<redacted>/);
  const primary = records.filter((r: RequestRecord) => r.arm === 'baseline');
  for (const r of primary) t.regex(r.output_text, /you sent .*"x-api-key":"<redacted>"/);
  for (const [file, text] of folderText(proxy.runDir)) {
    for (const [what, secret] of Object.entries(SECRETS)) t.false(text.includes(secret), `${what} secret in ${file}`);
  }
});

/** A records sink whose disk is full while `full` says so (ENOSPC, as writeSync throws it). */
class FlakyDisk implements RecordSink {
  full = false;
  readonly written: RequestRecord[] = [];
  #pending: RequestRecord[] = [];
  write(record: RequestRecord): void {
    this.#pending.push(record);
  }
  flushSync(): void {
    const batch = this.#pending;
    this.#pending = [];
    if (this.full) throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', errno: -28 });
    this.written.push(...batch);
  }
}

test('a full disk never stops the proxy serving: recording pauses, is reported, and resumes when space returns', async (t) => {
  const baseline = await echoServer(t, 'answer');
  const candidate = await echoServer(t, 'answer');
  const disk = new FlakyDisk();
  const log: string[] = [];
  const proxy = await startProxy(
    proxyOptions({ baselineUrl: baseline, candidateUrl: candidate, recordSink: disk, recordRetryMs: 0, log: (m) => log.push(m) }),
  );
  const send = async (n: number, from: number) => {
    for (let i = from; i < from + n; i++) t.is((await post(proxy.url, '/v1/chat/completions', chat(`q${i}`))).status, 200, `request ${i}`);
  };
  try {
    await send(2, 0);
    await until('2 pairs written', () => disk.written.length === 4);
    t.is(proxy.state().recording.state, 'recording');

    disk.full = true;
    await send(3, 2); // every client is still served
    await until('the failed writes', () => proxy.state().recording.lost === 6);
    const paused = proxy.state().recording;
    t.like(paused, { state: 'paused', written: 4, lost: 6, pauses: 1 });
    t.regex(paused.error ?? '', /^ENOSPC/);
    t.is(log.filter((m) => /recording paused.*ENOSPC.*clients are still served/.test(m)).length, 1, 'said once on the log');

    disk.full = false;
    await send(2, 5);
    await until('recording resumed', () => proxy.state().recording.state === 'recording' && disk.written.length === 8);
    t.true(log.some((m) => /recording resumed; 6 records were lost/.test(m)));
    t.deepEqual([...new Set(disk.written.map((r) => r.index))], [0, 1, 5, 6], 'records before the fault and after it');
  } finally {
    await proxy.close();
  }
  const manifest = JSON.parse(readFileSync(join(proxy.runDir, 'run.json'), 'utf8')) as RunManifest;
  t.true(
    manifest.warnings.some((w) => /^6 records could not be written \(ENOSPC/.test(w)),
    JSON.stringify(manifest.warnings),
  );
});

test('routing.jsonl on a full disk: the proxy keeps serving, says so once (log, admin state, run.json); events.jsonl goes on', async (t) => {
  const baseline = await echoServer(t, 'answer');
  const candidate = await echoServer(t, 'answer');
  const log: string[] = [];
  let routed = 0;
  // routing.jsonl: its disk fills after 2 lines (the write fails as fs.WriteStream's does: an 'error' event).
  const openJournal = (file: string) =>
    file.endsWith('routing.jsonl')
      ? new Writable({
          write(_chunk, _encoding, done) {
            if (++routed <= 2) return done();
            done(Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', errno: -28 }));
          },
        })
      : createWriteStream(file, { flags: 'a' });
  const proxy = await startProxy(proxyOptions({ baselineUrl: baseline, candidateUrl: candidate, openJournal, log: (m) => log.push(m) }));
  try {
    for (let i = 0; i < 6; i++) t.is((await post(proxy.url, '/v1/chat/completions', chat(`q${i}`))).status, 200, `request ${i} served`);
    await until('the failure seen', () => proxy.state().journal.length > 0);
    t.like(proxy.state().journal[0], { file: 'routing.jsonl', error: 'ENOSPC' });
    t.is(proxy.state().recording.state, 'recording', 'the records are not affected');
    await until('6 pairs recorded', () => proxy.state().recording.written === 12);
  } finally {
    await proxy.close();
  }
  const said = log.filter((m) => /routing\.jsonl: ENOSPC; no longer written \(clients are still served/.test(m));
  t.is(said.length, 1, `said once: ${log.join(' | ')}`);
  const manifest = JSON.parse(readFileSync(join(proxy.runDir, 'run.json'), 'utf8')) as RunManifest;
  t.true(
    manifest.warnings.some((w) => /^routing\.jsonl could not be written \(ENOSPC\); [1-9]\d* lines after the failure are missing/.test(w)),
    JSON.stringify(manifest.warnings),
  );
  const events = readFileSync(join(proxy.runDir, 'events.jsonl'), 'utf8').trim().split('\n');
  t.deepEqual(
    events.map((l) => (JSON.parse(l) as { event: string }).event),
    ['started', 'stopped'],
  );
  t.is((await readRecords(join(proxy.runDir, 'records.jsonl'))).records.length, 12);
});

test('SafeRecords: while paused, records are counted lost until retryMs has passed; then one write decides', (t) => {
  const disk = new FlakyDisk();
  let now = 1_000;
  const log: string[] = [];
  const records = new SafeRecords(disk, { log: (m) => log.push(m), retryMs: 5_000, nowMs: () => now });
  const r = (index: number) => ({ index }) as RequestRecord;
  disk.full = true;
  records.add(r(0));
  records.flush();
  t.like(records.status(), { state: 'paused', lost: 1, written: 0 });
  disk.full = false;
  now += 4_999;
  records.add(r(1)); // within retryMs: not even tried
  records.flush();
  t.like(records.status(), { state: 'paused', lost: 2, written: 0 });
  t.deepEqual(disk.written, []);
  now += 1;
  records.add(r(2));
  records.flush();
  t.like(records.status(), { state: 'recording', lost: 2, written: 1, error: null });
  t.deepEqual(
    disk.written.map((x) => x.index),
    [2],
  );
  t.is(log.length, 2);
});

test('time limits beyond what Node timers hold are refused at start', async (t) => {
  for (const over of [
    { primaryTimeoutMs: MAX_TIMER_MS + 1 },
    { shadowTimeoutMs: 3e9 },
    { checkIntervalMs: Infinity },
    { drainTimeoutMs: -1 },
  ]) {
    await t.throwsAsync(startProxy(proxyOptions({ baselineUrl: 'http://127.0.0.1:1', candidateUrl: 'http://127.0.0.1:1', ...over })), {
      message: new RegExp(`^${Object.keys(over)[0]}: .* outside 0–${MAX_TIMER_MS} ms`),
    });
  }
});

test('npm run proxy: --primary-timeout and the other time limits above 2,147,483 s are refused, naming the flag', async (t) => {
  for (const flag of ['--primary-timeout', '--shadow-timeout', '--check-interval', '--drain-timeout']) {
    const error = await t.throwsAsync(
      runProxyCli([flag, '3000000', '--baseline', 'http://127.0.0.1:1', '--candidate', 'http://127.0.0.1:1']),
    );
    t.true(error instanceof UsageError, flag);
    t.regex(error?.message ?? '', new RegExp(`^${flag}.*2147483`), flag);
  }
});
