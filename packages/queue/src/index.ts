export * from './names';
export { createRedis, connectRedis, closeRedis, describeRedisError, isRedisConnectionError, logQueueErrors, watchRedisConnection } from './redis';
export type { ConnectionLogger, RedisRole } from './redis';
export { DELIVERY_BACKOFF, DeliveryQueues, FINISHED_JOB_RETENTION, MAX_DELIVERY_ATTEMPTS, deliveryBackoff } from './delivery-queues';
export type { Delivery, DeliveryPolicy } from './delivery-queues';
