import type { DeliveryQueues } from '@notofine/queue';
import { createTestEnvironment, type TestEnvironment } from '@test/test-environment';
import type { Redis } from 'ioredis';
import { connectNotificationService, type NotificationService } from '../src';

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
  const connected = await connectNotificationService(testEnv.config, { name: 'notofine-tests', redisRole: 'producer', logger: testEnv.logger });
  return {
    env: testEnv,
    queues: connected.queues,
    redis: connected.redis,
    service: connected.service,
    async stop() {
      await connected.close();
      await testEnv.cleanup();
    },
  };
}
