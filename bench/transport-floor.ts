// What the loopback transport alone costs on this machine: the same simulated endpoints, the same
// 128-token streams, read by a bare-socket client that parses nothing (no HTTP parser, no SSE, no
// records; it only spots the end of each chunked body) and is paced by a 1 ms timer. The client's
// CPU is the floor any Node client pays per socket read; the sims' CPU is what the servers cost
// when co-located. Together they bound the paired QPS this machine can drive at all, whatever the
// engine does on top. Bench-only: the engine never uses this client.
import { connect, type Socket } from 'node:net';

export interface FloorResult {
  pairedQps: number;
  seconds: number;
  responses: number;
  expected: number;
  reads: number;
  clientCpuS: number;
  simCpuS: number | null;
}

/** The last five bytes of a chunked body: the zero-size chunk and the blank line after it. */
const END_OF_CHUNKED = Buffer.from('0\r\n\r\n');

interface Arm {
  send(): void;
  close(): void;
}

function bareArm(url: string, body: string, onRead: () => void, onResponse: () => void): Arm {
  const { hostname, port, host } = new URL(url);
  const request = Buffer.from(
    `POST /v1/chat/completions HTTP/1.1\r\nhost: ${host}\r\ncontent-type: application/json\r\naccept: text/event-stream\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
  const idle: Socket[] = [];
  const all: Socket[] = [];
  return {
    send() {
      let socket = idle.pop();
      if (socket === undefined) {
        socket = connect(Number(port), hostname);
        socket.setNoDelay(true);
        all.push(socket);
      }
      const s = socket;
      let tail: Buffer = Buffer.alloc(0);
      const onData = (chunk: Buffer) => {
        onRead();
        // The terminator can be split over two reads: look at the last bytes of both.
        tail =
          chunk.length >= END_OF_CHUNKED.length
            ? chunk.subarray(-END_OF_CHUNKED.length)
            : Buffer.concat([tail, chunk]).subarray(-END_OF_CHUNKED.length);
        if (tail.equals(END_OF_CHUNKED)) {
          s.off('data', onData);
          idle.push(s);
          onResponse();
        }
      };
      s.on('data', onData);
      s.write(request);
    },
    close() {
      for (const s of all) s.destroy();
    },
  };
}

/**
 * Sends `pairedQps` requests per second to each URL for `seconds`, waits (≤ 10 s) for the answers,
 * and reports this process's CPU and, through `simCpuSeconds`, the servers'.
 */
export async function measureTransportFloor(
  urls: readonly [string, string],
  body: string,
  pairedQps: number,
  seconds: number,
  simCpuSeconds: () => number | null,
): Promise<FloorResult> {
  let reads = 0;
  let responses = 0;
  const arms = urls.map((url) =>
    bareArm(
      url,
      body,
      () => reads++,
      () => responses++,
    ),
  );
  const total = Math.round(pairedQps * seconds);
  const cpu0 = process.cpuUsage();
  const sim0 = simCpuSeconds();
  const t0 = performance.now();
  let sent = 0;
  await new Promise<void>((resolve) => {
    const tick = () => {
      const due = Math.min(total, Math.floor(((performance.now() - t0) / 1000) * pairedQps));
      for (; sent < due; sent++) for (const arm of arms) arm.send();
      if (sent >= total) resolve();
      else setTimeout(tick, 1);
    };
    tick();
  });
  const deadline = performance.now() + 10_000;
  while (responses < 2 * total && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
  const wallS = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const sim1 = simCpuSeconds();
  for (const arm of arms) arm.close();
  return {
    pairedQps,
    seconds: wallS,
    responses,
    expected: 2 * total,
    reads,
    clientCpuS: (cpu.user + cpu.system) / 1e6,
    simCpuS: sim0 === null || sim1 === null ? null : sim1 - sim0,
  };
}
