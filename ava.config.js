// `npm test`'s functional tests: run concurrently, no wall-clock bounds (timing behaviour is asserted on
// a virtual clock). Real-hardware accuracy lives in test/timing/: `npm run check:timing` (ava.timing.config.js).
export default {
  files: ['test/**/*.test.ts', '!test/timing/**'],
  extensions: ['ts'],
  timeout: '120s',
  concurrency: 2,
};
