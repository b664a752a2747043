// The allowed-imports table of docs/ARCHITECTURE.md: a folder may import only the folders it lists
// (and itself). eslint.config.js turns it into no-restricted-imports rules; test/architecture.test.ts
// checks the whole tree against it (dynamic imports and worker entries included) and for cycles.
/** folder → folders it may import. Mirrored in docs/ARCHITECTURE.md ("Layout and import rules"). */
export const LAYERS: Record<string, readonly string[]> = {
  core: [],
  io: ['core'],
  analysis: ['core'],
  report: ['core', 'analysis'],
  pipeline: ['core', 'io', 'analysis', 'report'],
  engine: ['core', 'io'],
  sim: ['core', 'analysis'],
  proxy: ['core', 'io', 'analysis', 'report', 'pipeline'],
  migrate: ['core', 'io', 'analysis', 'report', 'pipeline'],
  'k6/script': ['core', 'analysis'],
  k6: ['core', 'io', 'analysis', 'report', 'pipeline', 'k6/script'],
  workloads: ['core'],
  cli: ['core', 'io', 'analysis', 'report', 'pipeline', 'engine', 'sim', 'proxy', 'migrate', 'k6', 'k6/script', 'workloads'],
};
