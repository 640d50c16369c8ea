import { randomUUID } from 'node:crypto';
import { Notification, User } from '@notofine/db';
import { apiClient, type ApiClient } from '@test/api-client';
import { insertUser } from '@test/factories';
import { createApiKey } from '../src/api-keys/api-keys';
import { startApi, type ApiHarness } from './api-harness';
import { openDeliveryQueues, type DeliveryQueuesProbe } from './delivery-queues';

let harness: ApiHarness;
let queues: DeliveryQueuesProbe;
beforeAll(async () => {
  harness = await startApi();
  queues = openDeliveryQueues(harness.env);
});
afterAll(async () => {
  await queues.close();
  await harness.stop();
});

function send(client: ApiClient, key: string | undefined, body: Record<string, unknown>) {
  const request = client.post('/notifications/send', body);
  return key === undefined ? request : request.set('Idempotency-Key', key);
}

async function notificationsOf(user: User): Promise<Notification[]> {
  return harness.env.db.manager.find(Notification, { where: { userId: user.id }, order: { id: 'ASC' } });
}

describe('Idempotency-Key', () => {
  it('replays the first response to a retry with the same key and body, and sends nothing new', async () => {
    const user = await insertUser(harness.env.db);
    const key = randomUUID();
    const body = { user_id: user.id, channel: 'email', message: 'Votre contravention est due' };

    const first = await send(harness.client, key, body).expect(202);
    const retry = await send(harness.client, key, body).expect(202);

    expect(retry.body).toEqual(first.body);
    expect(retry.headers).toMatchObject({ 'idempotent-replayed': 'true', location: first.headers.location, 'content-type': first.headers['content-type'] });
    expect(first.headers['idempotent-replayed']).toBeUndefined();
    expect(await notificationsOf(user)).toHaveLength(1);
    expect(await queues.queue('email').getJobCounts('waiting')).toEqual({ waiting: 1 });
  });

  it('without a key, each request is a new one', async () => {
    const user = await insertUser(harness.env.db);
    const body = { user_id: user.id, channel: 'sms', message: 'Rappel' };

    await send(harness.client, undefined, body).expect(202);
    await send(harness.client, undefined, body).expect(202);

    expect(await notificationsOf(user)).toHaveLength(2);
  });

  it('refuses the same key with another body or another route with 422, and does nothing', async () => {
    const user = await insertUser(harness.env.db);
    const key = randomUUID();
    await send(harness.client, key, { user_id: user.id, channel: 'email', message: 'Premier' }).expect(202);

    const otherBody = await send(harness.client, key, { user_id: user.id, channel: 'email', message: 'Second' }).expect(422);
    const otherRoute = await harness.client.post('/users', { full_name: 'Jeanne Martin' }).set('Idempotency-Key', key).expect(422);

    expect(otherBody.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(otherBody.body).toMatchObject({ type: '/problems/idempotency-key-reused', status: 422, detail: expect.stringContaining(key) });
    expect(otherRoute.body).toMatchObject({ type: '/problems/idempotency-key-reused' });
    expect(await notificationsOf(user)).toHaveLength(1);
    expect(await harness.env.db.manager.countBy(User, { fullName: 'Jeanne Martin' })).toBe(0);
  });

  it('answers 409 with Retry-After to a retry while the first request still runs, then replays its response', async () => {
    const user = await insertUser(harness.env.db);
    const key = randomUUID();
    const body = { user_id: user.id, channel: 'email', message: 'Rappel' };
    // The first request's INSERT waits for this lock on its user: it is in flight until the commit.
    const blocker = harness.env.db.createQueryRunner();
    await blocker.startTransaction();
    await blocker.query('SELECT id FROM users WHERE id = $1 FOR UPDATE', [user.id]);
    const [{ pid }] = (await blocker.query('SELECT pg_backend_pid() AS pid')) as [{ pid: number }];

    const first = send(harness.client, key, body).then((response) => response);
    await waitForBlockedBy(pid);
    const concurrent = await send(harness.client, key, body);
    await blocker.commitTransaction();
    await blocker.release();
    const answered = await first;

    expect(concurrent.status).toBe(409);
    expect(concurrent.headers['retry-after']).toBe('1');
    expect(concurrent.body).toMatchObject({ type: '/problems/idempotent-request-in-flight' });
    expect(answered.status).toBe(202);
    const retry = await send(harness.client, key, body).expect(202);
    expect(retry.body).toEqual(answered.body);
    expect(await notificationsOf(user)).toHaveLength(1);
  });

  it('takes the same JSON with its fields in another order for the same request: replayed, not refused', async () => {
    const user = await insertUser(harness.env.db);
    const key = randomUUID();
    const body = `{"user_id": ${user.id}, "channel": "email", "template": "ticket_due", "data": {"reference": "AB-123", "amount_cents": 13500, "due_date": "2026-12-15"}, "fallback": ["sms"]}`;
    const reordered = `{"fallback":["sms"],"data":{"due_date":"2026-12-15","amount_cents":13500,"reference":"AB-123"},"template":"ticket_due","channel":"email","user_id":${user.id}}`;
    const post = (text: string) => harness.client.post('/notifications/send').set('Content-Type', 'application/json').set('Idempotency-Key', key).send(text);

    const first = await post(body);
    const retry = await post(reordered);

    expect(first.status).toBe(202);
    expect(retry.status).toBe(202);
    expect(retry.headers['idempotent-replayed']).toBe('true');
    expect(retry.body).toEqual(first.body);
    expect(await notificationsOf(user)).toHaveLength(1);
  });

  it('keeps the keys of two callers apart', async () => {
    const user = await insertUser(harness.env.db);
    const other = apiClient(harness.api.app, (await createApiKey(harness.env.db.manager, 'another backend', 'send')).key);
    const key = randomUUID();
    const body = { user_id: user.id, channel: 'email', message: 'Rappel' };

    const mine = await send(harness.client, key, body).expect(202);
    const theirs = await send(other, key, body).expect(202);

    expect(theirs.body.id).not.toBe(mine.body.id);
    expect(theirs.headers['idempotent-replayed']).toBeUndefined();
    expect(await notificationsOf(user)).toHaveLength(2);
  });

  it('replays an error response too: the outcome of the first request stands', async () => {
    const user = await insertUser(harness.env.db, { phone: null });
    const key = randomUUID();
    const body = { user_id: user.id, channel: 'sms', message: 'Rappel' };

    const first = await send(harness.client, key, body).expect(422);
    const retry = await send(harness.client, key, body).expect(422);

    expect(retry.body).toEqual(first.body);
    expect(retry.headers['idempotent-replayed']).toBe('true');
  });

  it('forgets a key after its time to live: the same key then makes a new request', async () => {
    const user = await insertUser(harness.env.db);
    const key = randomUUID();
    const body = { user_id: user.id, channel: 'email', message: 'Rappel' };
    await send(harness.client, key, body).expect(202);
    await harness.env.db.query(`UPDATE idempotency_keys SET created_at = now() - interval '25 hours' WHERE key = $1`, [key]);

    const later = await send(harness.client, key, body).expect(202);

    expect(later.headers['idempotent-replayed']).toBeUndefined();
    expect(await notificationsOf(user)).toHaveLength(2);
  });

  it.each([
    ['256 characters', 'k'.repeat(256)],
    ['a control character', 'abc\tdef'],
    ['an empty value', ''],
    ['a space', 'order 42'],
  ])('refuses a key of %s with 400, and does nothing', async (_case, key) => {
    const user = await insertUser(harness.env.db);

    const response = await send(harness.client, key, { user_id: user.id, channel: 'email', message: 'Rappel' }).expect(400);

    expect(response.body).toMatchObject({ type: '/problems/validation-error', errors: [{ field: 'header.Idempotency-Key', message: expect.stringContaining('255') }] });
    expect(await notificationsOf(user)).toHaveLength(0);
  });

  it('never keeps a minted user token: a retry mints another, and the database holds neither', async () => {
    const user = await insertUser(harness.env.db);
    const key = randomUUID();

    const first = await harness.client.post(`/users/${user.id}/tokens`).set('Idempotency-Key', key).expect(201);
    const retry = await harness.client.post(`/users/${user.id}/tokens`).set('Idempotency-Key', key).expect(201);

    expect(retry.headers['idempotent-replayed']).toBeUndefined();
    expect(retry.body.token).not.toBe(first.body.token);
    const kept = JSON.stringify(await harness.env.db.query('SELECT * FROM idempotency_keys'));
    expect([first.body.token, retry.body.token].filter((token: string) => kept.includes(token))).toEqual([]);
  });

  it('accepts a key of 255 characters', async () => {
    const user = await insertUser(harness.env.db);

    await send(harness.client, 'k'.repeat(255), { user_id: user.id, channel: 'email', message: 'Rappel' }).expect(202);
  });
});

/** Waits until a session (the API's INSERT) waits on a lock that session `pid` holds. */
async function waitForBlockedBy(pid: number): Promise<void> {
  const deadline = Date.now() + 5000;
  while (Date.now() < deadline) {
    const [row] = await harness.env.db.query<Array<{ n: number }>>(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))`, [pid]);
    if (row!.n > 0) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error('the first request never waited on the lock');
}
