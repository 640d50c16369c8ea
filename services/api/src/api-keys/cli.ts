import { loadConfig, parseCommandLine, runCommand, UsageError } from '@notofine/config';
import { API_KEY_SCOPES, assertSchemaUpToDate, connectDatabase, type ApiKey, type ApiKeyScope } from '@notofine/db';
import { createApiKey, listApiKeys, revokeApiKey } from './api-keys';

const USAGE = `Usage:
  npm run api-key -- create --name NAME [--scope admin|send]
                                          create a key and print it (shown once); scope admin
                                          by default, send for a key that only sends and reads
                                          notifications
  npm run api-key -- list                 list keys (never the keys themselves)
  npm run api-key -- revoke --id ID       revoke a key
  npm run api-key -- --help               print this help`;

const COMMANDS = ['create', 'list', 'revoke'] as const;
type Command = (typeof COMMANDS)[number];

/** The options each command takes; any other is refused. */
const OPTIONS_OF: Readonly<Record<Command, readonly string[]>> = { create: ['name', 'scope'], list: [], revoke: ['id'] };

/** `npm run api-key`: manages the API keys. */
async function main(): Promise<void> {
  const line = parseCommandLine({ name: { type: 'string' }, id: { type: 'string' }, scope: { type: 'string' } }, { positionals: 1 });
  if (line.help) {
    console.log(USAGE);
    return;
  }
  const { values } = line;
  const [command] = line.positionals;
  if (command === undefined) throw new UsageError('Name a command: create, list or revoke.');
  if (!(COMMANDS as readonly string[]).includes(command)) throw new UsageError(`Unknown command "${command}": create, list or revoke.`);
  const misplaced = Object.keys(values).filter((option) => !OPTIONS_OF[command as Command].includes(option));
  if (misplaced.length > 0) throw new UsageError(`${command} takes no ${misplaced.map((option) => `--${option}`).join(', ')}.`);
  if (command === 'create' && !values.name?.trim()) throw new UsageError('--name is required.');
  if (command === 'revoke' && !/^\d+$/.test(values.id ?? '')) throw new UsageError('--id must be a key\'s numeric id.');
  const scope = (values.scope ?? 'admin') as ApiKeyScope;
  if (!API_KEY_SCOPES.includes(scope)) throw new UsageError(`--scope must be one of ${API_KEY_SCOPES.join(', ')}.`);

  const config = loadConfig();
  const dataSource = await connectDatabase(config.database, { applicationName: 'notofine-api-key', poolSize: 1 });
  try {
    await assertSchemaUpToDate(dataSource);
    const { manager } = dataSource;
    if (command === 'create') {
      const { apiKey, key } = await createApiKey(manager, values.name!.trim(), scope);
      console.log(`Created API key ${apiKey.id} "${apiKey.name}" (scope ${apiKey.scope}). Keep it now, it is not shown again:\n\n  ${key}\n`);
    } else if (command === 'list') {
      console.log(keyTable(await listApiKeys(manager)));
    } else {
      await revokeApiKey(manager, Number(values.id));
      console.log(`Revoked API key ${values.id}.`);
    }
  } finally {
    await dataSource.destroy();
  }
}

/** The keys as a table: a header row, then one row a key, tab-separated. */
function keyTable(keys: readonly ApiKey[]): string {
  const rows = keys.map((apiKey) => [
    String(apiKey.id),
    `${apiKey.prefix}…`,
    apiKey.name,
    apiKey.scope,
    apiKey.revokedAt ? `revoked ${apiKey.revokedAt.toISOString()}` : 'active',
    apiKey.lastUsedAt ? apiKey.lastUsedAt.toISOString() : 'never',
  ]);
  return [['id', 'prefix', 'name', 'scope', 'state', 'last used'], ...rows].map((row) => row.join('\t')).join('\n');
}

runCommand(USAGE, main);
