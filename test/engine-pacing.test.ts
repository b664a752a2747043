// A due send does not wait for the pacer when the sender's loop is busy reading: every response chunk
// checks the clock. Shown with a pacer that wakes the sender once and never again, so every later
// request can only leave from a chunk of a response in flight.
import test from 'ava';
import type { RequestRecord } from '../core/record.ts';
import { parseWorkload } from '../core/workload.ts';
import { monoNow, type PacerLike } from '../engine/pacer.ts';
import { Sender, type SenderSetup } from '../engine/sender.ts';
import { PROFILES } from '../sim/profiles.ts';
import { startTestSim } from './support/load-helpers.ts';

/** Fires its first wake-up when due, then ignores every later one. */
class OneShotPacer implements PacerLike {
  idlePollNs = 0n;
  #armed = 0;
  #timer: NodeJS.Timeout | null = null;
  at(due: bigint, fire: (now: bigint) => void): void {
    if (this.#armed++ > 0) return;
    this.#timer = setTimeout(() => fire(monoNow()), Math.max(0, Number(due - monoNow()) / 1e6));
  }
  cancel(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
  }
  close(): void {
    this.cancel();
  }
}

test('requests due while a response streams leave from its chunks, within about one inter-chunk gap of their instant', async (t) => {
  // 128 chunks 2 ms apart: request 0 streams for ~260 ms; requests 1-4 are due at 50-200 ms.
  const sim = await startTestSim(t, { profile: { ...PROFILES['vllm-single-node'], interTokenMs: 40 }, timeScale: 0.05 });
  const workload = parseWorkload(JSON.stringify({ id: 'long', model: sim.model, messages: [{ role: 'user', content: 'q' }], max_tokens: 128, ignore_eos: true }) + '\n', {
    file: 'w.jsonl',
    format: 'openai',
    seed: 1,
  });
  const setup: SenderSetup = {
    runId: 'pacing',
    instance: '',
    arms: [{ arm: 'baseline', url: sim.url, model: null, headers: {} }],
    workload,
    plan: { arrival: 'constant', qps: 20, requests: 5, seed: 1, order: 'sequential', warmup: 0 },
    stride: 1,
    offset: 0,
    stream: true,
    timeoutMs: 10_000,
    maxInflight: 0,
    pacer: 'spin',
    preconnect: 0,
  };
  const records: RequestRecord[] = [];
  const sender = new Sender(setup, (r) => records.push(r), new OneShotPacer());
  await sender.ready;
  sender.start(monoNow());
  const finished = await Promise.race([sender.done.then(() => true), new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 5_000))]);
  sender.stop('test over');
  await sender.close();
  t.true(finished, `only ${records.length} of 5 requests were sent and answered`);
  records.sort((a, b) => a.index - b.index);
  t.deepEqual(
    records.map((r) => r.outcome.kind),
    ['ok', 'ok', 'ok', 'ok', 'ok'],
  );
  const first = records[0]!;
  for (const r of records.slice(1)) {
    t.true(r.sent_ns! < first.end_ns!, `request ${r.index} left while request 0 was streaming`);
    const lagMs = (r.sent_ns! - r.scheduled_ns) / 1e6;
    t.true(lagMs >= 0 && lagMs < 25, `request ${r.index}: send lag ${lagMs.toFixed(2)} ms (chunks arrive every 2 ms)`);
  }
});
