import 'reflect-metadata';
import { userInfo } from 'node:os';
import type { Config } from '@notofine/config';
import { DataSource } from 'typeorm';
import { ENTITIES } from './entities';
import { MIGRATIONS } from './migrations';
import { SnakeNamingStrategy } from './naming-strategy';

export interface DataSourceOptions {
  /** Shown in `pg_stat_activity`, e.g. `notofine-api`. */
  applicationName?: string;
  /** Overrides the configured pool size (a CLI needs few connections). */
  poolSize?: number;
}

/**
 * A TypeORM data source over the configured PostgreSQL database and schema; call `initialize()`
 * (or {@link connectDatabase}) before use. Never synchronizes: the schema comes from migrations.
 */
export function createDataSource(database: Config['database'], options: DataSourceOptions = {}): DataSource {
  return new DataSource({
    type: 'postgres',
    url: withDefaultUser(database.url),
    schema: database.schema,
    entities: ENTITIES,
    migrations: MIGRATIONS,
    migrationsTableName: 'migrations',
    namingStrategy: new SnakeNamingStrategy(),
    synchronize: false,
    migrationsRun: false,
    // Ids are bigint; they stay far below 2^53, so they are plain numbers in JavaScript.
    parseInt8: true,
    poolSize: options.poolSize ?? database.poolSize,
    applicationName: options.applicationName ?? 'notofine',
    connectTimeoutMS: 5000,
    installExtensions: false,
    extra: {
      // Raw SQL in repositories names tables without a schema.
      options: `-c search_path=${database.schema} -c timezone=UTC`,
    },
  });
}

/**
 * Like libpq, connects as the operating-system user when the URL names none (node-postgres would
 * otherwise read `$USER`, which is unset in many containers and CI runners).
 */
export function withDefaultUser(url: string): string {
  const parsed = new URL(url);
  if (parsed.username || process.env.PGUSER) return url;
  parsed.username = userInfo().username;
  return parsed.toString();
}
