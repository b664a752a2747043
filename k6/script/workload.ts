// The workload as it travels to k6: the items exactly as the Node side resolved them (format
// detection, sampling, synthesis and model filling done once by core/workload/*), one OpenAI wrapper
// line per item: {"id", "timestamp_ms"?, "method": "POST", "url": "/v1/chat/completions", "body"}.
// The file is a valid openai workload (workloads/FORMATS.md), so a user can replay it with any engine.
//
// Both directions live here: `resolvedWorkloadLine` (Node side: cli/load-k6.ts, k6:manifest) and
// `readResolvedWorkload` (k6 side). The k6 script does not import the workload parsers: every k6 VU
// evaluates the whole bundle at start-up, and the parsers (with their tables, e.g. the trace word
// list) were about half of the ~5.5 ms of CPU each VU cost beyond a bare xk6-sse script (issue 16).
// Pure: no k6 or Node imports.
import { API_PATH, type Api } from '../../core/openai.ts';
import type { WorkloadItem } from '../../core/workload/common.ts';

/** One resolved item as a JSONL line (with its '\n'). */
export function resolvedWorkloadLine(item: WorkloadItem): string {
  return (
    JSON.stringify({
      id: item.id,
      ...(item.timestamp_ms !== null && { timestamp_ms: item.timestamp_ms }),
      method: 'POST',
      url: API_PATH[item.api],
      body: item.body,
    }) + '\n'
  );
}

const API_OF_PATH: Record<string, Api> = Object.fromEntries(Object.entries(API_PATH).map(([api, path]) => [path, api as Api]));

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The items of a resolved workload file, in file order. Lines were written by resolvedWorkloadLine,
 * so only their shape is checked: anything else is named by file:line (a file that is not the one
 * `load --engine k6` or `k6:manifest` wrote).
 */
export function readResolvedWorkload(text: string, file: string): WorkloadItem[] {
  const items: WorkloadItem[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.trim() === '') continue;
    const where = `${file}:${i + 1}`;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (error) {
      throw new Error(`${where}: not JSON (${(error as Error).message})`);
    }
    const api = isObject(value) && typeof value.url === 'string' ? API_OF_PATH[value.url] : undefined;
    const timestamp = isObject(value) ? value.timestamp_ms : undefined;
    if (
      !isObject(value) ||
      typeof value.id !== 'string' ||
      api === undefined ||
      !isObject(value.body) ||
      (timestamp !== undefined && (typeof timestamp !== 'number' || !Number.isFinite(timestamp)))
    )
      throw new Error(
        `${where}: expected a resolved workload line {"id", "timestamp_ms"?, "method", "url": ${Object.values(API_PATH).join(' or ')}, "body"}, as \`load --engine k6\` and \`k6:manifest\` write it`,
      );
    items.push({ id: value.id, api, body: value.body, timestamp_ms: timestamp ?? null });
  }
  if (items.length === 0) throw new Error(`${file}: the workload has no items`);
  return items;
}
