import { randomUUID } from 'node:crypto';
import { Notification, insertPendingNotifications } from '@notofine/db';
import { buildReminderBody, buildTicketBody, buildUserBody, insertDevice, insertTicket, insertUser, insertVerification } from '@test/factories';
import type { Response } from 'supertest';
import { startApi, type ApiHarness } from './api-harness';
import { routesOf } from './routes';

// A request with an Idempotency-Key that writes must record its response in the very transaction
// of its writes: should the process die between that commit and the answer, its retry then finds
// the response and replays it, instead of taking the request for one that did nothing and running
// it again (a second send). PostgreSQL says which transaction last wrote a row (`xmin`): the key's
// row and the rows of the request must share it.

let harness: ApiHarness;
beforeAll(async () => {
  harness = await startApi();
});
afterAll(() => harness.stop());

/** The rows a request wrote, as table and id. */
type Written = Array<[table: string, id: number]>;

interface WritingRoute {
  /** Sends the request with the key; the rows it wrote. */
  run(key: string): Promise<{ response: Response; written: Written }>;
}

const post = (path: string, key: string, body?: object) => {
  const request = harness.client.post(path, body).set('Idempotency-Key', key);
  return request;
};

async function failedNotification(): Promise<Notification> {
  const user = await insertUser(harness.env.db);
  const [notification] = await insertPendingNotifications(harness.env.db.manager, [{ userId: user.id, channel: 'email', message: 'Rappel', subject: null, ticketId: null, reminderId: null }]);
  await harness.env.db.query(`UPDATE notifications SET status = 'failed', error_message = 'smtp: 550' WHERE id = $1`, [notification!.id]);
  return notification!;
}

/** Every POST route that writes and takes an Idempotency-Key (the test below checks that none is missing). */
const WRITING_ROUTES: Record<string, WritingRoute> = {
  'POST /notifications/send': {
    async run(key) {
      const user = await insertUser(harness.env.db);
      const response = await post('/notifications/send', key, { user_id: user.id, channel: 'email', message: 'Rappel' });
      return { response, written: [['notifications', response.body.id]] };
    },
  },
  'POST /notifications/batch': {
    async run(key) {
      const user = await insertUser(harness.env.db);
      const response = await post('/notifications/batch', key, { notifications: [{ user_id: user.id, channel: 'email', message: 'Un' }, { user_id: user.id, channel: 'sms', message: 'Deux' }] });
      return { response, written: (response.body.notifications as Array<{ id: number }>).map((n) => ['notifications', n.id]) };
    },
  },
  'POST /tickets/:ticketId/notify': {
    async run(key) {
      const user = await insertUser(harness.env.db);
      const ticket = await insertTicket(harness.env.db, user.id);
      const response = await post(`/tickets/${ticket.id}/notify`, key, { message: 'Votre amende' });
      return { response, written: (response.body.notifications as Array<{ id: number }>).map((n) => ['notifications', n.id]) };
    },
  },
  'POST /notifications/:notificationId/cancel': {
    async run(key) {
      const user = await insertUser(harness.env.db);
      const { body } = await harness.client.post('/notifications/send', { user_id: user.id, channel: 'email', message: 'Rappel' }).expect(202);
      const response = await post(`/notifications/${body.id}/cancel`, key);
      return { response, written: [['notifications', body.id]] };
    },
  },
  'POST /notifications/:notificationId/retry': {
    async run(key) {
      const failed = await failedNotification();
      const response = await post(`/notifications/${failed.id}/retry`, key);
      return { response, written: [['notifications', failed.id]] };
    },
  },
  'POST /users': {
    async run(key) {
      const response = await post('/users', key, buildUserBody());
      return { response, written: [['users', response.body.id]] };
    },
  },
  'POST /users/:userId/tickets': {
    async run(key) {
      const user = await insertUser(harness.env.db);
      const response = await post(`/users/${user.id}/tickets`, key, buildTicketBody());
      return { response, written: [['tickets', response.body.id]] };
    },
  },
  'POST /users/:userId/devices': {
    async run(key) {
      const user = await insertUser(harness.env.db);
      const response = await post(`/users/${user.id}/devices`, key, { token: `fcm-${randomUUID()}-${'x'.repeat(40)}`, platform: 'android' });
      return { response, written: [['devices', response.body.id]] };
    },
  },
  'POST /users/:userId/reminders': {
    async run(key) {
      const user = await insertUser(harness.env.db);
      await insertDevice(harness.env.db, user.id);
      const response = await post(`/users/${user.id}/reminders`, key, buildReminderBody());
      return { response, written: [['reminders', response.body.id]] };
    },
  },
  'POST /users/:userId/verifications': {
    async run(key) {
      // A backend key's address is not proven: a code may be asked for it.
      const user = await insertUser(harness.env.db);
      const response = await post(`/users/${user.id}/verifications`, key, { contact: 'email' });
      const [verification] = await harness.env.db.query<Array<{ id: number }>>('SELECT id FROM contact_verifications WHERE user_id = $1', [user.id]);
      const [notification] = await harness.env.db.query<Array<{ id: number }>>('SELECT id FROM notifications WHERE user_id = $1', [user.id]);
      return { response, written: [['contact_verifications', verification!.id], ['notifications', notification!.id]] };
    },
  },
  'POST /users/:userId/verifications/confirm': {
    async run(key) {
      const user = await insertUser(harness.env.db);
      const verification = await insertVerification(harness.env.db, user.id, 'email');
      const response = await post(`/users/${user.id}/verifications/confirm`, key, { contact: 'email', code: verification.code });
      return { response, written: [['users', user.id]] };
    },
  },
};

