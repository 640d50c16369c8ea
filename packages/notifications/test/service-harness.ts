import { DeliveryQueues, connectRedis, createRedis } from '@notofine/queue';
import { createTestEnvironment, type TestEnvironment } from '@test/test-environment';
import type { Redis } from 'ioredis';
import { NotificationService } from '../src';

export interface ServiceHarness {
  readonly env: TestEnvironment;
  readonly queues: DeliveryQueues;
  readonly redis: Redis;
  readonly service: NotificationService;
  stop(): Promise<void>;
}

/** A NotificationService on the test file's own schema and queue prefix, with no worker consuming. */
export async function startService(env: Record<string, string> = {}): Promise<ServiceHarness> {
  const testEnv = await createTestEnvironment(env);
  const { config } = testEnv;
  const redis = createRedis(config.redis.url, 'producer', 'notofine-tests');
  await connectRedis(redis, config.redis.url);
  const queues = new DeliveryQueues(redis, config.redis.queuePrefix, config.delivery);
  const service = new NotificationService({ dataSource: testEnv.db, queues, logger: testEnv.logger, reminderBatchSize: config.reminders.batchSize });
  return {
    env: testEnv,
    queues,
    redis,
    service,
    async stop() {
      await queues.close();
      await redis.quit();
      await testEnv.cleanup();
    },
  };
}
