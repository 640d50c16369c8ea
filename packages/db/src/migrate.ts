import type { DataSource } from 'typeorm';

/**
 * Applies pending migrations, each in its own transaction, under a PostgreSQL advisory lock so
 * that any number of processes (API and worker replicas, a Kubernetes job) may call it at once.
 *
 * @returns the names of the migrations applied by this call
 */
export async function runMigrations(dataSource: DataSource): Promise<string[]> {
  const schema = (dataSource.options as { schema?: string }).schema ?? 'public';
  const lock = dataSource.createQueryRunner();
  await lock.connect();
  try {
    await lock.query('SELECT pg_advisory_lock(hashtext($1))', [`notofine-migrations:${schema}`]);
    await lock.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
    const applied = await dataSource.runMigrations({ transaction: 'each' });
    return applied.map((migration) => migration.name);
  } finally {
    await lock.query('SELECT pg_advisory_unlock(hashtext($1))', [`notofine-migrations:${schema}`]).catch(() => undefined);
    await lock.release();
  }
}
