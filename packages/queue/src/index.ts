export * from './names';
export { createRedis, connectRedis, closeRedis, describeRedisError, isRedisConnectionError, logQueueErrors, watchRedisConnection } from './redis';
export type { ConnectionLogger, RedisRole } from './redis';
export { DeliveryQueues, FINISHED_JOB_RETENTION } from './delivery-queues';
export type { Delivery, DeliveryPolicy } from './delivery-queues';
