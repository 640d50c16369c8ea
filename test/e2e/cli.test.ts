import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Notification, Reminder } from '@notofine/db';
import { DELIVERY_QUEUES } from '@notofine/queue';
import { insertReminder, insertTicket, insertUser } from '@test/factories';
import { createTestEnvironment, type TestEnvironment } from '@test/test-environment';
import { Queue } from 'bullmq';

// The command-line tools as an operator runs them (built by `npm test` first), and the services'
// own entry points: each prints its usage on --help and does nothing else, refuses what it does not
// take with exit status 2, and reminders:process --dry-run says what it would send without doing
// anything.

const root = join(__dirname, '..', '..');
const run = promisify(execFile);
const CLIS = {
  'reminders:process': 'services/worker/dist/reminders/cli.js',
  'api-key': 'services/api/dist/api-keys/cli.js',
  migrate: 'packages/db/dist/cli/migrate.js',
  // The services themselves take no argument.
  'start:api': 'services/api/dist/main.js',
  'start:worker': 'services/worker/dist/main.js',
} as const;

interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

async function cli(name: keyof typeof CLIS, args: string[], env: Record<string, string> = variables): Promise<Outcome> {
  const path = join(root, CLIS[name]);
  if (!existsSync(path)) throw new Error(`${CLIS[name]} is missing: run npm run build first`);
  try {
    const { stdout, stderr } = await run(process.execPath, [path, ...args], { env: { PATH: process.env.PATH ?? '', ...env }, timeout: 20_000 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

// Each test starts processes, several seconds each on a busy machine.
jest.setTimeout(60_000);

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
    DEFAULT_QUIET_HOURS: 'off',
    // A service that started anyway must not take a port of the machine's.
    HOST: '127.0.0.1',
    PORT: '0',
    HEALTH_PORT: '0',
  };
});
afterAll(() => env.cleanup());

/** A reminder due now, and a way to tell that nothing touched it. */
async function dueReminder() {
  const user = await insertUser(env.db, { phone: '+33612345678' });
  await insertTicket(env.db, user.id, { reference: 'ABC123', amountCents: 13500, dueDate: '2027-10-15' });
  const reminder = await insertReminder(env.db, user.id, ['email', 'sms']);
  const before = await env.db.manager.findOneByOrFail(Reminder, { id: reminder.id });
  return {
    reminder,
    userId: user.id,
    async expectUntouched() {
      expect(await env.db.manager.findOneByOrFail(Reminder, { id: reminder.id })).toEqual(before);
      expect(await env.db.manager.countBy(Notification, { reminderId: reminder.id })).toBe(0);
    },
  };
}

describe.each(Object.keys(CLIS) as Array<keyof typeof CLIS>)('npm run %s', (name) => {
  it('prints its usage on --help and -h, and does nothing else (not even connect)', async () => {
    const due = await dueReminder();
    const unreachable = { ...variables, DATABASE_URL: 'postgres://127.0.0.1:1/notofine', REDIS_URL: 'redis://127.0.0.1:1' };

    const outcomes = await Promise.all(['--help', '-h'].map((flag) => cli(name, [flag], unreachable)));

    for (const outcome of outcomes) {
      expect(outcome).toMatchObject({ code: 0, stderr: '' });
      expect(outcome.stdout).toMatch(/^Usage:/);
      expect(outcome.stdout).toContain('--help');
    }
    await due.expectUntouched();
  });

  it('refuses an unknown option or argument with exit status 2, what is wrong and its usage, and does nothing', async () => {
    const due = await dueReminder();

    const outcomes = await Promise.all([['--frobnicate'], ['--dry-rn'], ['now', 'please']].map((args) => cli(name, name === 'api-key' ? ['list', ...args] : args)));

    for (const outcome of outcomes) {
      expect(outcome.code).toBe(2);
      expect(outcome.stdout).toBe('');
      expect(outcome.stderr).toMatch(/frobnicate|dry-rn|"now"|"please"/);
      expect(outcome.stderr).toContain('Usage:');
    }
    await due.expectUntouched();
  });
});

describe('npm run reminders:process -- --dry-run', () => {
  it('says what a run would send now, reminder by reminder, and sends, writes and reschedules nothing', async () => {
    await env.db.query('DELETE FROM reminders');
    const due = await dueReminder();
    const silent = await insertReminder(env.db, (await insertUser(env.db)).id, ['email']);

    const outcome = await cli('reminders:process', ['--dry-run']);

    expect(outcome).toMatchObject({ code: 0, stderr: '' });
    expect(outcome.stdout.split('\n')).toEqual([
      'Simulation (--dry-run) : rien n\'est envoyé, écrit ni reprogrammé.',
      `Rappel ${due.reminder.id} (utilisateur ${due.userId}) :`,
      '  email : "Rappel Notofine : vous avez 1 contravention impayée pour un total de 135,00 €. Prochaine échéance : contravention ABC123, à régler avant le 15 octobre 2027."',
      '  sms : "Rappel Notofine : vous avez 1 contravention impayée pour un total de 135,00 €. Prochaine échéance : contravention ABC123, à régler avant le 15 octobre 2027."',
      `Rappel ${silent.id} (utilisateur ${silent.userId}) : rien à envoyer`,
      'Traiterait 1 rappels',
      'Ignorerait 1 rappels (rien à rappeler ou aucun canal joignable)',
      'Enverrait via: {"email":1,"sms":1,"push":0}',
      '',
    ]);
    await due.expectUntouched();
    const queues = Object.values(DELIVERY_QUEUES).map((queue) => new Queue(queue, { connection: { url: env.config.redis.url }, prefix: env.id }));
    try {
      expect(await Promise.all(queues.map((queue) => queue.count()))).toEqual([0, 0, 0]);
    } finally {
      await Promise.all(queues.map((queue) => queue.close()));
    }
  });

  it('is a dry run too when npm kept the flag for itself (npm run reminders:process --dry-run, without --)', async () => {
    const due = await dueReminder();

    const outcome = await cli('reminders:process', [], { ...variables, npm_config_dry_run: 'true' });

    expect(outcome.code).toBe(0);
    expect(outcome.stdout).toMatch(/^Simulation \(--dry-run\)/);
    await due.expectUntouched();
  });
});

describe('npm run api-key', () => {
  it('lists the keys under a header row', async () => {
    await cli('api-key', ['create', '--name', 'listed']);

    const outcome = await cli('api-key', ['list']);

    const [header, ...rows] = outcome.stdout.trim().split('\n');
    expect(header).toBe('id\tprefix\tname\tscope\tstate\tlast used');
    expect(rows).toContainEqual(expect.stringMatching(/^\d+\tnfk_\S{8}…\tlisted\tadmin\tactive\tnever$/));
  });

  it('refuses an option its command does not take, and a command it does not have, with exit status 2', async () => {
    const misplaced = await cli('api-key', ['list', '--id', '3']);
    const unknown = await cli('api-key', ['delete', '--id', '3']);
    const none = await cli('api-key', []);

    expect(misplaced).toMatchObject({ code: 2, stderr: expect.stringContaining('list takes no --id') });
    expect(unknown).toMatchObject({ code: 2, stderr: expect.stringContaining('Unknown command "delete"') });
    expect(none).toMatchObject({ code: 2, stderr: expect.stringContaining('Name a command') });
  });
});
