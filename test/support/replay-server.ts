// A small test server that replays given SSE streams verbatim (test/support/wire-fixtures.ts holds
// real vLLM / OpenAI / Dynamo shapes), one event per write so events arrive as the server sent them.
// `pick` chooses the stream per request (from the parsed body, e.g. by a marker in the prompt).
// Listens on port 0 and resolves once listening; also answers GET /v1/models (preconnect, preflight).
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReplayServer {
  url: string;
  /** Requests answered so far (bodies as parsed JSON). */
  bodies: unknown[];
  close(): Promise<void>;
}

export type Replay = string | { status: number; contentType: string; body: string };

export async function startReplayServer(pick: (body: Record<string, unknown>) => Replay): Promise<ReplayServer> {
  const bodies: unknown[] = [];
  const server: Server = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (b: Buffer) => parts.push(b));
    req.on('end', () => {
      if (req.method === 'GET') {
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"object":"list","data":[{"id":"replay","object":"model"}]}');
        return;
      }
      let body: Record<string, unknown> = {};
      try {
        body = JSON.parse(Buffer.concat(parts).toString('utf8')) as Record<string, unknown>;
      } catch {
        // replayed anyway: pick decides
      }
      bodies.push(body);
      const replay = pick(body);
      if (typeof replay !== 'string') {
        res.writeHead(replay.status, { 'content-type': replay.contentType }).end(replay.body);
        return;
      }
      res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' });
      const events = replay.split(/(?<=\n\n)/);
      const next = (k: number) => {
        if (k >= events.length) return void res.end();
        res.write(events[k], () => setImmediate(next, k + 1));
      };
      next(0);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    bodies,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
