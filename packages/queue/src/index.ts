export * from './names';
export { createRedis, connectRedis, closeRedis, describeRedisError } from './redis';
export type { RedisRole } from './redis';
export { DeliveryQueues, FINISHED_JOB_RETENTION } from './delivery-queues';
export type { Delivery, DeliveryPolicy } from './delivery-queues';
