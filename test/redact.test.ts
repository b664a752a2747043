// The one redaction policy (core/redact.ts), and the Node engine under it: a `load` run against
// upstreams that echo every request header and the URL (a 500 body, an answer's text) leaves no
// configured key, --header value or URL credential anywhere in its run folder.
import test from 'ava';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { run } from '../cli/load.ts';
import { readRecords } from '../io/records-file.ts';
import { headerSecrets, isSecretHeader, redactText, redactUrl, urlSecrets } from '../core/redact.ts';
import { recordMessage } from '../core/outcome-message.ts';
import { emptyRecord } from '../core/record.ts';
import { fillBufferedRecord } from '../k6/script/record-builder.ts';
import { capturingStdout, filesUnder, tempDir } from './support/load-helpers.ts';

test('credential header names: the fixed list and any name containing key, token, secret or auth', (t) => {
  for (const name of [
    'Authorization',
    'proxy-authorization',
    'Cookie',
    'set-cookie',
    'X-Api-Key',
    'api-key',
    'x-goog-api-key',
    'X-Session-Token',
    'x-client-secret',
    'x-auth-user',
  ])
    t.true(isSecretHeader(name), name);
  for (const name of ['content-type', 'accept', 'x-request-id', 'user-agent']) t.false(isSecretHeader(name), name);
});

test('headerSecrets: every configured value, or only credential headers for what a client sent; bearer tokens and cookie values too', (t) => {
  const sent = {
    authorization: 'Bearer sk-abcdef123456',
    'content-type': 'application/json',
    cookie: 'a=bbbbbbbb; c=dd',
    'x-trace': 'trace-value-1',
  };
  t.deepEqual(
    headerSecrets(sent, 'credentials').sort(),
    ['Bearer sk-abcdef123456', 'a=bbbbbbbb; c=dd', 'bbbbbbbb', 'sk-abcdef123456'].sort(),
  );
  t.true(headerSecrets(sent, 'all').includes('trace-value-1'), 'a configured --header value is a secret whatever its name');
  t.true(headerSecrets(sent, 'all').includes('application/json'));
});

test('URLs: credentials and token-like query values are removed for display and listed as secrets', (t) => {
  const url = 'https://user:pa55word-x@h.example/v1?api_key=qk-123456789&api-version=2024&sig=s1g2n3a4';
  t.is(redactUrl(url), 'https://h.example/v1?api_key=REDACTED&api-version=2024&sig=REDACTED');
  t.deepEqual(urlSecrets(url).sort(), ['pa55word-x', 'qk-123456789', 's1g2n3a4'].sort());
});

test('redactText: known secrets and secret-shaped text, while ordinary error words survive', (t) => {
  const cases: Array<[string, string]> = [
    [
      '{"authorization":"Bearer sk-zz9988776655","x-api-key":"unknown-key-1","content-type":"application/json"}',
      '{"authorization":"<redacted>","x-api-key":"<redacted>","content-type":"application/json"}',
    ],
    [
      'Authorization: Bearer sk-zz9988776655\nX-Api-Key: unknown-key-2 (rejected)',
      'Authorization: <redacted>\nX-Api-Key: <redacted> (rejected)',
    ],
    ["{'cookie': 'session=abc123456', 'x-session-token': 'tok123456'}", `{'cookie': "<redacted>", 'x-session-token': "<redacted>"}`],
    [
      'GET https://bob:hunter2hunter@h/x?access_token=abcdef123456&b=1 failed',
      'GET https://<redacted>@h/x?access_token=<redacted>&b=1 failed',
    ],
    ['invalid credentials Basic dXNlcjpwYXNzd29yZA==', 'invalid credentials Basic <redacted>'],
    ['the known one: my-configured-key-77 appears mid-sentence', 'the known one: <redacted> appears mid-sentence'],
    // ordinary messages stay readable: token counts are not tokens
    [
      "This model's maximum context length is 4096 tokens; max_tokens: 5000, prompt_tokens: 12",
      "This model's maximum context length is 4096 tokens; max_tokens: 5000, prompt_tokens: 12",
    ],
  ];
  for (const [text, expected] of cases) t.is(redactText(text, ['my-configured-key-77']), expected, text);
  t.is(recordMessage(`x-api-key: ${'k'.repeat(500)}`, []), 'x-api-key: <redacted>', 'redacted before the length cut');
});

