import { randomBytes } from 'node:crypto';
import { loadConfig } from '@notofine/config';
import { TEST_DATABASE_URL } from '@test/test-environment';
import type { DataSource } from 'typeorm';
import { MIGRATIONS, createDataSource, runMigrations } from '../src';

/** Data sources on fresh schemas of their own, dropped after each test. */
const opened: Array<{ dataSource: DataSource; schema: string }> = [];
function freshDataSource(schema = `migrations_${randomBytes(4).toString('hex')}`): DataSource {
  const config = loadConfig({ DATABASE_URL: TEST_DATABASE_URL, DATABASE_SCHEMA: schema });
  const dataSource = createDataSource(config.database, { poolSize: 4 });
  opened.push({ dataSource, schema });
  return dataSource;
}

afterEach(async () => {
  for (const { dataSource, schema } of opened.splice(0)) {
    if (!dataSource.isInitialized) continue;
    await dataSource.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await dataSource.destroy();
  }
});

describe('migrations', () => {
  it('build exactly the schema the entities describe (a migration was not forgotten)', async () => {
    const dataSource = freshDataSource();
    await dataSource.initialize();

    expect(await runMigrations(dataSource)).toEqual(MIGRATIONS.map((migration) => migration.name));
    const pending = await dataSource.driver.createSchemaBuilder().log();

    expect(pending.upQueries.map((query) => query.query)).toEqual([]);
  });

  it('create the indexes of the hot paths', async () => {
    const dataSource = freshDataSource();
    await dataSource.initialize();
    await runMigrations(dataSource);

    const indexes: Array<{ indexdef: string }> = await dataSource.query(`SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema()`);
    const definitions = indexes.map((index) => index.indexdef);

    expect(definitions).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/"IDX_notifications_user_created" ON .*notifications USING btree \(user_id, created_at, id\)/),
        expect.stringMatching(/"IDX_notifications_status_created" ON .*notifications USING btree \(status, created_at\)/),
        expect.stringMatching(/"IDX_reminders_due" ON .*reminders USING btree \(next_run_at\) WHERE active/),
        expect.stringMatching(/UNIQUE INDEX "UQ_reminder_channels_reminder_channel" ON .*reminder_channels USING btree \(reminder_id, channel\)/),
      ]),
    );
  });

  it('can be reverted to an empty schema', async () => {
    const dataSource = freshDataSource();
    await dataSource.initialize();
    await runMigrations(dataSource);

    // Without a wrapping transaction: some migrations build or drop indexes concurrently.
    for (let i = 0; i < MIGRATIONS.length; i += 1) await dataSource.undoLastMigration({ transaction: 'none' });

    const tables: unknown[] = await dataSource.query(`SELECT tablename FROM pg_tables WHERE schemaname = current_schema() AND tablename <> 'migrations'`);
    expect(tables).toEqual([]);
  });

  it('are applied once when several processes migrate at the same time', async () => {
    const schema = `migrations_${randomBytes(4).toString('hex')}`;
    const processes = [freshDataSource(schema), freshDataSource(schema), freshDataSource(schema)];
    await Promise.all(processes.map((dataSource) => dataSource.initialize()));

    const applied = await Promise.all(processes.map((dataSource) => runMigrations(dataSource)));

    expect(applied.flat()).toEqual(MIGRATIONS.map((migration) => migration.name));
    // Only the first data source drops the shared schema.
    opened.splice(opened.length - 2, 2);
    await Promise.all(processes.slice(1).map((dataSource) => dataSource.destroy()));
  });
});
