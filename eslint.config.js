// Lint: type-aware checks of promises and assertions, and the layering of docs/ARCHITECTURE.md,
// enforced here rather than in prose. LAYERS below is the allowed-imports table: a folder may
// import only the folders it lists (and itself); anything else is an error naming the rule.
import tseslint from 'typescript-eslint';
import { LAYERS } from './layers.config.ts';

const TOP = [
  'core',
  'io',
  'analysis',
  'report',
  'pipeline',
  'engine',
  'sim',
  'proxy',
  'migrate',
  'k6',
  'workloads',
  'cli',
  'test',
  'bench',
];

/** An import that climbs out of the folder (`../`, `../../`) and names a top-level folder it may not use. */
function layerRule(folder) {
  const allowed = new Set([folder, ...LAYERS[folder]]);
  const forbidden = TOP.filter((top) => !allowed.has(top) && !(folder === 'k6/script' && top === 'k6'));
  const patterns = [];
  if (forbidden.length > 0) {
    patterns.push({
      regex: `^(\\.\\./)+(${forbidden.join('|')})/`,
      message: `${folder}/ may import only ${[...LAYERS[folder]].join(', ') || 'its own files'} (docs/ARCHITECTURE.md, layers.config.ts)`,
    });
  }
  if (folder === 'k6/script') {
    // The k6 runtime: its own folder and the allowed layers, never the Node-side k6 launcher above it.
    patterns.push({
      regex: '^\\.\\./(build|collect|run|manifest)\\.ts$',
      message: 'k6/script/ runs inside k6: it may not import the Node-side k6 modules',
    });
  }
  if (folder === 'core' || folder === 'k6/script') {
    // core/ runs under Node and inside k6 (bundled): no Node built-ins, no Node-only packages.
    patterns.push({ regex: '^node:', message: `${folder}/ runs under k6 too: no Node built-ins` });
    patterns.push({
      regex: '^(undici|csv-stringify|parse-prometheus-text-format|uplot)',
      message: `${folder}/ runs under k6 too: no Node-only packages`,
    });
  }
  return { 'no-restricted-imports': ['error', { patterns }] };
}

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', 'results/**', 'test/output/**', '**/*.js', '**/*.py'] },
  {
    files: ['**/*.ts'],
    extends: [tseslint.configs.base],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/no-unnecessary-type-assertion': 'error',
      '@typescript-eslint/await-thenable': 'error',
      'no-cond-assign': 'error',
      'no-debugger': 'error',
      'no-dupe-keys': 'error',
      'no-unreachable': 'error',
      eqeqeq: ['error', 'smart'],
      'max-lines-per-function': ['warn', { max: 80, skipBlankLines: true, skipComments: true }],
      complexity: ['warn', 20],
    },
  },
  ...Object.keys(LAYERS).map((folder) => ({
    files: [`${folder}/**/*.ts`],
    ...(folder === 'k6' ? { ignores: ['k6/script/**'] } : {}),
    rules: layerRule(folder),
  })),
  {
    // Tests and benchmarks exercise every layer; their long table-driven functions are fine.
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: { 'max-lines-per-function': 'off', complexity: 'off' },
  },
);
