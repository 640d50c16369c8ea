import { loadConfig, parseCommandLine, runCommand } from '@notofine/config';
import { connectDatabase, createDatabaseIfMissing } from '../connect';
import { runMigrations } from '../migrate';
import { PushTokenCipher } from '../push-tokens';
import { sealPushTokens } from '../repositories/devices';

const USAGE = `Usage: npm run migrate

Brings the database schema up to date (DATABASE_URL, DATABASE_SCHEMA): applies the pending
migrations, creating the database first outside production, and encrypts push tokens stored in
clear or under a retired key (PUSH_TOKEN_KEYS). Safe to run from several processes at once.

  -h, --help  print this help`;

/** `npm run migrate`: brings the database schema up to date, creating the database outside production. */
async function main(): Promise<void> {
  if (parseCommandLine({}).help) {
    console.log(USAGE);
    return;
  }
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

runCommand(USAGE, main);
