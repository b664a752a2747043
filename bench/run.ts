// `npm run bench [-- name ...]`: runs the benchmarks and prints one table each.
// Benchmarks measure; they do not assert. Figures go in closing notes and the README.
export interface BenchTable {
  title: string;
  columns: string[];
  rows: Array<Array<string | number>>;
  notes?: string[];
}

export interface Benchmark {
  name: string;
  run(): Promise<BenchTable[]>;
}

// One line per benchmark module; each exports `benchmark: Benchmark`.
const BENCHMARKS: Array<() => Promise<{ benchmark: Benchmark }>> = [
  () => import('./workload-plan.ts'),
  () => import('./analysis.ts'),
  () => import('./sim.ts'),
  () => import('./scrape.ts'),
  () => import('./k6-convert.ts'),
  () => import('./k6.ts'),
  () => import('./engine.ts'),
  () => import('./proxy.ts'),
  () => import('./report.ts'),
];

export function formatTable(table: BenchTable): string {
  const cells = [table.columns, ...table.rows.map((r) => r.map((c) => (typeof c === 'number' ? formatNumber(c) : c)))];
  const widths = table.columns.map((_, i) => Math.max(...cells.map((r) => String(r[i] ?? '').length)));
  const line = (r: Array<string | number>) => '| ' + r.map((c, i) => String(c).padEnd(widths[i] ?? 0)).join(' | ') + ' |';
  const out = [`\n## ${table.title}\n`, line(table.columns), '|' + widths.map((w) => '-'.repeat(w + 2)).join('|') + '|'];
  for (const r of cells.slice(1)) out.push(line(r));
  for (const n of table.notes ?? []) out.push(`\n${n}`);
  return out.join('\n');
}

function formatNumber(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  if (Number.isInteger(n)) return n.toLocaleString('en-US');
  return Math.abs(n) >= 100 ? n.toFixed(0) : Math.abs(n) >= 1 ? n.toFixed(2) : n.toPrecision(3);
}

async function main(selected: string[]): Promise<void> {
  const modules = await Promise.all(BENCHMARKS.map((load) => load()));
  const chosen = modules.map((m) => m.benchmark).filter((b) => selected.length === 0 || selected.includes(b.name));
  if (chosen.length === 0) {
    process.stderr.write(`no benchmark named ${selected.join(', ')}; available: ${modules.map((m) => m.benchmark.name).join(', ')}\n`);
    process.exitCode = 2;
    return;
  }
  process.stdout.write(`# shadowbench benchmarks — node ${process.version}, ${(await import('node:os')).cpus().length} cores\n`);
  for (const b of chosen) {
    const started = performance.now();
    process.stderr.write(`running ${b.name}...\n`);
    for (const table of await b.run()) process.stdout.write(formatTable(table) + '\n');
    process.stderr.write(`${b.name} took ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
  }
}

if (import.meta.main) await main(process.argv.slice(2));
