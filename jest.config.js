/**
 * Every test file runs against the real PostgreSQL and Redis, in its own schema and BullMQ prefix
 * (see test/support/test-environment.ts). Sources are compiled on the fly, without type checking:
 * `npm test` type-checks the whole tree first.
 *
 * @type {import('jest').Config}
 */
module.exports = {
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.json' }] },
  moduleNameMapper: {
    '^@notofine/(config|logger|errors|lifecycle|metrics|db|queue|providers|notifications)$': '<rootDir>/packages/$1/src',
    '^@test/(.*)$': '<rootDir>/test/support/$1',
  },
  testMatch: ['<rootDir>/packages/*/test/**/*.test.ts', '<rootDir>/services/*/test/**/*.test.ts', '<rootDir>/test/**/*.test.ts'],
  globalSetup: '<rootDir>/test/support/global-setup.ts',
  maxWorkers: 2,
  testTimeout: 30_000,
};
