// `shadowbench proxy`: the live shadow / canary proxy (proxy/server.ts) until SIGINT / SIGTERM.
// Prints exactly one JSON line on stdout when ready ({"event":"listening",...}); logs go to stderr.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadGates } from '../pipeline/analyze-folder.ts';
import { checkRunFolder, checkRunSegment } from '../io/run-folder.ts';
import { bool, formatHelp, num, parseOptions, str, UsageError } from '../core/options.ts';
import { parseEndpoint } from '../core/endpoint.ts';
import { isLoopback } from '../proxy/admin.ts';
import { rollbackThresholds } from '../proxy/rollback.ts';
import { parseSchedule, ScheduleError, type WeightSchedule } from '../proxy/schedule.ts';
import { MAX_TIMER_MS, startProxy, type ProxyServer } from '../proxy/server.ts';
import { newRunId } from '../engine/config.ts';

/** Node's timers hold at most 2^31 − 1 ms (proxy/server.ts MAX_TIMER_MS): the longest time limit in s. */
const MAX_TIMER_S = Math.floor(MAX_TIMER_MS / 1000);

export const PROXY_OPTIONS = {
  baseline: str({
    meta: 'URL',
    help: 'baseline endpoint base URL (e.g. http://10.0.0.5:8000; a trailing /v1 is ignored, a path prefix and a query are kept); required',
  }),
  candidate: str({ meta: 'URL', help: 'candidate endpoint base URL; required' }),
  listen: str({ default: '127.0.0.1:8080', meta: 'HOST:PORT', help: 'where clients connect (port 0: any free port)' }),
  adminListen: str({ meta: 'HOST:PORT', help: 'admin endpoint, loopback only; needs env SHADOWBENCH_ADMIN_TOKEN' }),
  weight: num({ default: 0, min: 0, max: 1, help: 'share of live requests the candidate serves (0: pure shadow mode)' }),
  schedule: str({ meta: 'FILE', help: 'canary schedule (JSON/YAML, e.g. proxy/schedule.guide.yaml); replaces --weight' }),
  scheduleDaySeconds: num({ default: 86_400, min: 0.001, help: 'length of a schedule day in s (shorten only to rehearse a schedule)' }),
  shadow: bool({ default: true, help: 'send each request to the other arm too (--no-shadow: canary only, no pairs)' }),
  shadowTimeout: num({ default: 30, min: 0.001, max: MAX_TIMER_S, help: 'shadow request limit in s, from send to end of response' }),
  shadowMaxInflight: num({
    default: 64,
    min: 1,
    integer: true,
    help: 'shadow requests in flight at most; beyond it shadows are dropped and counted',
  }),
  primaryTimeout: num({
    default: 600,
    min: 0.001,
    max: MAX_TIMER_S,
    help: 'primary request limit in s (the client then sees a broken response)',
  }),
  checkInterval: num({ default: 30, min: 0.01, max: MAX_TIMER_S, help: 'seconds between rollback checks' }),
  rollbackWindow: num({ default: 300, min: 0.01, help: 'the rollback triggers judge requests completed in the last this-many seconds' }),
  gates: str({ meta: 'FILE', help: 'gates file: rollback thresholds (rollback.*) and the minimum sample (validity.min_ok_pairs)' }),
  recordText: bool({ help: 'keep output text in records (similarity works); otherwise a sha256 of it (equality only)' }),
  maxOutputBytes: num({
    default: 1 << 20,
    integer: true,
    min: 1,
    meta: 'BYTES',
    help: 'text recorded per response: past it the record is cut and says truncated (the client still gets every byte); one SSE line may hold at most 6× this + 64 KiB',
  }),
  baselineModel: str({ meta: 'NAME', help: "model name sent to the baseline (default: the client's)" }),
  candidateModel: str({ meta: 'NAME', help: "model name sent to the candidate (default: the client's)" }),
  out: str({ default: 'results', meta: 'DIR', help: 'folder holding run folders' }),
  runId: str({ meta: 'ID', help: 'run folder name [default: proxy-<UTC time>-<random>, as the load command names runs]' }),
  seed: num({ default: 1, integer: true, min: 0, max: 2 ** 32 - 1, help: 'seed of the routing draws' }),
  drainTimeout: num({
    default: 10,
    min: 0,
    max: MAX_TIMER_S,
    help: 'at shutdown, seconds in-flight requests may take to finish before they are cancelled',
  }),
  maxBodyBytes: num({ default: 16 * 1024 * 1024, min: 1, integer: true, help: 'largest request body accepted (413 beyond)' }),
};

