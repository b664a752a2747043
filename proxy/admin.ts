// The operator's endpoint: a separate listener, loopback only, bearer-token protected.
//   GET  /admin/state           weight, schedule, rollback state and reasons, per-arm window stats
//   POST /admin/weight          {"weight": 0.25}  sets the candidate's share (replaces the schedule)
//   POST /admin/reset-rollback  {} or {"weight": 0.05}  clears a rollback
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createHash, timingSafeEqual } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { TrafficError } from './traffic.ts';

export interface AdminControls {
  state(): unknown;
  setWeight(weight: number): void;
  resetRollback(weight: number | undefined): void;
}

export interface AdminServer {
  url: string;
  close(): Promise<void>;
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);
export const isLoopback = (host: string): boolean => LOOPBACK.has(host) || /^127\.\d+\.\d+\.\d+$/.test(host);

/** Constant-time comparison: hashing first makes the lengths equal, so the length of the token does not leak either. */
function tokenMatches(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

const MAX_ADMIN_BODY = 4096;

function reply(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body, null, 2) + '\n';
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
  res.end(text);
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  let size = 0;
  const parts: Buffer[] = [];
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_ADMIN_BODY) throw new TrafficError(`body larger than ${MAX_ADMIN_BODY} bytes`);
    parts.push(chunk);
  }
  const text = Buffer.concat(parts).toString('utf8').trim();
  if (text === '') return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new TrafficError('body is not JSON (expected an object such as {"weight": 0.1})');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new TrafficError('body must be a JSON object such as {"weight": 0.1}');
  return value as Record<string, unknown>;
}

function weightField(body: Record<string, unknown>, required: boolean): number | undefined {
  if (body.weight === undefined && !required) return undefined;
  if (typeof body.weight !== 'number')
    throw new TrafficError(`weight: expected a number from 0 to 1, got ${JSON.stringify(body.weight) ?? 'nothing'}`);
  return body.weight;
}

export async function startAdmin(options: { host: string; port: number; token: string; controls: AdminControls }): Promise<AdminServer> {
  if (!isLoopback(options.host)) throw new TrafficError(`admin listener must be on loopback (127.0.0.1 or ::1), got ${options.host}`);
  const { controls, token } = options;
  const server: Server = createServer((req, res) => {
    const auth = req.headers.authorization ?? '';
    const given = auth.startsWith('Bearer ') ? auth.slice(7) : '';
    if (!tokenMatches(given, token)) {
      reply(res, 401, { error: 'missing or wrong token (send Authorization: Bearer $SHADOWBENCH_ADMIN_TOKEN)' });
      req.resume();
      return;
    }
    const route = `${req.method} ${(req.url ?? '').split('?')[0]}`;
    const handle = async () => {
      switch (route) {
        case 'GET /admin/state':
          return reply(res, 200, controls.state());
        case 'POST /admin/weight': {
          const weight = weightField(await readJson(req), true) as number;
          controls.setWeight(weight);
          return reply(res, 200, controls.state());
        }
        case 'POST /admin/reset-rollback': {
          controls.resetRollback(weightField(await readJson(req), false));
          return reply(res, 200, controls.state());
        }
        default:
          req.resume();
          return reply(res, 404, { error: `no route ${route} (GET /admin/state, POST /admin/weight, POST /admin/reset-rollback)` });
      }
    };
    handle().catch((error: unknown) => {
      if (error instanceof TrafficError) reply(res, error.message.startsWith('rolled back') ? 409 : 400, { error: error.message });
      else reply(res, 500, { error: (error as Error).message });
    });
  });
  server.listen(options.port, options.host);
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${host}:${address.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
