// Before the first send: --preconnect opens the pool's connections (and they are the ones the run's
// requests then use), the auto estimate follows the plan, and the synthetic warm-up stream really
// goes through the request handler; a run writes what it opened to run.json.
import test from 'ava';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createPlan } from '../core/plan.ts';
import { emptyRecord, type RequestRecord } from '../core/record.ts';
import { parseWorkload } from '../core/workload/workload.ts';
import { createArmClient, createRequest, preconnect, PRECONNECT_MAX, warmUpStreamPath } from '../engine/client.ts';
import { monoNow } from '../engine/pacer.ts';
import { autoPreconnect } from '../engine/sender.ts';
import { startTestSim as sim } from './support/load-helpers.ts';
import { endpoints, load } from './support/engine-run.ts';

const workload = parseWorkload(
  Array.from({ length: 4 }, (_, i) => JSON.stringify({ id: `w${i}`, model: 'm', messages: [{ role: 'user', content: `q${i}` }] })).join(
    '\n',
  ),
  { file: 'w.jsonl', format: 'openai', seed: 1 },
);

test.serial('preconnect opens N keep-alive connections with GET /v1/models, and N concurrent requests then reuse them', async (t) => {
  const N = 6;
  let connections = 0;
  const paths: string[] = [];
  const held: ServerResponse[] = [];
  const s = createServer((req, res) => {
    paths.push(`${req.method} ${req.url}`);
    req.resume();
    if (req.url === '/v1/models') {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"object":"list","data":[{"id":"m"}]}');
      return;
    }
    // Answer the streams only once all N are in, so each one needs a socket of its own.
    held.push(res);
    if (held.length < N) return;
    for (const r of held)
      r.writeHead(200, { 'content-type': 'text/event-stream' }).end(
        `data: ${JSON.stringify({ choices: [{ index: 0, delta: { content: 'x' } }] })}\n\ndata: [DONE]\n\n`,
      );
  });
  s.on('connection', () => connections++);
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    s.closeAllConnections();
    s.close();
  });
  const client = createArmClient('baseline', `http://127.0.0.1:${(s.address() as AddressInfo).port}/v1`, {}, 2000);
  t.teardown(() => void client.dispatcher.destroy());

  t.is(await preconnect(client, N, 2000), N);
  t.is(connections, N);
  t.deepEqual(paths, Array(N).fill('GET /v1/models'));

  const records = await Promise.all(
    Array.from(
      { length: N },
      (_, i) =>
        new Promise<RequestRecord>((resolve) => {
          const record = emptyRecord({
            run_id: 'r',
            arm: 'baseline',
            index: i,
            item_id: 'i',
            warmup: false,
            source: 'node',
            streaming: true,
            scheduled_ns: 0,
          });
          createRequest({
            client,
            api: 'chat',
            stream: true,
            body: '{}',
            requestId: `r:baseline:${i}`,
            record,
            origin: monoNow(),
            timeoutMs: 2000,
            onDone: resolve,
          }).start();
        }),
    ),
  );
  t.deepEqual(
    records.map((r) => r.outcome.kind),
    Array(N).fill('ok'),
  );
  t.is(connections, N, "no new connection for the run's requests");
});

test.serial('preconnect to an endpoint that refuses connections opens none and does not throw', async (t) => {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
  await new Promise((resolve) => s.close(resolve));
  const client = createArmClient('baseline', url, {}, 1000);
  t.teardown(() => void client.dispatcher.destroy());
  t.is(await preconnect(client, 3, 1000), 0);
});

test('auto preconnect: the requests a sender sends in its first 2 s, capped by 256 and by its --max-inflight share', (t) => {
  const plan = (qps: number) => createPlan(workload, { arrival: 'constant', qps, durationS: 10, seed: 1, order: 'sequential', warmup: 0 });
  t.is(autoPreconnect(plan(100), 1, 0, 0), 200);
  t.is(autoPreconnect(plan(100), 2, 0, 0), 100);
  t.is(autoPreconnect(plan(100), 2, 1, 0), 100);
  t.is(autoPreconnect(plan(10), 4, 3, 0), 5);
  t.is(autoPreconnect(plan(1000), 1, 0, 0), PRECONNECT_MAX);
  t.is(autoPreconnect(plan(100), 2, 0, 30), 30);
  const short = createPlan(workload, { arrival: 'constant', qps: 100, requests: 7, seed: 1, order: 'sequential', warmup: 0 });
  t.is(autoPreconnect(short, 2, 0, 0), 4, 'never more than the sender will send');
});

test('the JIT warm-up streams go through the real request handler and end ok with every event counted', (t) => {
  t.is(warmUpStreamPath('chat', 5, 12), 5);
  t.is(warmUpStreamPath('completions', 3, 4), 3);
});

test.serial('a load run records its preconnect in run.json and never as records; --preconnect 0 opens nothing', async (t) => {
  const [b, c] = [await sim(t), await sim(t)];
  const run = await load([...endpoints(b, c), '--qps', '50', '--requests', '6', '--workers', '2', '--preconnect', '5']);
  t.is(run.code, 0);
  t.is(run.records.length, 12);
  t.true(run.records.every((r) => r.outcome.kind === 'ok'));
  const config = run.manifest.config as { preconnect: string; preconnected: unknown };
  t.is(config.preconnect, '5');
  t.deepEqual(config.preconnected, [
    { sender: 'w0', preconnect: 5, opened: { baseline: 5, candidate: 5 } },
    { sender: 'w1', preconnect: 5, opened: { baseline: 5, candidate: 5 } },
  ]);
  const off = await load([...endpoints(b, c), '--qps', '50', '--requests', '2', '--workers', '0', '--preconnect', '0']);
  t.deepEqual((off.manifest.config as { preconnected: unknown }).preconnected, [
    { sender: 'main', preconnect: 0, opened: { baseline: 0, candidate: 0 } },
  ]);
});
