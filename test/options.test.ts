import test from 'ava';
import { bool, flagOf, formatHelp, list, num, parseOptions, str, UsageError } from '../cli/options.ts';

const table = {
  qps: num({ default: 10, min: 0.001, max: 100_000, help: 'target rate' }),
  requests: num({ integer: true, min: 1, help: 'how many' }),
  arrival: str({ default: 'constant', choices: ['constant', 'poisson', 'trace'] as const, help: 'arrival process' }),
  preflight: bool({ default: true, help: 'probe endpoints first' }),
  header: list({ help: 'extra header' }),
  baselineModel: str({ env: 'SB_BASELINE_MODEL', help: 'model name' }),
};

test('defaults apply and flags convert to their types', (t) => {
  const { values, positionals, explicit } = parseOptions(table, ['run-dir', '--qps', '100', '--arrival=poisson', '--no-preflight', '--header', 'a: 1', '--header', 'b: 2']);
  t.is(values.qps, 100);
  t.is(values.requests, undefined);
  t.is(values.arrival, 'poisson');
  t.false(values.preflight);
  t.deepEqual(values.header, ['a: 1', 'b: 2']);
  t.deepEqual(positionals, ['run-dir']);
  t.true(explicit.has('qps'));
  t.false(explicit.has('requests'));
});

test('errors name the flag and what is accepted', (t) => {
  t.throws(() => parseOptions(table, ['--qps', '0']), { instanceOf: UsageError, message: '--qps: got "0"; expected a number from 0.001 to 100000' });
  t.throws(() => parseOptions(table, ['--requests', '2.5']), { message: '--requests: got "2.5"; expected an integer ≥ 1' });
  t.throws(() => parseOptions(table, ['--arrival', 'burst']), { message: '--arrival: got "burst"; expected one of constant, poisson, trace' });
  t.throws(() => parseOptions(table, ['--qps']), { message: '--qps: needs a value (a number from 0.001 to 100000)' });
  t.throws(() => parseOptions(table, ['--qsp', '3']), { message: /^--qsp: unknown option/ });
});

test('environment variables fill options not given as flags', (t) => {
  t.is(parseOptions(table, [], { SB_BASELINE_MODEL: 'llama' }).values.baselineModel, 'llama');
  t.is(parseOptions(table, ['--baseline-model', 'x'], { SB_BASELINE_MODEL: 'llama' }).values.baselineModel, 'x');
});

test('help lists every option with its default', (t) => {
  const help = formatHelp('load [options]', 'Replays a workload.', table);
  for (const key of Object.keys(table)) t.true(help.includes(key === 'preflight' ? '--no-preflight' : flagOf(key)), key);
  t.regex(help, /default 10/);
  t.regex(help, /default constant/);
});
