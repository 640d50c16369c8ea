import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { insertReminder, insertUser } from '@test/factories';
import { createTestEnvironment, type TestEnvironment } from '@test/test-environment';

// These tests run the built services and CLIs as an operator would: `npm test` builds them first.
const root = join(__dirname, '..', '..');
const run = promisify(execFile);

interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

async function node(script: string, args: string[], env: Record<string, string>): Promise<Outcome> {
  const path = join(root, script);
  if (!existsSync(path)) throw new Error(`${script} is missing: run npm run build first`);
  try {
    const { stdout, stderr } = await run(process.execPath, [path, ...args], { env: { PATH: process.env.PATH ?? '', ...env }, timeout: 20_000 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

let env: TestEnvironment;
let variables: Record<string, string>;
beforeAll(async () => {
  env = await createTestEnvironment();
  variables = {
    DATABASE_URL: env.config.database.url,
    DATABASE_SCHEMA: env.config.database.schema,
    REDIS_URL: env.config.redis.url,
    QUEUE_PREFIX: env.config.redis.queuePrefix,
    OUTBOX_DIR: env.outboxDir,
    LOG_LEVEL: 'warn',
  };
});
afterAll(() => env.cleanup());

describe('starting a service', () => {
  it.each([
    ['api', 'services/api/dist/main.js'],
    ['worker', 'services/worker/dist/main.js'],
  ])('%s: with PostgreSQL unreachable, says which server, where, and how to start it, in one line, and exits 1', async (name, script) => {
    const outcome = await node(script, [], { ...variables, DATABASE_URL: 'postgres://127.0.0.1:1/notofine' });

    expect(outcome.code).toBe(1);
    expect(outcome.stderr.trim().split('\n')).toEqual([
      `${name}: Cannot reach PostgreSQL at 127.0.0.1:1 (ECONNREFUSED). Start PostgreSQL (e.g. \`pg_ctlcluster 15 main start\` or \`docker compose up -d postgres\`) or set DATABASE_URL to a running server.`,
    ]);
  });

  it.each([
    ['api', 'services/api/dist/main.js'],
    ['worker', 'services/worker/dist/main.js'],
  ])('%s: with Redis unreachable, says so in one line and exits 1', async (name, script) => {
    const outcome = await node(script, [], { ...variables, REDIS_URL: 'redis://127.0.0.1:1' });

    expect(outcome.code).toBe(1);
    expect(outcome.stderr.trim().split('\n')).toEqual([expect.stringMatching(new RegExp(`^${name}: Cannot reach Redis at 127\\.0\\.0\\.1:1 \\(ECONNREFUSED\\)\\. Start Redis`))]);
  });

  it('api: with its port taken, says so in one line and exits 1', async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const { port } = taken.address() as AddressInfo;

    const outcome = await node('services/api/dist/main.js', [], { ...variables, HOST: '127.0.0.1', PORT: String(port) });
    taken.close();

    expect(outcome.code).toBe(1);
    expect(outcome.stderr.trim()).toBe(`api: Port ${port} on 127.0.0.1 is already in use: stop the other process or set PORT.`);
  });

  it('refuses a malformed variable, naming it', async () => {
    const outcome = await node('services/api/dist/main.js', [], { ...variables, PORT: 'eighty' });

    expect(outcome.code).toBe(1);
    expect(outcome.stderr).toContain('PORT must be a whole number between 0 and 65535 (got "eighty")');
    expect(outcome.stderr).not.toMatch(/\n\s+at /);
  });
});

describe('npm run reminders:process', () => {
  it('processes the due reminders once and prints the seed’s summary', async () => {
    const user = await insertUser(env.db);
    await insertReminder(env.db, user.id, ['email', 'sms'], { message: 'Pensez à régler votre contravention' });

    const outcome = await node('services/worker/dist/reminders/cli.js', [], variables);

    expect(outcome).toMatchObject({ code: 0, stderr: '' });
    expect(outcome.stdout).toContain('Traité 1 rappels');
    expect(outcome.stdout).toContain('Envoyé via: {"email":1,"sms":1,"push":0}');
  });
});

describe('npm run api-key', () => {
  it('creates a key, shows it once, and stores only its hash', async () => {
    const outcome = await node('services/api/dist/api-keys/cli.js', ['create', '--name', 'backend'], variables);

    expect(outcome.code).toBe(0);
    const key = /\b(nfk_[A-Za-z0-9_-]{32})\b/.exec(outcome.stdout)?.[1];
    expect(key).toBeDefined();
    const stored: Array<Record<string, unknown>> = await env.db.query(`SELECT * FROM api_keys WHERE name = 'backend'`);
    expect(stored).toHaveLength(1);
    expect(JSON.stringify(stored)).not.toContain(key);

    const listed = await node('services/api/dist/api-keys/cli.js', ['list'], variables);
    expect(listed.stdout).toMatch(/backend\tadmin\tactive\tnever\n/);
    expect(listed.stdout).not.toContain(key);
  });

  it('creates a key of scope send when asked, and refuses an unknown scope', async () => {
    const created = await node('services/api/dist/api-keys/cli.js', ['create', '--name', 'mobile-backend', '--scope', 'send'], variables);
    const refused = await node('services/api/dist/api-keys/cli.js', ['create', '--name', 'x', '--scope', 'root'], variables);

    expect(created.stdout).toContain('(scope send)');
    expect(await env.db.query(`SELECT scope FROM api_keys WHERE name = 'mobile-backend'`)).toEqual([{ scope: 'send' }]);
    expect(refused).toMatchObject({ code: 2, stderr: expect.stringContaining('--scope must be one of admin, send') });
  });

  it('explains its usage when the command is wrong', async () => {
    const outcome = await node('services/api/dist/api-keys/cli.js', ['create'], variables);

    expect(outcome.code).toBe(2);
    expect(outcome.stderr).toContain('--name is required');
  });
});