async function echoServer(t: { teardown(fn: () => void): void }, how: 'error' | 'answer'): Promise<string> {
  const s = createServer((req: IncomingMessage, res: ServerResponse) => {
    req.resume();
    req.on('end', () => {
      const echo = JSON.stringify({ url: req.url, headers: req.headers });
      if (how === 'error') {
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(`rejected ${echo}`);
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
  return `127.0.0.1:${(s.address() as AddressInfo).port}`;
}

test.serial('load against upstreams echoing headers and URL: no secret anywhere in the run folder', async (t) => {
  const [baseline, candidate] = [await echoServer(t, 'answer'), await echoServer(t, 'error')];
  const dir = join(tempDir('sb-redact-'), 'run');
  const secrets = ['sk-base-ECHO-111111', 'sk-cand-ECHO-222222', 'hdr-ECHO-333333', 'url-pass-ECHO-444444', 'url-query-ECHO-555555'];
  const { value: code } = await capturingStdout(() =>
    run(
      [
        '--baseline',
        `http://${baseline}`,
        '--candidate',
        `http://someone:${secrets[3]}@${candidate}/?api_key=${secrets[4]}`,
        '--qps',
        '50',
        '--requests',
        '4',
        '--header',
        `x-api-key: ${secrets[2]}`,
        '--no-preflight',
        '--no-progress',
        '--out',
        dir,
      ],
      { BASELINE_API_KEY: secrets[0], CANDIDATE_API_KEY: secrets[1] },
    ),
  );
  t.true(code === 0 || code === 1, `exit ${code}`);
  const { records } = await readRecords(join(dir, 'records.jsonl'));
  // The echo happened (else the grep proves nothing).
  const failed = records.filter((r) => r.arm === 'candidate');
  t.is(failed.length, 4);
  for (const r of failed) t.regex(r.outcome.kind === 'http_error' ? r.outcome.message : '', /rejected .*<redacted>/);
  for (const r of records.filter((x) => x.arm === 'baseline')) t.regex(r.output_text, /you sent .*<redacted>/);
  for (const file of filesUnder(dir)) {
    const text = readFileSync(file, 'utf8');
    for (const secret of secrets) t.false(text.includes(secret), `${file} holds ${secret}`);
  }
});

test('the k6 record builder: an echoed credential it was never told about is redacted; a known one leaves the answer text', (t) => {
  const record = () =>
    Object.assign(
      emptyRecord({ run_id: 'r', arm: 'baseline', index: 0, item_id: 'i', warmup: false, source: 'k6', streaming: false, scheduled_ns: 0 }),
      {
        sent_ns: 0,
      },
    );
  const timings = { blocked: 0, connecting: 0, tls_handshaking: 0, sending: 0, waiting: 1, receiving: 0 };
  const echo = `rejected {"x-api-key":"never-configured-9999","cookie":"s=abcdef123456"}`;
  const failed = fillBufferedRecord(record(), 'chat', { status: 500, body: echo, error: '', error_code: 0, timings }, 5e6, []);
  t.deepEqual(failed.outcome, { kind: 'http_error', status: 500, message: 'rejected {"x-api-key":"<redacted>","cookie":"<redacted>"}' });
  const answer = JSON.stringify({
    id: 'x',
    object: 'chat.completion',
    created: 0,
    model: 'm',
    choices: [{ index: 0, message: { role: 'assistant', content: 'your key is sk-known-777777' }, finish_reason: 'stop' }],
  });
  const ok = fillBufferedRecord(record(), 'chat', { status: 200, body: answer, error: '', error_code: 0, timings }, 5e6, [
    'sk-known-777777',
  ]);
  t.is(ok.outcome.kind, 'ok');
  t.is(ok.output_text, 'your key is <redacted>');
});
