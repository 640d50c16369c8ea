import { loadConfig } from '@notofine/config';
import { connectDatabase, createDatabaseIfMissing } from '../connect';
import { runMigrations } from '../migrate';

/** `npm run migrate`: brings the database schema up to date, creating the database outside production. */
async function main(): Promise<void> {
  const config = loadConfig();
  if (config.env !== 'production' && (await createDatabaseIfMissing(config.database.url))) {
    console.log(`Created database ${new URL(config.database.url).pathname.slice(1)}`);
  }
  const dataSource = await connectDatabase(config.database, { applicationName: 'notofine-migrate', poolSize: 2 });
  try {
    const applied = await runMigrations(dataSource);
    console.log(applied.length ? `Applied ${applied.join(', ')}` : 'Database schema is up to date');
  } finally {
    await dataSource.destroy();
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : String(error));
  process.exitCode = 1;
});
