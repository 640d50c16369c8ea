import { createRedis } from '@notofine/queue';
import { TEST_REDIS_URL, type TestEnvironment } from './test-environment';

/** Columns that change by themselves (a key's last use is recorded once a minute), left out of snapshots. */
const VOLATILE_COLUMNS = ['last_used_at'];

/**
 * Every row of every table of the test's schema, as JSON text by table, so that a test can assert
 * that a request wrote nothing anywhere, or search everything stored for a value.
 */
export async function databaseRows(env: TestEnvironment): Promise<Record<string, string[]>> {
  const tables: Array<{ tablename: string }> = await env.db.query(`SELECT tablename FROM pg_tables WHERE schemaname = $1 ORDER BY tablename`, [env.id]);
  const rows: Record<string, string[]> = {};
  for (const { tablename } of tables) {
    const found: Array<{ row: string }> = await env.db.query(
      `SELECT (to_jsonb(t) - $1::text[])::text AS row FROM "${env.id}"."${tablename}" t ORDER BY 1`,
      [VOLATILE_COLUMNS],
    );
    rows[tablename] = found.map(({ row }) => row);
  }
  return rows;
}

/** {@link databaseRows} as one text, to search for a value. */
export async function databaseText(env: TestEnvironment): Promise<string> {
  return Object.entries(await databaseRows(env))
    .flatMap(([table, rows]) => rows.map((row) => `${table}: ${row}`))
    .join('\n');
}

/**
 * Every key under the test's prefix in Redis with its whole value, whatever its type: job hashes
 * (data, return value, failure reason, stack trace), job logs, the waiting, delayed, completed and
 * failed sets, event streams, rate-limit counters.
 */
export async function redisEntries(env: TestEnvironment, match = `${env.id}:*`): Promise<Record<string, unknown>> {
  const redis = createRedis(TEST_REDIS_URL, 'worker', 'notofine-tests-scan');
  await redis.connect();
  try {
    const entries: Record<string, unknown> = {};
    for await (const keys of redis.scanStream({ match, count: 1000 })) {
      for (const key of keys as string[]) {
        const type = await redis.type(key);
        entries[key] =
          type === 'string' ? await redis.get(key)
          : type === 'hash' ? await redis.hgetall(key)
          : type === 'list' ? await redis.lrange(key, 0, -1)
          : type === 'set' ? await redis.smembers(key)
          : type === 'zset' ? await redis.zrange(key, 0, -1, 'WITHSCORES')
          : type === 'stream' ? await redis.xrange(key, '-', '+')
          : `<${type}>`;
      }
    }
    return entries;
  } finally {
    await redis.quit();
  }
}

/** {@link redisEntries} as one text, to search for a value. */
export async function redisText(env: TestEnvironment): Promise<string> {
  return Object.entries(await redisEntries(env))
    .map(([key, value]) => `${key} ${JSON.stringify(value)}`)
    .join('\n');
}
