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
    // Polled rather than waited for inside one statement: a session blocked in pg_advisory_lock
    // holds a snapshot, which CREATE INDEX CONCURRENTLY (run by the holder) would wait for for ever.
    for (;;) {
      const [{ locked }] = (await lock.query('SELECT pg_try_advisory_lock(hashtext($1)) AS locked', [`notofine-migrations:${schema}`])) as [{ locked: boolean }];
      if (locked) break;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    await lock.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
    const applied = await dataSource.runMigrations({ transaction: 'each' });
    return applied.map((migration) => migration.name);
  } finally {
    await lock.query('SELECT pg_advisory_unlock(hashtext($1))', [`notofine-migrations:${schema}`]).catch(() => undefined);
    await lock.release();
  }
}
