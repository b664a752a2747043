// k6 console output → records.jsonl: how fast io/k6-records.ts converts (a distributed run's
// runner logs can hold millions of record lines), with one instance and with four merged.
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { emptyRecord, serializeRecord } from '../core/record.ts';
import { convertK6Console } from '../k6/collect.ts';
import { META_KEY } from '../k6/script/summary.ts';
import type { BenchTable, Benchmark } from './run.ts';

/** A streamed record like the k6 script prints: 64 content chunks, ~250 chars of output. */
function consoleFile(file: string, instance: string, indices: number[], origin: number): void {
  const lines: string[] = [
    JSON.stringify({
      [META_KEY]: { v: 1, run_id: 'bench', instance, mode: 'sse', origin_unix_ms: origin, clock: 'Date.now', resolution_ns: 1e6 },
    }),
  ];
  for (const index of indices) {
    for (const arm of ['baseline', 'candidate']) {
      const r = emptyRecord({
        run_id: 'bench',
        arm,
        index,
        item_id: `item-${index % 300}`,
        warmup: false,
        source: 'k6',
        instance,
        streaming: true,
        scheduled_ns: index * 1e7,
      });
      r.sent_ns = r.scheduled_ns + 1e6;
      r.headers_ns = r.sent_ns + 5e6;
      r.first_chunk_ns = r.headers_ns;
      r.content_ns = Array.from({ length: 64 }, (_, k) => r.headers_ns! + 2e7 + k * 1.5e7);
      r.first_content_ns = r.content_ns[0]!;
      r.end_ns = r.content_ns[63]! + 1e6;
      r.outcome = { kind: 'ok' };
      r.http_status = 200;
      r.usage = { prompt_tokens: 812, completion_tokens: 64, cached_prompt_tokens: null };
      r.finish_reason = 'length';
      r.output_text = 'The policy allows remote work up to three days a week, subject to manager approval. '.repeat(3);
      lines.push(serializeRecord(r));
      if (index % 50 === 0) lines.push('running (00m12.0s), 0040/0300 VUs, 1200 complete and 0 interrupted iterations');
    }
  }
  writeFileSync(file, lines.join('\n') + '\n');
}

export const benchmark: Benchmark = {
  name: 'k6-convert',
  async run(): Promise<BenchTable[]> {
    const dir = mkdtempSync(join(tmpdir(), 'sb-bench-k6-'));
    const rows: Array<Array<string | number>> = [];
    try {
      for (const [label, instances, pairs] of [
        ['1 instance', 1, 50_000],
        ['4 instances (merged, re-based)', 4, 50_000],
      ] as const) {
        const files: string[] = [];
        for (let j = 0; j < instances; j++) {
          const file = join(dir, `${instances}-${j}.log`);
          consoleFile(
            file,
            instances === 1 ? '' : `${j}/${instances}:${j + 1}/${instances}`,
            Array.from({ length: pairs }, (_, i) => i).filter((i) => i % instances === j),
            1_700_000_000_000 + j * 7,
          );
          files.push(file);
        }
        const bytes = files.reduce((s, f) => s + statSync(f).size, 0);
        const started = performance.now();
        const result = await convertK6Console(files, join(dir, `${instances}.jsonl`));
        const s = (performance.now() - started) / 1000;
        rows.push([
          label,
          result.records,
          (bytes / 2 ** 20).toFixed(0),
          s.toFixed(2),
          Math.round(result.records / s),
          (bytes / 2 ** 20 / s).toFixed(0),
        ]);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    return [
      {
        title: 'k6 console output → records.jsonl (validated, de-duplicated, origins aligned)',
        columns: ['input', 'records', 'MiB', 's', 'records/s', 'MiB/s'],
        rows,
        notes: [
          'Records of 64 content chunks and ~250 chars of text, as the k6 script prints them; progress lines mixed in are counted and skipped.',
        ],
      },
    ];
  },
};
