// `npm run check:timing` (not part of `npm test`): tests that measure real rates and timestamps on this
// machine, one file at a time, judged against its own wake-up floor measured in the same run.
export default {
  files: ['test/timing/**/*.test.ts'],
  extensions: ['ts'],
  timeout: '180s',
  concurrency: 1,
  serial: true,
};
