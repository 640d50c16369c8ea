export { Metrics, type QueueCounts } from './metrics';
