/**
 * The fault-injection suite (`npm run test:faults`): the built API and worker run as child
 * processes against a PostgreSQL and a Redis of the suite's own, which it kills, stops, flushes.
 *
 * @type {import('jest').Config}
 */
// eslint-disable-next-line @typescript-eslint/no-require-imports -- a CommonJS config extends the other
const base = require('./jest.config.js');

module.exports = {
  ...base,
  testMatch: ['<rootDir>/test/faults/**/*.fault.ts'],
  globalSetup: undefined,
  maxWorkers: 1,
  testTimeout: 240_000,
  // A scenario that fails half-way may leave a child's socket open: end the run all the same.
  forceExit: true,
};