const HELP =
  'A reverse proxy for OpenAI-compatible traffic. Every request is answered by the primary arm (the baseline, or\n' +
  'the candidate for the --weight / --schedule share of requests) and sent to the other arm as a shadow the client\n' +
  'never waits for. Both responses are recorded in <out>/<run-id>/ (records.jsonl, run.json, routing.jsonl,\n' +
  'events.jsonl) for `npm run analyze`. Every --check-interval the rollback triggers are applied to the last\n' +
  '--rollback-window seconds; a trigger sets the weight to 0 until an operator resets it.\n\n' +
  "Credentials: env BASELINE_API_KEY / CANDIDATE_API_KEY, when set, replace the client's Authorization on that arm.\n" +
  'Admin (with --admin-listen; env SHADOWBENCH_ADMIN_TOKEN, sent as Authorization: Bearer):\n' +
  '  GET /admin/state   POST /admin/weight {"weight": 0.05}   POST /admin/reset-rollback [{"weight": 0}]\n' +
  'Records hold no prompt text; output text only with --record-text (otherwise sha256:<hex>, so similarity\n' +
  'becomes exact-match consistency). A user\'s requests stick to one arm when the body carries the OpenAI "user" field.';

function hostPort(flag: string, text: string): { host: string; port: number } {
  const m = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(text);
  const port = m ? Number(m[2]) : Number.NaN;
  if (!m || !(port >= 0 && port <= 65535))
    throw new UsageError(`${flag}: got ${JSON.stringify(text)}; expected HOST:PORT such as 127.0.0.1:8080`);
  return { host: (m[1] as string).replace(/^\[|\]$/g, ''), port };
}

