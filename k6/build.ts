// `npm run build`: bundles the k6 entry scripts (k6/script/*.ts that k6 runs) with esbuild into
// dist/k6/*.js — ES modules with `k6`, `k6/*` and `https://` imports left for k6 to resolve,
// everything from core/ inlined, no Node built-ins (the bundle fails if anything reaches for one).
import { build, type Plugin } from 'esbuild';
import { statSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatHelp, parseOptions, str, UsageError } from '../core/options.ts';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** k6 entry points, relative to the repository root. */
export const K6_ENTRIES = ['k6/script/shadow.ts'];
export const K6_OUT_DIR = join(ROOT, 'dist', 'k6');

/** Leaves k6's modules (and remote jslib imports) to k6; stops the build on any Node built-in. */
export function k6ExternalsPlugin(options: { alias?: Record<string, string> } = {}): Plugin {
  return {
    name: 'k6-externals',
    setup(b) {
      b.onResolve({ filter: /^k6(\/.*)?$/ }, (args) => {
        const target = options.alias?.[args.path];
        if (options.alias && target === undefined)
          return { errors: [{ text: `no test double for ${args.path} (add one to test/doubles/k6/)` }] };
        return target === undefined ? { path: args.path, external: true } : { path: target, external: true };
      });
      b.onResolve({ filter: /^https:\/\// }, (args) => ({ path: args.path, external: true }));
      b.onResolve(
        { filter: /^node:|^(fs|path|os|crypto|http|https|net|url|util|events|stream|buffer|child_process|worker_threads)$/ },
        (args) => ({
          errors: [{ text: `${args.path} is a Node built-in; k6 scripts may import only k6/* and core/ (imported from ${args.importer})` }],
        }),
      );
    },
  };
}

export interface BuildOptions {
  outdir?: string;
  /** Map of k6 module → import specifier used instead (tests point k6 modules at Node doubles). */
  alias?: Record<string, string>;
  entries?: string[];
}

/** Bundles the entries; returns the output files. */
export async function buildK6(options: BuildOptions = {}): Promise<string[]> {
  const outdir = options.outdir ?? K6_OUT_DIR;
  const entries = (options.entries ?? K6_ENTRIES).map((e) => resolve(ROOT, e));
  const result = await build({
    entryPoints: entries,
    outdir,
    bundle: true,
    format: 'esm',
    platform: 'neutral',
    // es2022: Sobek (k6 1.3.0, checked with the real binary) runs class #private fields natively.
    // Lowered to es2020 they become WeakMap look-ups through Function.prototype.call on every access:
    // ~24 µs of ~141 µs per SSE event in a k6 profile (issue 16). Older k6 releases are not checked.
    target: 'es2022',
    outExtension: { '.js': '.js' },
    sourcemap: false,
    minify: false,
    legalComments: 'none',
    logLevel: 'silent',
    plugins: [k6ExternalsPlugin(options.alias ? { alias: options.alias } : {})],
    metafile: true,
  });
  return Object.keys(result.metafile.outputs).map((f) => resolve(f));
}

/** Newest modification time under the folders the bundle is built from. */
function newestSource(): number {
  let newest = 0;
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.ts')) newest = Math.max(newest, statSync(path).mtimeMs);
    }
  };
  walk(join(ROOT, 'k6'));
  walk(join(ROOT, 'core'));
  return newest;
}

/** The bundle path for an entry, and whether it is older than any source it is built from. */
export function bundleStatus(entry = 'shadow'): { file: string; stale: boolean } {
  const file = join(K6_OUT_DIR, `${entry}.js`);
  let built = 0;
  try {
    built = statSync(file).mtimeMs;
  } catch {
    return { file, stale: true };
  }
  return { file, stale: built < newestSource() };
}

/** Builds when the bundle is missing or stale; returns the bundle path. */
export async function ensureK6Bundle(entry = 'shadow'): Promise<string> {
  const status = bundleStatus(entry);
  if (status.stale) await buildK6();
  return status.file;
}

export const BUILD_OPTIONS = {
  outdir: str({ meta: 'DIR', help: `folder of the bundles [default ${K6_OUT_DIR}]` }),
};

/** `npm run build -- [options]`: answers --help, refuses unknown flags and arguments (exit 2, one line). */
export async function runBuild(argv: string[]): Promise<number> {
  if (argv.includes('--help')) {
    process.stdout.write(
      formatHelp(
        'npm run build -- [options]',
        `Bundles the k6 scripts (${K6_ENTRIES.join(', ')}) with esbuild into ES modules k6 runs (k6/README.md); load --engine k6 and k6:manifest build them when stale.`,
        BUILD_OPTIONS,
      ),
    );
    return 0;
  }
  const { values, positionals } = parseOptions(BUILD_OPTIONS, argv);
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"; build takes only options (see --help)`);
  const outputs = await buildK6(values.outdir !== undefined ? { outdir: values.outdir } : {});
  for (const file of outputs) process.stdout.write(`built ${file}\n`);
  return 0;
}

if (import.meta.main) {
  runBuild(process.argv.slice(2)).then(
    (code) => (process.exitCode = code),
    (error: unknown) => {
      process.stderr.write(
        `shadowbench: ${error instanceof UsageError ? error.message : error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
      );
      process.exitCode = 2;
    },
  );
}
