import test from 'ava';
import { armCost, costCsv, costsForArms, formatCost, HOURS_PER_MONTH, nodesCostPerHour } from '../analysis/cost.ts';
import { COST_OPTIONS, costSpecsFromOptions } from '../analysis/cost-options.ts';
import { parseOptions, UsageError } from '../core/options.ts';

test('direct price: monthly, per 1,000 queries and per 1M output tokens from measured throughput', (t) => {
  // $98.32/h, 10 req/s and 2,000 output tokens/s measured
  const c = armCost('baseline', { cost_per_hour: 98.32, basis: { kind: 'direct' } }, { requests_per_s: 10, output_tokens_per_s: 2000 });
  t.is(HOURS_PER_MONTH, 730);
  t.is(c.monthly_cost, 98.32 * 730); // 71,773.6
  t.true(Math.abs(c.monthly_cost - 71773.6) < 1e-6);
  // 36,000 queries/h → 98.32 / 36,000 × 1,000 = 2.7311…
  t.true(Math.abs((c.cost_per_1k_queries ?? 0) - 2.731111111) < 1e-8);
  // 7,200,000 tokens/h → 98.32 / 7.2 = 13.6555…
  t.true(Math.abs((c.cost_per_1m_output_tokens ?? 0) - 13.65555556) < 1e-7);
});

test('nodes × GPUs per node × GPU-hour price', (t) => {
  t.is(nodesCostPerHour(2, 8, 2.5), 40);
  const c = armCost(
    'candidate',
    { cost_per_hour: 40, basis: { kind: 'nodes', nodes: 2, gpus_per_node: 8, gpu_hour_price: 2.5 } },
    { requests_per_s: 20, output_tokens_per_s: 5000 },
  );
  t.is(c.monthly_cost, 29200);
  t.is(c.cost_per_1k_queries, (40 / 72000) * 1000);
  t.is(c.cost_per_1m_output_tokens, (40 / 18_000_000) * 1e6);
});

test('no completed request or token: per-unit costs are undefined, not zero or infinite', (t) => {
  const c = armCost('candidate', { cost_per_hour: 10, basis: { kind: 'direct' } }, { requests_per_s: 0, output_tokens_per_s: 0 });
  t.is(c.cost_per_1k_queries, null);
  t.is(c.cost_per_1m_output_tokens, null);
  t.is(c.monthly_cost, 7300);
});

test('cost flags: direct or nodes per arm, validated with the flag named', (t) => {
  const parse = (argv: string[]) => costSpecsFromOptions(parseOptions(COST_OPTIONS, argv).values);
  const both = parse([
    '--baseline-cost-per-hour',
    '12',
    '--candidate-nodes',
    '2',
    '--candidate-gpus-per-node',
    '4',
    '--gpu-hour-price',
    '3',
  ]);
  t.deepEqual(both.baseline, { cost_per_hour: 12, basis: { kind: 'direct' } });
  t.deepEqual(both.candidate, { cost_per_hour: 24, basis: { kind: 'nodes', nodes: 2, gpus_per_node: 4, gpu_hour_price: 3 } });
  t.deepEqual(parse([]), { baseline: null, candidate: null });
  t.throws(() => parse(['--baseline-nodes', '1']), { instanceOf: UsageError, message: /--baseline-nodes needs --gpu-hour-price/ });
  t.throws(() => parse(['--candidate-nodes', '1', '--candidate-cost-per-hour', '5', '--gpu-hour-price', '1']), {
    instanceOf: UsageError,
    message: /--candidate-cost-per-hour and --candidate-nodes both given/,
  });
  t.throws(() => parse(['--baseline-nodes', '1.5']), { instanceOf: UsageError, message: /--baseline-nodes/ });
  // run.json's config carries the same keys; a corrupted value is named
  t.throws(() => costSpecsFromOptions({ candidateCostPerHour: 'cheap' }), {
    instanceOf: UsageError,
    message: /--candidate-cost-per-hour: got "cheap"/,
  });
});

test('costCsv and formatCost', (t) => {
  const a = armCost('baseline', { cost_per_hour: 36, basis: { kind: 'direct' } }, { requests_per_s: 10, output_tokens_per_s: 1000 });
  const b = armCost(
    'candidate',
    { cost_per_hour: 48, basis: { kind: 'nodes', nodes: 3, gpus_per_node: 8, gpu_hour_price: 2 } },
    { requests_per_s: 0, output_tokens_per_s: 0 },
  );
  t.is(
    costCsv([a, b]),
    'arm,cost_per_hour,basis,monthly_cost,requests_per_s,output_tokens_per_s,cost_per_1k_queries,cost_per_1m_output_tokens\n' +
      'baseline,36,direct,26280,10,1000,1,10\n' +
      'candidate,48,3 nodes x 8 GPUs x 2/GPU-h,35040,0,0,,\n',
  );
  const lines = formatCost([a, b]);
  t.regex(lines[0] ?? '', /per 1k queries 1\.00 +per 1M output tokens 10\.00/);
  t.regex(lines.at(-1) ?? '', /730 h.*tested load, not maximum capacity/);
});

test('costsForArms: priced arms only, throughput taken from the analysis figures', (t) => {
  const costs = costsForArms({ baseline: { cost_per_hour: 36, basis: { kind: 'direct' } }, candidate: null }, [
    { arm: 'baseline', throughput: { ok_requests_per_s: 5, output_tokens_per_s: null } },
    { arm: 'candidate', throughput: { ok_requests_per_s: 5, output_tokens_per_s: 100 } },
  ]);
  t.is(costs.length, 1);
  t.is(costs[0]?.cost_per_1k_queries, 2); // 36 / 18,000 × 1,000
  t.is(costs[0]?.cost_per_1m_output_tokens, null);
});
