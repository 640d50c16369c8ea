import { createDatabaseIfMissing } from '@notofine/db';
import { connectRedis, createRedis } from '@notofine/queue';
import { TEST_DATABASE_URL, TEST_REDIS_URL } from './test-environment';

/** Fails the run at once, with what to do, when PostgreSQL or Redis is not there. */
export default async function globalSetup(): Promise<void> {
  await createDatabaseIfMissing(TEST_DATABASE_URL);
  const redis = createRedis(TEST_REDIS_URL, 'producer', 'notofine-tests');
  await connectRedis(redis, TEST_REDIS_URL);
  await redis.quit();
}
