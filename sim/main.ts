// `shadowbench sim`: serves a simulated OpenAI-compatible endpoint until SIGINT / SIGTERM.
// Prints exactly one JSON line on stdout when ready ({"event":"listening",...}); logs go to stderr.
import { bool, formatHelp, num, parseOptions, str, UsageError } from '../core/options.ts';
import { PROFILE_NAMES, PROFILES } from './profiles.ts';
import { DEFAULT_SIM_MODEL, startSim, type ErrorStatus } from './server.ts';
import { REASONING_FIELDS } from './text.ts';

const rate = (help: string) => num({ default: 0, min: 0, max: 1, help });

export const SIM_OPTIONS = {
  profile: str({ default: 'vllm-single-node', choices: PROFILE_NAMES, help: 'latency profile' }),
  host: str({ default: '127.0.0.1', meta: 'HOST', help: 'address to listen on' }),
  port: num({ default: 8000, min: 0, max: 65535, integer: true, help: 'port to listen on (0: any free port)' }),
  seed: num({
    default: 1,
    integer: true,
    min: 0,
    max: 2 ** 32 - 1,
    help: 'seed of every random choice (latency noise, faults, divergence)',
  }),
  model: str({ default: DEFAULT_SIM_MODEL, meta: 'NAME', help: 'served model name' }),
  timeScale: num({ default: 1, min: 0, help: 'multiplies every simulated delay; 0 answers at once (one write per response)' }),
  interTokenMs: num({ min: 0, help: 'fixed gap between content chunks in ms instead of the profile ITL model (0: all chunks at once)' }),
  tokensPerChunk: num({
    min: 1,
    max: 64,
    integer: true,
    help: 'tokens per content chunk (emulates speculative decoding) [default: profile]',
  }),
  divergenceRate: rate('share of prompts answered with a perturbed text, reasoning and tool-call arguments (0-1)'),
  reasoning: str({
    choices: REASONING_FIELDS,
    meta: 'FIELD',
    help: 'chat answers start with reasoning deltas under this key: reasoning (vLLM now), reasoning_content (vLLM before the rename, Dynamo), both (the transition) [default: no reasoning]',
  }),
  errorRate: rate('share of requests answered with --error-status (0-1)'),
  errorStatus: str({
    default: '503',
    choices: ['500', '503', '429'] as const,
    help: 'HTTP status of injected errors (429 adds retry-after)',
  }),
  stallRate: rate('share of requests that stop sending and never finish (0-1)'),
  disconnectRate: rate('share of streams whose connection is dropped mid-stream (0-1)'),
  malformedRate: rate('share of streams carrying one event that is not valid JSON (0-1)'),
  exitWithStdin: bool({
    help: 'exit when standard input closes (a parent that starts the sim keeps a pipe open, so the sim ends with it, even after kill -9)',
  }),
};

export async function run(argv: string[]): Promise<number> {
  if (argv.includes('--help')) {
    process.stdout.write(
      formatHelp(
        'shadowbench sim [options]',
        'Serves a simulated OpenAI-compatible endpoint (vLLM wire format): /v1/chat/completions, /v1/completions,\n' +
          '/v1/models, /health, /metrics and /sim/ground-truth?id=. The x-sim-fault request header forces one fault\n' +
          '(stall, disconnect, malformed, error-500, error-503, error-429, none) on that request.',
        SIM_OPTIONS,
      ),
    );
    return 0;
  }
  const { values, positionals } = parseOptions(SIM_OPTIONS, argv, process.env);
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"; sim takes only options (see --help)`);
  if (values.errorRate + values.stallRate + values.disconnectRate + values.malformedRate > 1) {
    throw new UsageError('--error-rate, --stall-rate, --disconnect-rate and --malformed-rate add up to more than 1');
  }
  const base = PROFILES[values.profile];
  const profile = {
    ...base,
    ...(values.interTokenMs !== undefined ? { interTokenMs: values.interTokenMs } : {}),
    ...(values.tokensPerChunk !== undefined ? { tokensPerChunk: values.tokensPerChunk } : {}),
  };
  let server;
  try {
    server = await startSim({
      profile,
      host: values.host,
      port: values.port,
      seed: values.seed,
      model: values.model,
      timeScale: values.timeScale,
      divergenceRate: values.divergenceRate,
      ...(values.reasoning !== undefined && { reasoning: values.reasoning }),
      faults: {
        errorRate: values.errorRate,
        errorStatus: Number(values.errorStatus) as ErrorStatus,
        stallRate: values.stallRate,
        disconnectRate: values.disconnectRate,
        malformedRate: values.malformedRate,
      },
    });
  } catch (error) {
    const e = error as NodeJS.ErrnoException;
    if (e.code === 'EADDRINUSE')
      throw new UsageError(`--port: ${values.host}:${values.port} is already in use (pick another port, or 0 for any free port)`);
    if (e.code === 'EADDRNOTAVAIL' || e.code === 'ENOTFOUND') throw new UsageError(`--host: cannot listen on ${values.host} (${e.code})`);
    throw error;
  }
  process.stdout.write(
    JSON.stringify({ event: 'listening', url: server.url, profile: profile.name, model: server.model, metrics: server.metrics }) + '\n',
  );
  process.stderr.write(
    `sim: ${profile.name} serving ${server.model} at ${server.url} (seed ${values.seed}, time scale ${values.timeScale}); metrics ${server.metrics.join(' ')}\n`,
  );
  const reason = await new Promise<string>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
    if (values.exitWithStdin) {
      process.stdin.once('end', () => resolve('standard input closed (parent gone)'));
      process.stdin.once('error', () => resolve('standard input failed (parent gone)'));
      process.stdin.resume();
    }
  });
  process.stdin.pause();
  process.stderr.write(`sim: ${reason}, closing\n`);
  await server.close();
  return 0;
}

// Started directly by sim/process.ts (the load command's built-in endpoints), so the simulator does
// not depend on the command-line front end above it.
if (import.meta.main) {
  run(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(
        `shadowbench sim: ${error instanceof UsageError ? error.message : error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
      );
      process.exitCode = 2;
    },
  );
}
