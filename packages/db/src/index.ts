import 'reflect-metadata';

export * from './entities';
export { createDataSource, withDefaultUser } from './data-source';
export type { DataSourceOptions } from './data-source';
export { connectDatabase, assertSchemaUpToDate, createDatabaseIfMissing, describeDatabaseError, isDatabaseUnavailable } from './connect';
export { runMigrations } from './migrate';
export { MIGRATIONS } from './migrations';
export { SnakeNamingStrategy } from './naming-strategy';
export * from './repositories';
export { PushTokenCipher, pushTokenHash, pushTokenPreview, type SealedPushToken } from './push-tokens';
export { MicroBatcher, type MicroBatcherOptions } from './micro-batcher';
