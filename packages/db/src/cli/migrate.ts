import { loadConfig } from '@notofine/config';
import { connectDatabase, createDatabaseIfMissing } from '../connect';
import { runMigrations } from '../migrate';
import { PushTokenCipher } from '../push-tokens';
import { sealPushTokens } from '../repositories/devices';

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
    // Push tokens in clear (rows from before encryption) or under a retired key: sealed anew.
    const { sealed, resealed } = await sealPushTokens(dataSource.manager, new PushTokenCipher(config.security.pushTokenKeys));
    if (sealed + resealed > 0) console.log(`Push tokens: ${sealed} encrypted, ${resealed} re-encrypted with key ${config.security.pushTokenKeys[0]!.id}`);
  } finally {
    await dataSource.destroy();
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : String(error));
  process.exitCode = 1;
});
