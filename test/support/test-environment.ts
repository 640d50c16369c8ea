import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, type Config } from '@notofine/config';
import { createDataSource, runMigrations } from '@notofine/db';
import { createLogger, type Logger } from '@notofine/logger';
import { createRedis } from '@notofine/queue';
import type { DataSource } from 'typeorm';

export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL ?? 'postgres://127.0.0.1:5432/notofine_test';
export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
/** The bootstrap key every test API starts with. */
export const TEST_API_KEY = 'nfk_test_0123456789abcdefghijklmnop';
/** Signs the test API's user tokens. */
export const TEST_USER_TOKEN_SECRET = 'test-user-token-secret-0123456789abcdef';

/** One test file's own slice of the real PostgreSQL and Redis. */
export interface TestEnvironment {
  /** Schema name and BullMQ prefix. */
  readonly id: string;
  readonly config: Config;
  readonly outboxDir: string;
  readonly logger: Logger;
  /** A connection to the file's schema, for arranging rows and checking them. */
  readonly db: DataSource;
  /** Drops the schema, deletes the file's Redis keys and outbox. */
  cleanup(): Promise<void>;
}

/**
 * Creates a schema with every migration applied, a BullMQ prefix and an outbox directory of its
 * own, and the configuration that points at them. `env` overrides variables.
 */
export async function createTestEnvironment(env: Record<string, string> = {}): Promise<TestEnvironment> {
  const id = `test_${process.pid}_${randomBytes(4).toString('hex')}`;
  const outboxDir = await mkdtemp(join(tmpdir(), 'notofine-outbox-'));
  const config = loadConfig({
    NODE_ENV: 'test',
    DATABASE_URL: TEST_DATABASE_URL,
    DATABASE_SCHEMA: id,
    DATABASE_POOL_SIZE: '5',
    REDIS_URL: TEST_REDIS_URL,
    QUEUE_PREFIX: id,
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'error',
    LOG_FORMAT: 'pretty',
    DELIVERY_BACKOFF_MS: '20',
    OUTBOX_DIR: outboxDir,
    BOOTSTRAP_API_KEY: TEST_API_KEY,
    SHUTDOWN_TIMEOUT_MS: '5000',
    HEALTH_PORT: '0',
    USER_TOKEN_SECRET: TEST_USER_TOKEN_SECRET,
    // Tests deliver at whatever hour they run; those about quiet hours give users their own.
    DEFAULT_QUIET_HOURS: 'off',
    ...env,
  });
  const logger = createLogger({ service: 'test', level: config.log.level, format: 'pretty' });
  const db = createDataSource(config.database, { poolSize: 3, applicationName: 'notofine-tests' });
  await db.initialize();
  await runMigrations(db);

  return {
    id,
    config,
    outboxDir,
    logger,
    db,
    async cleanup() {
      await db.query(`DROP SCHEMA "${id}" CASCADE`);
      await db.destroy();
      await deleteRedisKeys(`${id}:*`);
      await rm(outboxDir, { recursive: true, force: true });
    },
  };
}

async function deleteRedisKeys(pattern: string): Promise<void> {
  const redis = createRedis(TEST_REDIS_URL, 'worker', 'notofine-tests-cleanup');
  await redis.connect();
  try {
    for await (const keys of redis.scanStream({ match: pattern, count: 1000 })) {
      if ((keys as string[]).length > 0) await redis.unlink(...(keys as string[]));
    }
  } finally {
    await redis.quit();
  }
}
