import test from 'ava';
import { bool, flagOf, formatHelp, list, num, parseOptions, str, UsageError } from '../core/options.ts';

const table = {
  qps: num({ default: 10, min: 0.001, max: 100_000, help: 'target rate' }),
  requests: num({ integer: true, min: 1, help: 'how many' }),
  arrival: str({ default: 'constant', choices: ['constant', 'poisson', 'trace'] as const, help: 'arrival process' }),
  preflight: bool({ default: true, help: 'probe endpoints first' }),
  header: list({ help: 'extra header' }),
  baselineModel: str({ env: 'SB_BASELINE_MODEL', help: 'model name' }),
};

test('defaults apply and flags convert to their types', (t) => {
  const { values, positionals, explicit } = parseOptions(table, [
    'run-dir',
    '--qps',
    '100',
    '--arrival=poisson',
    '--no-preflight',
    '--header',
    'a: 1',
    '--header',
    'b: 2',
  ]);
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
  t.throws(() => parseOptions(table, ['--qps', '0']), {
    instanceOf: UsageError,
    message: '--qps: got "0"; expected a number from 0.001 to 100000',
  });
  t.throws(() => parseOptions(table, ['--requests', '2.5']), { message: '--requests: got "2.5"; expected an integer ≥ 1' });
  t.throws(() => parseOptions(table, ['--arrival', 'burst']), {
    message: '--arrival: got "burst"; expected one of constant, poisson, trace',
  });
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

test('a switch on by default is listed as --[no-]x, its help describing the switch when on', (t) => {
  const help = formatHelp('load [options]', 'Replays a workload.', table);
  t.regex(help, /\n  --\[no-\]preflight +probe endpoints first \[on by default; --no-preflight turns it off\]\n/);
  t.false(/\n  --no-/.test(help), 'no line starts with a bare --no-x next to the positive description');
});

test('numbers are decimal: hex, binary, blank and empty values are refused with what is accepted', (t) => {
  for (const raw of ['0x10', '0b11', '0o7', '', ' ', '1_000', 'Infinity']) {
    t.throws(
      () => parseOptions(table, ['--qps', raw]),
      { instanceOf: UsageError, message: `--qps: got ${JSON.stringify(raw)}; expected a number from 0.001 to 100000` },
      raw,
    );
  }
  t.is(parseOptions(table, ['--qps', '1e2']).values.qps, 100);
  t.is(parseOptions(table, ['--qps', '.5']).values.qps, 0.5);
  t.is(parseOptions(table, ['--qps', '+7.25']).values.qps, 7.25);
  t.throws(() => parseOptions({ n: num({ min: 1, env: 'SB_N', help: 'n' }) }, [], { SB_N: '0x10' }), {
    message: 'SB_N (for --n): got "0x10"; expected a number ≥ 1',
  });
});

test('a missing value is worded by what the option takes, never "(a value)"', (t) => {
  const more = {
    against: str({ meta: 'FOLDER', help: 'reference run' }),
    note: str({ help: 'free text' }),
    header: list({ meta: 'NAME: VALUE', help: 'h' }),
  };
  t.throws(() => parseOptions(more, ['--against']), { message: '--against: needs a value (<FOLDER>)' });
  t.throws(() => parseOptions(more, ['--note', '--against', 'x']), { message: '--note: needs a value' });
  t.throws(() => parseOptions(more, ['--header']), { message: '--header: needs a value (<NAME: VALUE>)' });
  t.throws(() => parseOptions(table, ['--arrival']), { message: '--arrival: needs a value (one of constant, poisson, trace)' });
});
