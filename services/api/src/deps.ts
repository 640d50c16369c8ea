import type { Config } from '@notofine/config';
import type { Logger } from '@notofine/logger';
import type { Metrics } from '@notofine/metrics';
import type { NotificationService } from '@notofine/notifications';
import type { DeliveryQueues } from '@notofine/queue';
import type { Redis } from 'ioredis';
import type { DataSource } from 'typeorm';

/** What the routes are built from; `start()` makes them, tests may make their own. */
export interface ApiDeps {
  readonly config: Config;
  readonly logger: Logger;
  readonly dataSource: DataSource;
  readonly notifications: NotificationService;
  /** The queue's connection, for readiness. */
  readonly redis: Redis;
  /** The rate limiter's connection: auto-pipelined, each request's count in the same write as the others'. */
  readonly limitsRedis: Redis;
  readonly queues: DeliveryQueues;
  readonly metrics: Metrics;
}
