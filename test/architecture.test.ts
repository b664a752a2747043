// The layering of docs/ARCHITECTURE.md, checked on the source tree: no run-time import cycle, every
// import (static, dynamic, and worker entry files started with `new Worker(new URL(...))`) goes to an
// allowed folder, and the lint rule that enforces the table while editing rejects a wrong import.
import test from 'ava';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';
import { LAYERS } from '../layers.config.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const LAYERED = Object.keys(LAYERS);

function sourceFiles(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((entry) => {
    const path = posix.join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') ? [path] : [];
  });
}

/** The folder of LAYERS a file belongs to (the longest match: k6/script before k6). */
function layerOf(file: string): string | null {
  const matches = LAYERED.filter((layer) => file.startsWith(`${layer}/`));
  return matches.sort((a, b) => b.length - a.length)[0] ?? null;
}

/**
 * Relative modules a file loads at run time: `import ... from`, `export ... from`, `import('...')` and
 * worker entries `new URL('./x.ts', import.meta.url)`. `import type` / `export type` are erased by
 * TypeScript (verbatimModuleSyntax) and do not count.
 */
export function runtimeImports(file: string, text: string): string[] {
  const specs: string[] = [];
  const patterns = [
    /^\s*import\s+(?!type\s)(?:[^'"]*?\sfrom\s+)?['"](\.{1,2}\/[^'"]+)['"]/gm,
    /^\s*export\s+(?!type\s)[^'"]*?\sfrom\s+['"](\.{1,2}\/[^'"]+)['"]/gm,
    /\bimport\(\s*['"](\.{1,2}\/[^'"]+)['"]/g,
    /new URL\(\s*['"](\.{1,2}\/[^'"]+\.ts)['"],\s*import\.meta\.url\s*\)/g,
  ];
  for (const pattern of patterns) for (const match of text.matchAll(pattern)) specs.push(match[1] as string);
  return specs.map((spec) => posix.normalize(posix.join(posix.dirname(file), spec)));
}

const files = LAYERED.filter((layer) => !layer.includes('/')).flatMap((layer) => sourceFiles(layer));
const graph = new Map(files.map((file) => [file, runtimeImports(file, readFileSync(join(ROOT, file), 'utf8'))]));

/** Strongly connected components with more than one file (or a file importing itself): Tarjan's algorithm. */
function cycles(edges: Map<string, string[]>): string[][] {
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (node: string): void => {
    index.set(node, counter);
    low.set(node, counter++);
    stack.push(node);
    onStack.add(node);
    for (const next of edges.get(node) ?? []) {
      if (!edges.has(next)) continue;
      if (!index.has(next)) {
        visit(next);
        low.set(node, Math.min(low.get(node)!, low.get(next)!));
      } else if (onStack.has(next)) low.set(node, Math.min(low.get(node)!, index.get(next)!));
    }
    if (low.get(node) !== index.get(node)) return;
    const component: string[] = [];
    let member: string;
    do {
      member = stack.pop()!;
      onStack.delete(member);
      component.push(member);
    } while (member !== node);
    if (component.length > 1 || (edges.get(node) ?? []).includes(node)) found.push(component.sort());
  };
  for (const node of edges.keys()) if (!index.has(node)) visit(node);
  return found;
}

test('the cycle finder finds a cycle through three files and none in a chain', (t) => {
  const ring = new Map([
    ['a.ts', ['b.ts']],
    ['b.ts', ['c.ts']],
    ['c.ts', ['a.ts']],
    ['d.ts', ['a.ts']],
  ]);
  t.deepEqual(cycles(ring), [['a.ts', 'b.ts', 'c.ts']]);
  t.deepEqual(
    cycles(
      new Map([
        ['a.ts', ['b.ts']],
        ['b.ts', []],
      ]),
    ),
    [],
  );
});

test('runtimeImports skips type-only imports and sees dynamic imports and worker entries', (t) => {
  const text = [
    "import type { A } from './a.ts';",
    "import { b, type B } from '../x/b.ts';",
    "export type { C } from './c.ts';",
    "export { d } from './d.ts';",
    "const e = await import('./e.ts');",
    "new Worker(new URL('./f.ts', import.meta.url));",
  ].join('\n');
  t.deepEqual(runtimeImports('core/m.ts', text).sort(), ['core/d.ts', 'core/e.ts', 'core/f.ts', 'x/b.ts']);
});

test('no run-time import cycle in the source folders', (t) => {
  t.true(graph.size > 100, `read ${graph.size} files`);
  t.deepEqual(cycles(graph), []);
});

test('every run-time import goes to a folder the layer table allows', (t) => {
  const wrong: string[] = [];
  for (const [file, imports] of graph) {
    const from = layerOf(file)!;
    for (const target of imports) {
      const to = layerOf(target);
      if (to === null || to === from) continue;
      if (!LAYERS[from]!.includes(to)) wrong.push(`${file} -> ${target}`);
    }
  }
  t.deepEqual(wrong, []);
});

test('the lint rule rejects an import against the layer table and accepts an allowed one', async (t) => {
  const eslint = new ESLint({ cwd: ROOT });
  const [upward] = await eslint.lintText("import { run } from '../cli/analyze.ts';\nexport const x = run;\n", {
    filePath: join(ROOT, 'core/record.ts'),
  });
  t.deepEqual(
    upward!.messages.map((m) => m.ruleId),
    ['no-restricted-imports'],
  );
  t.regex(upward!.messages[0]!.message, /core\/ may import only its own files/);
  const [nodeInCore] = await eslint.lintText("import { readFileSync } from 'node:fs';\nexport const x = readFileSync;\n", {
    filePath: join(ROOT, 'core/record.ts'),
  });
  t.regex(nodeInCore!.messages[0]?.message ?? '', /no Node built-ins/);
  const [allowed] = await eslint.lintText("import { parseRecord } from '../core/record.ts';\nexport const x = parseRecord;\n", {
    filePath: join(ROOT, 'report/export.ts'),
  });
  t.deepEqual(allowed!.messages, []);
  const [sideways] = await eslint.lintText("import { startSim } from '../sim/server.ts';\nexport const x = startSim;\n", {
    filePath: join(ROOT, 'engine/client.ts'),
  });
  t.regex(sideways!.messages[0]?.message ?? '', /engine\/ may import only core, io/);
});

test('every top-level source folder is in the layer table', (t) => {
  const tops = readdirSync(ROOT, { withFileTypes: true })
    .filter(
      (e) => e.isDirectory() && !e.name.startsWith('.') && !['node_modules', 'results', 'dist', 'test', 'bench', 'docs'].includes(e.name),
    )
    .map((e) => e.name);
  t.deepEqual(
    tops.filter((top) => !(top in LAYERS)),
    [],
    `folders without a rule: add them to LAYERS in layers.config.ts`,
  );
});
