import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Notification } from '@notofine/db';
import { apiClient, type ApiClient } from '@test/api-client';
import { insertUser } from '@test/factories';
import { createTestEnvironment, type TestEnvironment } from '@test/test-environment';
import { waitFor } from '@test/wait-for';
import type { Response } from 'supertest';
import { createApiKey } from '../../services/api/src/api-keys/api-keys';
import { start as startApi, type ApiService } from '../../services/api/src/api-service';
import { start as startWorker, type WorkerService } from '../../services/worker/src/worker-service';

// Idempotency judged where it matters: by what the providers were given. The API and a worker
// run in-process, delivering through the outbox, and each case counts the emails that went out.

let env: TestEnvironment;
let api: ApiService;
let worker: WorkerService;
let client: ApiClient;

beforeAll(async () => {
  env = await createTestEnvironment();
  api = await startApi({ config: env.config, logger: env.logger, listen: false });
  worker = await startWorker({ config: env.config, logger: env.logger, scheduleReminders: false });
  client = apiClient(api.app);
});
afterAll(async () => {
  await worker.stop();
  await api.stop();
  await env.cleanup();
});

const send = (by: ApiClient, key: string, body: object) => by.post('/notifications/send', body).set('Idempotency-Key', key);

/** The emails the outbox provider was given for a user's notifications. */
async function emailsTo(userId: number): Promise<number> {
  const ids = new Set((await env.db.manager.findBy(Notification, { userId })).map((n) => n.id));
  const text = await readFile(join(env.outboxDir, 'email.jsonl'), 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter(Boolean)
    .filter((line) => ids.has((JSON.parse(line) as { notification_id: number }).notification_id)).length;
}

/** Waits until every notification of the user has left `pending`, then counts what went out. */
async function sentTo(userId: number): Promise<number> {
  await waitFor('the notifications to be delivered', async () => (await env.db.manager.countBy(Notification, { userId, status: 'pending' })) === 0);
  return emailsTo(userId);
}

/** Waits until a session (the API's INSERT) waits on a lock that session `pid` holds. */
async function blockedBy(pid: number): Promise<boolean> {
  const [row] = await env.db.query<Array<{ n: number }>>(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))`, [pid]);
  return row!.n > 0;
}

describe('Idempotency-Key, counted at the provider', () => {
  it('a retry with the same key and body, before and after delivery, replays the answer and sends once', async () => {
    const user = await insertUser(env.db);
    const key = randomUUID();
    const body = { user_id: user.id, channel: 'email', message: 'Votre contravention est due' };

    const first = await send(client, key, body).expect(202);
    const early = await send(client, key, body).expect(202);
    const sent = await sentTo(user.id);
    const late = await send(client, key, body).expect(202);

    for (const retry of [early, late]) {
      expect(retry.body).toEqual(first.body);
      expect(retry.headers['idempotent-replayed']).toBe('true');
    }
    expect(sent).toBe(1);
    expect(await sentTo(user.id)).toBe(1);
  });

  it('the same key with another body gets 422 and sends nothing more', async () => {
    const user = await insertUser(env.db);
    const key = randomUUID();
    await send(client, key, { user_id: user.id, channel: 'email', message: 'Premier' }).expect(202);

    const other = await send(client, key, { user_id: user.id, channel: 'email', message: 'Second' });

    expect(other.status).toBe(422);
    expect(other.body).toMatchObject({ type: '/problems/idempotency-key-reused', detail: expect.stringContaining(key) });
    expect(await sentTo(user.id)).toBe(1);
    expect(await env.db.manager.countBy(Notification, { userId: user.id })).toBe(1);
  });

  it('two requests fired together: one runs, the other gets 409 with Retry-After, and one email goes out', async () => {
    const user = await insertUser(env.db);
    const key = randomUUID();
    const body = { user_id: user.id, channel: 'email', message: 'Rappel' };
    // Holding the user's row keeps the winner's INSERT waiting: it is still in flight when the other arrives.
    const blocker = env.db.createQueryRunner();
    await blocker.startTransaction();
    await blocker.query('SELECT id FROM users WHERE id = $1 FOR UPDATE', [user.id]);
    const [{ pid }] = (await blocker.query('SELECT pg_backend_pid() AS pid')) as [{ pid: number }];

    const answered: Response[] = [];
    const both = [send(client, key, body), send(client, key, body)].map((pending) => pending.then((response) => (answered.push(response), response)));
    await waitFor('one request to wait on the lock and the other to be answered', async () => answered.length === 1 && (await blockedBy(pid)));
    await blocker.commitTransaction();
    await blocker.release();
    const responses = await Promise.all(both);

    const [concurrent] = answered;
    const winner = responses.find((response) => response !== concurrent)!;
    expect(concurrent!.status).toBe(409);
    expect(concurrent!.headers['retry-after']).toBe('1');
    expect(concurrent!.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(concurrent!.body).toMatchObject({ type: '/problems/idempotent-request-in-flight' });
    expect(winner.status).toBe(202);
    expect(await sentTo(user.id)).toBe(1);
  });

  it('ten requests with one key at once: one notification, the others replayed or 409, one email', async () => {
    const user = await insertUser(env.db);
    const key = randomUUID();
    const body = { user_id: user.id, channel: 'email', message: 'Rappel' };

    const responses = await Promise.all(Array.from({ length: 10 }, () => send(client, key, body)));

    const ran = responses.filter((r) => r.status === 202 && r.headers['idempotent-replayed'] === undefined);
    const others = responses.filter((r) => !ran.includes(r));
    expect(ran).toHaveLength(1);
    for (const response of others) {
      expect(response.status === 409 || (response.status === 202 && response.body.id === ran[0]!.body.id)).toBe(true);
    }
    expect(await env.db.manager.countBy(Notification, { userId: user.id })).toBe(1);
    expect(await sentTo(user.id)).toBe(1);
  });

  it('a key over 255 characters gets 400 and nothing is sent', async () => {
    const user = await insertUser(env.db);

    const response = await send(client, 'k'.repeat(256), { user_id: user.id, channel: 'email', message: 'Rappel' });

    expect(response.status).toBe(400);
    expect(response.body).toMatchObject({ type: '/problems/validation-error', errors: [{ field: 'header.Idempotency-Key', message: expect.stringContaining('255') }] });
    expect(await env.db.manager.countBy(Notification, { userId: user.id })).toBe(0);
    expect(await env.db.query('SELECT 1 FROM idempotency_keys WHERE length(key) > 255')).toEqual([]);
    expect(await emailsTo(user.id)).toBe(0);
  });

  it('two callers with the same key never meet: each gets its own send, and its own replay', async () => {
    const user = await insertUser(env.db);
    const other = apiClient(api.app, (await createApiKey(env.db.manager, 'another backend', 'send')).key);
    const key = randomUUID();
    const body = { user_id: user.id, channel: 'email', message: 'Rappel' };

    const mine = await send(client, key, body).expect(202);
    const theirs = await send(other, key, body).expect(202);
    const myReplay = await send(client, key, body).expect(202);
    const theirReplay = await send(other, key, body).expect(202);

    expect(theirs.headers['idempotent-replayed']).toBeUndefined();
    expect(theirs.body.id).not.toBe(mine.body.id);
    expect(myReplay.body.id).toBe(mine.body.id);
    expect(theirReplay.body.id).toBe(theirs.body.id);
    expect(await sentTo(user.id)).toBe(2);
  });

  it('keeps a key for 24 hours: a retry a minute before still replays and sends nothing', async () => {
    const user = await insertUser(env.db);
    const key = randomUUID();
    const body = { user_id: user.id, channel: 'email', message: 'Rappel' };
    await send(client, key, body).expect(202);
    await sentTo(user.id);
    await env.db.query(`UPDATE idempotency_keys SET created_at = now() - interval '23 hours 59 minutes' WHERE key = $1`, [key]);

    const retry = await send(client, key, body).expect(202);

    expect(retry.headers['idempotent-replayed']).toBe('true');
    expect(await sentTo(user.id)).toBe(1);
  });

  it('is guarded by the database: a second row for the same caller and key is refused by a unique constraint', async () => {
    await env.db.query(`INSERT INTO idempotency_keys (caller, key, fingerprint) VALUES ('key:1', 'taken', repeat('a', 64))`);

    await expect(env.db.query(`INSERT INTO idempotency_keys (caller, key, fingerprint) VALUES ('key:1', 'taken', repeat('b', 64))`)).rejects.toMatchObject({
      driverError: expect.objectContaining({ code: '23505', constraint: 'UQ_idempotency_keys_caller_key' }),
    });
    await env.db.query(`INSERT INTO idempotency_keys (caller, key, fingerprint) VALUES ('key:2', 'taken', repeat('b', 64))`);
  });
});
