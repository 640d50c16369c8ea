import { Notification, type Channel } from '@notofine/db';
import { insertTicket, insertUser } from '@test/factories';
import { In } from 'typeorm';
import { startApi, type ApiHarness } from './api-harness';
import { openDeliveryQueues, type DeliveryQueuesProbe } from './delivery-queues';
import { expectInvalidField, expectProblem } from './expectations';
import { insertReachableUser, UNKNOWN_ID } from './fixtures';

// POST /notifications/batch: up to a thousand sends in one request, all or none.

const CAP = 2;
let harness: ApiHarness;
let queues: DeliveryQueuesProbe;
beforeAll(async () => {
  harness = await startApi({ SMS_DAILY_CAP: String(CAP), DIGEST_WINDOW_MS: '60000', RATE_LIMIT: '100000/1s' });
  queues = openDeliveryQueues(harness.env);
});
afterAll(async () => {
  await queues.close();
  await harness.stop();
});

const batch = (notifications: unknown) => harness.client.post('/notifications/batch', { notifications });
const rowCount = () => harness.env.db.manager.count(Notification);

/** Asserts that a refused batch left no row and no job behind. */
async function expectNothingSent(rowsBefore: number, jobsBefore: string[]): Promise<void> {
  expect(await rowCount()).toBe(rowsBefore);
  expect(await queues.jobs()).toEqual(jobsBefore);
}