/**
 * POST routes that take a key but are not in WRITING_ROUTES, and why. A reminder run sends nothing
 * twice however often it runs (each due reminder is claimed once a period); a minted token is
 * never kept.
 */
const NOT_RECORDED_WITH_WRITES: Record<string, string> = {
  'POST /reminders/process': 'a run again sends nothing twice',
  'POST /users/:userId/tokens': 'writes nothing; its answer is never kept',
};

/** The transaction that last wrote a row. */
async function writerOf(table: string, where: string, value: unknown): Promise<string> {
  const [row] = await harness.env.db.query<Array<{ xmin: string }>>(`SELECT xmin::text AS xmin FROM ${table} WHERE ${where} = $1`, [value]);
  if (!row) throw new Error(`no ${table} row with ${where} ${String(value)}`);
  return row.xmin;
}

it('classifies every POST route behind an API key: its response recorded with its writes, or why not', () => {
  // The routes of the API's own (not the providers' webhooks, the operators' login, the unsubscribe links: no key).
  const keyed = routesOf(harness.api.app).filter((route) => route.startsWith('POST ') && !/^POST \/(webhooks|admin|unsubscribe)\b/.test(route));

  expect(keyed.filter((route) => !(route in WRITING_ROUTES) && !(route in NOT_RECORDED_WITH_WRITES))).toEqual([]);
});

describe.each(Object.entries(WRITING_ROUTES))('%s with an Idempotency-Key', (_route, route) => {
  it('records its response, as answered, in the transaction that wrote its rows', async () => {
    const key = randomUUID();

    const { response, written } = await route.run(key);
    const writers = await Promise.all(written.map(([table, id]) => writerOf(table, 'id', id)));
    const keyWriter = await writerOf('idempotency_keys', 'key', key);
    const [kept] = await harness.env.db.query<Array<{ response_status: number; response_body: string }>>(`SELECT response_status, response_body FROM idempotency_keys WHERE key = $1`, [key]);

    expect(response.status).toBeLessThan(300);
    expect(written.length).toBeGreaterThan(0);
    expect(writers).toEqual(written.map(() => keyWriter));
    expect(kept).toEqual({ response_status: response.status, response_body: response.text });
  });
});

it('a request whose key a retry took over (it ran past the abandoned-request timeout) commits nothing: one notification in all', async () => {
  const user = await insertUser(harness.env.db);
  const key = randomUUID();
  const body = { user_id: user.id, channel: 'email', message: 'Rappel' };
  // The first request's INSERT waits for this lock on its user, long enough to be taken for dead.
  const blocker = harness.env.db.createQueryRunner();
  await blocker.startTransaction();
  await blocker.query('SELECT id FROM users WHERE id = $1 FOR UPDATE', [user.id]);
  const [{ pid }] = (await blocker.query('SELECT pg_backend_pid() AS pid')) as [{ pid: number }];

  const first = post('/notifications/send', key, body).then((response) => response);
  await waitForBlockedBy(pid, 1);
  await harness.env.db.query(`UPDATE idempotency_keys SET created_at = now() - interval '61 seconds' WHERE key = $1`, [key]);
  const retry = post('/notifications/send', key, body).then((response) => response);
  await waitForBlockedBy(pid, 2);
  await blocker.commitTransaction();
  await blocker.release();
  const [slow, taken] = await Promise.all([first, retry]);

  expect(taken.status).toBe(202);
  expect(slow.status).toBe(409);
  expect(slow.body).toMatchObject({ type: '/problems/idempotent-request-in-flight' });
  expect(await harness.env.db.manager.findBy(Notification, { userId: user.id })).toEqual([expect.objectContaining({ id: taken.body.id })]);
  const replay = await post('/notifications/send', key, body).expect(202);
  expect(replay.headers['idempotent-replayed']).toBe('true');
  expect(replay.body).toEqual(taken.body);
});

/** Waits until `count` sessions wait on a lock that session `pid` holds. */
async function waitForBlockedBy(pid: number, count: number): Promise<void> {
  const deadline = Date.now() + 5000;
  while (Date.now() < deadline) {
    const [row] = await harness.env.db.query<Array<{ n: number }>>(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))`, [pid]);
    if (row!.n >= count) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`${count} sessions never waited on the lock`);
}
