/**
 * Every test file runs against the real PostgreSQL and Redis, in its own schema and BullMQ prefix
 * (see test/support/test-environment.ts). Sources are compiled on the fly, without type checking:
 * `npm test` type-checks the whole tree first.
 *
 * @type {import('jest').Config}
 */
module.exports = {
  testEnvironment: 'node',
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.json' }],
    // uuid 14 (required by Vonage's SDK) and jose 6 (the API's user tokens, firebase-admin's
    // jwks-rsa) are ES modules only. Node >= 20.19 requires them natively; Jest's module loader
    // does so only on Node >= 24.9 started with --experimental-vm-modules, which `npm test` does not
    // use (on Node 20 it could not): compile them to CommonJS for the tests.
    '/node_modules/(uuid|jose)/.+\\.js$': ['ts-jest', { tsconfig: { allowJs: true, module: 'commonjs', isolatedModules: true } }],
  },
  transformIgnorePatterns: ['/node_modules/(?!(uuid|jose)/)'],
  moduleNameMapper: {
    '^@notofine/(config|logger|errors|lifecycle|metrics|db|queue|providers|notifications)$': '<rootDir>/packages/$1/src',
    '^@test/(.*)$': '<rootDir>/test/support/$1',
  },
  testMatch: ['<rootDir>/packages/*/test/**/*.test.ts', '<rootDir>/services/*/test/**/*.test.ts', '<rootDir>/test/**/*.test.ts'],
  globalSetup: '<rootDir>/test/support/global-setup.ts',
  maxWorkers: 2,
  testTimeout: 30_000,
};