export function baseUrl(flag: string, text: string | undefined): string {
  if (text === undefined) throw new UsageError(`${flag}: required (the endpoint's base URL, e.g. http://127.0.0.1:8000)`);
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    throw new UsageError(`${flag}: got ${JSON.stringify(text)}; expected an http(s) URL such as http://127.0.0.1:8000`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new UsageError(`${flag}: expected an http or https URL, got ${u.protocol}`);
  // With or without /v1, a path prefix, a query: the one policy of every engine (core/endpoint.ts).
  try {
    parseEndpoint(text);
  } catch (error) {
    throw new UsageError(`${flag}: ${(error as Error).message}`);
  }
  return text;
}

/** The --schedule file's text; worded as --gates FILE is (cli/analyze.ts loadGates). */
async function readScheduleFile(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    throw new UsageError(`--schedule ${path}: cannot read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
}

export async function run(argv: string[]): Promise<number> {
  if (argv.includes('--help')) {
    process.stdout.write(formatHelp('shadowbench proxy --baseline URL --candidate URL [options]', HELP, PROXY_OPTIONS));
    return 0;
  }
  const { values, positionals, explicit } = parseOptions(PROXY_OPTIONS, argv, process.env);
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"; proxy takes only options (see --help)`);
  const baselineUrl = baseUrl('--baseline', values.baseline);
  const candidateUrl = baseUrl('--candidate', values.candidate);
  const listen = hostPort('--listen', values.listen);
  let admin: { host: string; port: number; token: string } | null = null;
  if (values.adminListen !== undefined) {
    const where = hostPort('--admin-listen', values.adminListen);
    if (!isLoopback(where.host)) throw new UsageError(`--admin-listen: must be a loopback address (127.0.0.1 or ::1), got ${where.host}`);
    const token = process.env.SHADOWBENCH_ADMIN_TOKEN ?? '';
    if (token.length < 16)
      throw new UsageError('--admin-listen: set env SHADOWBENCH_ADMIN_TOKEN to a secret of at least 16 characters first');
    admin = { ...where, token };
  }
  let schedule: WeightSchedule | null = null;
  if (values.schedule !== undefined) {
    if (explicit.has('weight')) throw new UsageError('--weight and --schedule: give one (the schedule sets the weight)');
    try {
      schedule = parseSchedule(await readScheduleFile(values.schedule), values.schedule);
    } catch (error) {
      if (error instanceof ScheduleError) throw new UsageError(`--schedule ${error.message}`); // "--schedule FILE: key: ...", as --gates
      throw error;
    }
  }
  const gates = await loadGates(values.gates);
  const runId = values.runId ?? `proxy-${newRunId()}`;
  checkRunSegment('--run-id', runId); // one folder name: never '..' (the parent of --out)
  checkRunFolder(join(values.out, runId), { flag: '--run-id', canForce: false }); // one run per folder: never appended to
  const packageJson = JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  const env = (name: string) => (process.env[name] ? process.env[name] : null);

  let proxy: ProxyServer;
  try {
    proxy = await startProxy({
      baselineUrl,
      candidateUrl,
      host: listen.host,
      port: listen.port,
      admin,
      weight: values.weight,
      schedule,
      scheduleDayMs: values.scheduleDaySeconds * 1000,
      shadow: values.shadow,
      shadowTimeoutMs: values.shadowTimeout * 1000,
      shadowMaxInflight: values.shadowMaxInflight,
      primaryTimeoutMs: values.primaryTimeout * 1000,
      checkIntervalMs: values.checkInterval * 1000,
      windowMs: values.rollbackWindow * 1000,
      thresholds: rollbackThresholds(gates),
      recordText: values.recordText,
      maxOutputBytes: values.maxOutputBytes,
      apiKeys: { baseline: env('BASELINE_API_KEY'), candidate: env('CANDIDATE_API_KEY') },
      models: { baseline: values.baselineModel ?? null, candidate: values.candidateModel ?? null },
      runDir: join(values.out, runId),
      runId,
      seed: values.seed,
      drainTimeoutMs: values.drainTimeout * 1000,
      maxBodyBytes: values.maxBodyBytes,
      // URLs are redacted in run.json's arms; the option values here carry no secrets (keys come from env only).
      config: { ...values, baseline: undefined, candidate: undefined, gates_file: values.gates ?? null, gates },
      versions: { shadowbench: packageJson.version, node: process.version },
      log: (message) => process.stderr.write(`${message}\n`),
    });
  } catch (error) {
    const e = error as NodeJS.ErrnoException;
    if (e.code === 'EADDRINUSE')
      throw new UsageError(`--listen / --admin-listen: address already in use (pick another port, or 0 for any free port)`);
    if (e.code === 'EADDRNOTAVAIL' || e.code === 'ENOTFOUND')
      throw new UsageError(`--listen / --admin-listen: cannot listen there (${e.code})`);
    throw error;
  }
  const state = proxy.state();
  process.stdout.write(
    JSON.stringify({
      event: 'listening',
      url: proxy.url,
      admin_url: proxy.adminUrl,
      run_dir: proxy.runDir,
      weight: state.weight,
      source: state.source,
    }) + '\n',
  );
  process.stderr.write(
    `proxy: ${proxy.url} → baseline + candidate, candidate weight ${state.weight} (${state.source}), shadow ${values.shadow ? 'on' : 'off'}; records in ${proxy.runDir}\n`,
  );
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  process.stderr.write(`proxy: ${signal}, draining in-flight requests (up to ${values.drainTimeout} s) and flushing records\n`);
  await proxy.close(signal);
  const totals = proxy.state().totals;
  process.stderr.write(
    `proxy: stopped; ${totals.requests} requests, ${totals.shadow_dropped} shadows dropped; run folder ${proxy.runDir}\n`,
  );
  return 0;
}
