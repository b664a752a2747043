// The timing pass of `npm test`: tests that measure rates and timestamps, one file at a time.
export default {
  files: ['test/timing/**/*.test.ts'],
  extensions: ['ts'],
  timeout: '180s',
  concurrency: 1,
  serial: true,
};
