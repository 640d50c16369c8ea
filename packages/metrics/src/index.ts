export { Metrics, type QueueCounts, type RedisStatus } from './metrics';
