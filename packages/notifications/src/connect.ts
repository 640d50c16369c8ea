import type { Config } from '@notofine/config';
import { CHANNELS, assertSchemaUpToDate, connectDatabase } from '@notofine/db';
import type { Logger } from '@notofine/logger';
import { DeliveryQueues, closeRedis, connectRedis, createRedis, logQueueErrors, watchRedisConnection, type RedisRole } from '@notofine/queue';
import type { Redis } from 'ioredis';
import type { DataSource } from 'typeorm';
import { NotificationService, type NotificationServiceDeps } from './notification-service';

/** A {@link NotificationService} with the connections it runs on. */
export interface ConnectedNotificationService {
  readonly service: NotificationService;
  readonly dataSource: DataSource;
  /** The Redis connection of the queues (BullMQ workers may share it). */
  readonly redis: Redis;
  readonly queues: DeliveryQueues;
  /** Closes the queues and both connections. */
  close(): Promise<void>;
}

/**
 * Connects to PostgreSQL (refusing a schema that is not migrated) and Redis, and builds the
 * NotificationService over them: what the API, the worker and the CLI all start from.
 *
 * @param options.name - the process, shown in `pg_stat_activity` and `CLIENT LIST`
 * @param options.redisRole - `producer` fails fast when Redis is gone (HTTP requests); `worker` waits
 * @throws `StartupError` naming the server that cannot be reached, and how to start it
 */
export async function connectNotificationService(
  config: Config,
  options: { name: string; redisRole: RedisRole; logger: Logger; poolSize?: number; onCommitted?: NotificationServiceDeps['onCommitted'] },
): Promise<ConnectedNotificationService> {
  const { name, redisRole, logger } = options;
  const dataSource = await connectDatabase(config.database, { applicationName: name, ...(options.poolSize && { poolSize: options.poolSize }) });
  const redis = createRedis(config.redis.url, redisRole, name);
  try {
    await assertSchemaUpToDate(dataSource);
    await connectRedis(redis, config.redis.url);
  } catch (error) {
    redis.disconnect();
    await dataSource.destroy();
    throw error;
  }
  watchRedisConnection(redis, { connection: 'queues', logger, stillDownEveryMs: config.redis.downLogIntervalMs });

  const queues = new DeliveryQueues(redis, config.redis.queuePrefix);
  for (const channel of CHANNELS) logQueueErrors(queues.queue(channel), logger, { queue: channel });
  const service = new NotificationService({
    dataSource,
    queues,
    logger,
    reminderBatchSize: config.reminders.batchSize,
    smsDailyCap: config.security.smsDailyCap,
    digestWindowMs: config.digestWindowMs,
    ...(options.onCommitted && { onCommitted: options.onCommitted }),
  });
  return {
    service,
    dataSource,
    redis,
    queues,
    async close() {
      await queues.close();
      await closeRedis(redis);
      await dataSource.destroy();
    },
  };
}
