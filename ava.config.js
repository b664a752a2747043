// Functional tests: run concurrently. Timing-sensitive tests live in test/timing/ and run afterwards,
// serially, in their own pass (ava.timing.config.js), so no other test competes for the 2 cores.
export default {
  files: ['test/**/*.test.ts', '!test/timing/**'],
  extensions: ['ts'],
  timeout: '120s',
  concurrency: 2,
};
