import { parseArgs } from 'node:util';
import { loadConfig } from '@notofine/config';
import { API_KEY_SCOPES, assertSchemaUpToDate, connectDatabase, type ApiKeyScope } from '@notofine/db';
import { createApiKey, listApiKeys, revokeApiKey } from './api-keys';

const USAGE = `Usage:
  npm run api-key -- create --name NAME [--scope admin|send]
                                          create a key and print it (shown once); scope admin
                                          by default, send for a key that only sends and reads
                                          notifications
  npm run api-key -- list                 list keys (never the keys themselves)
  npm run api-key -- revoke --id ID       revoke a key`;

/** `npm run api-key`: manages the API keys. */
async function main(): Promise<void> {
  const { positionals, values } = parseArgs({ allowPositionals: true, options: { name: { type: 'string' }, id: { type: 'string' }, scope: { type: 'string', default: 'admin' } } });
  const [command] = positionals;
  if (!command || !['create', 'list', 'revoke'].includes(command)) throw new Error(USAGE);
  if (command === 'create' && !values.name?.trim()) throw new Error(`--name is required.\n${USAGE}`);
  if (command === 'revoke' && !/^\d+$/.test(values.id ?? '')) throw new Error(`--id must be a key's numeric id.\n${USAGE}`);
  const scope = values.scope as ApiKeyScope;
  if (!API_KEY_SCOPES.includes(scope)) throw new Error(`--scope must be one of ${API_KEY_SCOPES.join(', ')}.\n${USAGE}`);

  const config = loadConfig();
  const dataSource = await connectDatabase(config.database, { applicationName: 'notofine-api-key', poolSize: 1 });
  try {
    await assertSchemaUpToDate(dataSource);
    const { manager } = dataSource;
    if (command === 'create') {
      const { apiKey, key } = await createApiKey(manager, values.name!.trim(), scope);
      console.log(`Created API key ${apiKey.id} "${apiKey.name}" (scope ${apiKey.scope}). Keep it now, it is not shown again:\n\n  ${key}\n`);
    } else if (command === 'list') {
      for (const apiKey of await listApiKeys(manager)) {
        const state = apiKey.revokedAt ? `revoked ${apiKey.revokedAt.toISOString()}` : 'active';
        const used = apiKey.lastUsedAt ? `last used ${apiKey.lastUsedAt.toISOString()}` : 'never used';
        console.log(`${apiKey.id}\t${apiKey.prefix}…\t${apiKey.name}\t${apiKey.scope}\t${state}\t${used}`);
      }
    } else {
      await revokeApiKey(manager, Number(values.id));
      console.log(`Revoked API key ${values.id}.`);
    }
  } finally {
    await dataSource.destroy();
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : String(error));
  process.exitCode = 1;
});
