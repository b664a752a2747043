import test from 'ava';
import { readFileSync } from 'node:fs';
import { DEFAULT_MODEL, parseWorkload } from '../core/workload/workload.ts';
import { generateSample, SAMPLE_FILE, SAMPLE_SEED } from '../workloads/generate-sample.ts';

type Message = { role: string; content: string };
const committed = readFileSync(SAMPLE_FILE, 'utf8');
const sample = parseWorkload(committed, { file: SAMPLE_FILE, seed: 1 });
const messages = (i: number) => sample.items[i]!.body.messages as Message[];

test('the generator reproduces the committed sample byte for byte (run `npm run workload:sample` after changing it)', (t) => {
  t.true(generateSample(SAMPLE_SEED) === committed);
  t.not(generateSample(SAMPLE_SEED + 1), committed);
});

test('the sample is 300 chat requests for the default model, with max_tokens from 64 to 256 and greedy decoding', (t) => {
  t.is(sample.format, 'openai');
  t.is(sample.items.length, 300);
  t.true(
    sample.items.every(
      (item) => item.api === 'chat' && item.body.model === DEFAULT_MODEL && item.body.temperature === 0 && item.timestamp_ms === null,
    ),
  );
  const maxTokens = sample.items.map((item) => item.body.max_tokens as number);
  t.is(Math.min(...maxTokens), 64);
  t.is(Math.max(...maxTokens), 256);
  t.true(new Set(maxTokens).size >= 5);
});

test('a handful of long system prompts are shared by many requests, so prefix caching matters', (t) => {
  const bySystem = new Map<string, number>();
  for (let i = 0; i < sample.items.length; i++) {
    const first = messages(i)[0]!;
    t.is(first.role, 'system');
    bySystem.set(first.content, (bySystem.get(first.content) ?? 0) + 1);
  }
  // Support, code, summariser and SQL prompts, plus the RAG prompt with each of its three retrieved contexts.
  t.true(bySystem.size >= 5 && bySystem.size <= 8, `${bySystem.size} system prompts`);
  for (const [system, count] of bySystem) {
    t.true(system.length >= 1200, `system prompt of ${system.length} characters`);
    t.true(count >= 10, `system prompt used ${count} times`);
  }
  const userTexts = new Set(sample.items.map((_, i) => JSON.stringify(messages(i).slice(1))));
  t.true(userTexts.size >= 200, `${userTexts.size} different conversations after the system prompt`);
});

test('multi-turn conversations appear turn by turn, each turn extending the previous one', (t) => {
  const turns = sample.items.map((item, i) => ({ id: item.id, i })).filter((x) => /^conversation-\d+-turn-\d+$/.test(x.id));
  t.true(turns.length >= 6);
  const conversations = new Set(turns.map((x) => x.id.split('-turn-')[0]));
  t.true(conversations.size >= 2);
  for (const conversation of conversations) {
    const mine = turns.filter((x) => x.id.startsWith(`${conversation}-turn-`));
    t.deepEqual(
      mine.map((x) => x.id),
      mine.map((_, k) => `${conversation}-turn-${k + 1}`),
    ); // in file order
    for (let k = 1; k < mine.length; k++) {
      const before = messages(mine[k - 1]!.i);
      const after = messages(mine[k]!.i);
      t.deepEqual(after.slice(0, before.length), before);
      t.deepEqual(
        after.slice(before.length).map((m) => m.role),
        ['assistant', 'user'],
      );
    }
  }
});