describe('POST /notifications/batch', () => {
  it('accepts a mixed batch with 202: each notification pending, in the order sent, its job on its channel\'s queue', async () => {
    const users = await Promise.all([insertReachableUser(harness.env.db), insertReachableUser(harness.env.db), insertReachableUser(harness.env.db)]);
    const ticket = await insertTicket(harness.env.db, users[0]!.id);
    const channels: Channel[] = ['email', 'sms', 'push', 'email', 'push', 'sms'];
    const items = channels.map((channel, i) => ({ user_id: users[i % 3]!.id, channel, message: `Rappel ${i}`, ...(i === 0 && { ticket_id: ticket.id, subject: 'Votre amende' }) }));

    const response = await batch(items);

    expect(response.status).toBe(202);
    expect(response.body.notifications).toHaveLength(items.length);
    response.body.notifications.forEach((notification: Record<string, unknown>, i: number) => {
      expect(notification).toMatchObject({ user_id: items[i]!.user_id, channel: items[i]!.channel, message: `Rappel ${i}`, status: 'pending', scheduled_at: null });
    });
    expect(response.body.notifications[0]).toMatchObject({ ticket_id: ticket.id, subject: 'Votre amende' });
    const ids: number[] = response.body.notifications.map((n: { id: number }) => n.id);
    const rows = await harness.env.db.manager.findBy(Notification, { id: In(ids) });
    expect(rows.map((row) => row.status)).toEqual(ids.map(() => 'pending'));
    for (const [i, id] of ids.entries()) {
      const job = await queues.job(channels[i]!, id);
      expect(job?.data).toEqual({ notificationId: id });
    }
  });

  it('takes a thousand notifications, a body past the single send\'s 100 kB limit', async () => {
    const user = await insertReachableUser(harness.env.db);
    const items = Array.from({ length: 1000 }, (_, i) => ({ user_id: user.id, channel: 'email', message: `Votre contravention n° ${i} est due : ${'x'.repeat(100)}` }));

    const response = await batch(items);

    expect(response.status).toBe(202);
    expect(response.body.notifications).toHaveLength(1000);
    expect(await harness.env.db.manager.countBy(Notification, { userId: user.id })).toBe(1000);
    expect((await queues.waiting()).email).toBeGreaterThanOrEqual(1000);
  });

  it.each([
    ['no list', {}, 'notifications'],
    ['an empty list', [], 'notifications'],
    ['an object for the list', { user_id: 1 }, 'notifications'],
    ['1,001 notifications', Array.from({ length: 1001 }, () => ({ user_id: 1, channel: 'email', message: 'x' })), 'notifications'],
    ['5,000 numbers', Array.from({ length: 5000 }, (_, i) => i), 'notifications'],
    ['a list for a notification', [{ user_id: 1, channel: 'email', message: 'x' }, [1, 2]], 'notifications[1]'],
    ['null for a notification', [null], 'notifications[0]'],
  ])('refuses %s with 400 naming the field', async (_case, notifications, field) => {
    const before = await rowCount();
    const response = await harness.client.post('/notifications/batch', Array.isArray(notifications) || field !== 'notifications' ? { notifications } : notifications);

    expectInvalidField(response, field);
    expect(response.body.errors.length).toBeLessThanOrEqual(2);
    expect(await rowCount()).toBe(before);
  });

  it('refuses the whole batch with 400 when some are invalid, naming each field of each one, and writes nothing', async () => {
    const user = await insertReachableUser(harness.env.db);
    const rows = await rowCount();
    const jobs = await queues.jobs();

    const response = await batch([
      { user_id: user.id, channel: 'email', message: 'Valide' },
      { user_id: user.id, channel: 'fax', message: 'Canal inconnu' },
      { user_id: user.id, channel: 'sms' },
      { user_id: user.id, channel: 'sms', message: 'Repli', fallback: ['sms'] },
      { user_id: user.id, channel: 'email', message: 'Champ en trop', status: 'sent' },
    ]);

    expectProblem(response, 400, 'validation-error');
    expect(response.body.errors.map((e: { field: string }) => e.field).sort()).toEqual(['notifications[1].channel', 'notifications[2].message', 'notifications[3].fallback', 'notifications[4].status']);
    await expectNothingSent(rows, jobs);
  });

  it('refuses the whole batch with 422 when some cannot be sent, saying why for each, and writes nothing', async () => {
    const user = await insertReachableUser(harness.env.db);
    const other = await insertUser(harness.env.db);
    const noPhone = await insertUser(harness.env.db, { phone: null });
    const othersTicket = await insertTicket(harness.env.db, other.id);
    const rows = await rowCount();
    const jobs = await queues.jobs();

    const response = await batch([
      { user_id: user.id, channel: 'email', message: 'Valide' },
      { user_id: UNKNOWN_ID, channel: 'email', message: 'Utilisateur inconnu' },
      { user_id: user.id, channel: 'email', message: 'Ticket d\'un autre', ticket_id: othersTicket.id },
      { user_id: noPhone.id, channel: 'sms', message: 'Pas de téléphone' },
      { user_id: user.id, channel: 'email', message: 'Ticket inconnu', ticket_id: UNKNOWN_ID },
    ]);

    expectProblem(response, 422, 'batch-refused');
    expect(response.body.detail).toContain('4 of the 5 notifications cannot be sent, so none was');
    expect(response.body.errors).toEqual([
      { field: 'notifications[1]', message: `User ${UNKNOWN_ID} does not exist` },
      { field: 'notifications[2].ticket_id', message: `ticket ${othersTicket.id} does not belong to user ${user.id}` },
      { field: 'notifications[3].channel', message: expect.stringContaining(`User ${noPhone.id} has no phone number`) },
      { field: 'notifications[4]', message: `Ticket ${UNKNOWN_ID} does not exist` },
    ]);
    await expectNothingSent(rows, jobs);
  });

  it('counts the batch\'s own SMS against the daily cap: past it, the whole batch is refused', async () => {
    const user = await insertUser(harness.env.db);
    const sms = (message: string) => ({ user_id: user.id, channel: 'sms', message });

    const refused = await batch([sms('1'), sms('2'), sms('3')]);
    const accepted = await batch([sms('1'), sms('2')]);
    const oneMore = await batch([sms('3')]);

    expectProblem(refused, 422, 'batch-refused');
    expect(refused.body.errors).toEqual([{ field: 'notifications[2]', message: expect.stringContaining(`User ${user.id} was sent ${CAP} SMS in the last 24 hours`) }]);
    expect(accepted.status).toBe(202);
    expectProblem(oneMore, 422, 'batch-refused');
    expect(await harness.env.db.manager.countBy(Notification, { userId: user.id })).toBe(CAP);
  });

  it('gathers a digest\'s members within the batch and with those already pending: one send time for all', async () => {
    const user = await insertReachableUser(harness.env.db);
    const member = (message: string) => ({ user_id: user.id, channel: 'email', message, digest_key: 'tickets' });
    const first = await harness.client.post('/notifications/send', member('Avant')).expect(202);

    const response = await batch([member('Un'), { user_id: user.id, channel: 'email', message: 'Hors digest' }, member('Deux')]);

    expect(response.status).toBe(202);
    const [one, alone, two] = response.body.notifications;
    expect(first.body.scheduled_at).not.toBeNull();
    expect(one.scheduled_at).toBe(first.body.scheduled_at);
    expect(two.scheduled_at).toBe(first.body.scheduled_at);
    expect(alone.scheduled_at).toBeNull();
  });

  it('replays the first answer for the same Idempotency-Key and body, and writes the batch once', async () => {
    const user = await insertReachableUser(harness.env.db);
    const body = { notifications: [{ user_id: user.id, channel: 'email', message: 'Une fois' }, { user_id: user.id, channel: 'push', message: 'Une fois' }] };
    const send = () => harness.client.post('/notifications/batch', body).set('Idempotency-Key', `batch-${user.id}`);

    const first = await send();
    const replay = await send();

    expect(first.status).toBe(202);
    expect(replay.status).toBe(202);
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(replay.body).toEqual(first.body);
    expect(await harness.env.db.manager.countBy(Notification, { userId: user.id })).toBe(2);
  });

  it('is refused to a user token (sending is the backend\'s)', async () => {
    const user = await insertReachableUser(harness.env.db);
    const { body: minted } = await harness.client.post(`/users/${user.id}/tokens`, {}).expect(201);

    const response = await harness.client.post('/notifications/batch', { notifications: [{ user_id: user.id, channel: 'email', message: 'x' }] }).set('Authorization', `Bearer ${minted.token}`);

    expectProblem(response, 403);
    expect(await harness.env.db.manager.countBy(Notification, { userId: user.id })).toBe(0);
  });
});
