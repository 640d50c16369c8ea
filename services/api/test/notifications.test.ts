import request from 'supertest';
import { CHANNELS, Notification, insertPendingNotifications, type Channel } from '@notofine/db';
import { DELIVERY_JOB } from '@notofine/queue';
import { insertDevice, insertTicket, insertUser } from '@test/factories';
import { startApi, type ApiHarness } from './api-harness';
import { openDeliveryQueues, type DeliveryQueuesProbe } from './delivery-queues';
import { expectInvalidField, expectProblem, expectSnakeCaseKeys } from './expectations';
import { insertReachableUser, MALFORMED_IDS, UNKNOWN_ID } from './fixtures';

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

/** The seed's `POST /notifications/send` body, for a real user and ticket. */
function seedSendBody(userId: number, ticketId: number, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return { user_id: userId, message: 'Votre contravention est due', channel: 'email', subject: 'Rappel de paiement', ticket_id: ticketId, ...overrides };
}

const countNotifications = (userId: number): Promise<number> => harness.env.db.manager.countBy(Notification, { userId });

describe('POST /notifications/send', () => {
  it('accepts the seed request with 202 and the pending notification, and queues a job that carries only its id', async () => {
    const user = await insertReachableUser(harness.env.db);
    const ticket = await insertTicket(harness.env.db, user.id);

    const response = await harness.client.post('/notifications/send', seedSendBody(user.id, ticket.id));

    expect(response.status).toBe(202);
    expect(response.headers.location).toBe(`/notifications/${response.body.id}`);
    expect(response.body).toEqual({
      id: expect.any(Number),
      user_id: user.id,
      ticket_id: ticket.id,
      reminder_id: null,
      channel: 'email',
      message: 'Votre contravention est due',
      subject: 'Rappel de paiement',
      status: 'pending',
      error_message: null,
      attempts: 0,
      provider: null,
      provider_message_id: null,
      sent_at: null,
      delivery_status: null,
      delivery_status_at: null,
      delivery_error: null,
      scheduled_at: null,
      urgent: false,
      critical: false,
      digest_key: null,
      template: null,
      fallback_channels: [],
      fallback_from_id: null,
      fallback_to_id: null,
      skipped_channels: [],
      created_at: expect.any(String),
      updated_at: expect.any(String),
    });
    expectSnakeCaseKeys(response.body);
    const job = await queues.job('email', response.body.id);
    expect(job).toBeDefined();
    expect(job!.id).toBe(`notification-${response.body.id}`);
    expect(job!.name).toBe(DELIVERY_JOB);
    expect(job!.data).toEqual({ notificationId: response.body.id });
    expect(await harness.env.db.manager.findOneByOrFail(Notification, { id: response.body.id })).toMatchObject({ status: 'pending', ticketId: ticket.id });
  });

  it.each(['sms', 'push'] as const)('queues a %s notification on the %s queue only', async (channel) => {
    const user = await insertReachableUser(harness.env.db);

    const response = await harness.client.post('/notifications/send', { user_id: user.id, message: 'Votre contravention est due', channel });

    expect(response.status).toBe(202);
    expect(response.body).toMatchObject({ channel, subject: null, ticket_id: null });
    for (const other of CHANNELS) {
      const job = await queues.job(other, response.body.id);
      if (other === channel) expect(job?.data).toEqual({ notificationId: response.body.id });
      else expect(job).toBeUndefined();
    }
  });

  it.each([
    ['a message of exactly 1600 characters', 'm'.repeat(1600)],
    ['a message of 1600 emoji (characters, not UTF-16 units)', '🚗'.repeat(1600)],
  ])('accepts %s', async (_case, message) => {
    const user = await insertReachableUser(harness.env.db);

    const response = await harness.client.post('/notifications/send', { user_id: user.id, message, channel: 'email' });

    expect(response.status).toBe(202);
    expect(response.body.message).toBe(message);
  });

  it.each([
    ['an unknown channel', { channel: 'fax' }, 'channel'],
    ['a missing channel', { channel: undefined }, 'channel'],
    ['an empty message', { message: '' }, 'message'],
    ['a blank message', { message: ' \n\t ' }, 'message'],
    ['a message of 1601 characters', { message: 'm'.repeat(1601) }, 'message'],
    ['a missing message', { message: undefined }, 'message'],
    ['a subject of 201 characters', { subject: 's'.repeat(201) }, 'subject'],
    ['a user_id written as a string', { user_id: '1' }, 'user_id'],
    ['a user_id beyond the largest id', { user_id: 1e20 }, 'user_id'],
    ['a ticket_id beyond the largest id', { ticket_id: 1e19 }, 'ticket_id'],
    ['a ticket_id of 0', { ticket_id: 0 }, 'ticket_id'],
    ['an unknown field', { priority: 'high' }, 'priority'],
  ])('refuses %s with 400 naming the field', async (_case, overrides, field) => {
    const user = await insertReachableUser(harness.env.db);
    const ticket = await insertTicket(harness.env.db, user.id);

    const response = await harness.client.post('/notifications/send', seedSendBody(user.id, ticket.id, overrides));

    expectInvalidField(response, field);
    expect(await countNotifications(user.id)).toBe(0);
  });

  it('answers 404 for an unknown user', async () => {
    const response = await harness.client.post('/notifications/send', { user_id: UNKNOWN_ID, message: 'Votre contravention est due', channel: 'email' });

    expectProblem(response, 404, 'not-found');
    expect(response.body.detail).toContain(String(UNKNOWN_ID));
  });

  it('answers 404 for an unknown ticket', async () => {
    const user = await insertReachableUser(harness.env.db);

    const response = await harness.client.post('/notifications/send', seedSendBody(user.id, UNKNOWN_ID));

    expectProblem(response, 404, 'not-found');
    expect(await countNotifications(user.id)).toBe(0);
  });

  it("refuses another user's ticket with 422 naming ticket_id", async () => {
    const user = await insertReachableUser(harness.env.db);
    const othersTicket = await insertTicket(harness.env.db, (await insertUser(harness.env.db)).id);

    const response = await harness.client.post('/notifications/send', seedSendBody(user.id, othersTicket.id));

    expectProblem(response, 422, 'ticket-of-another-user');
    expect(response.body.errors).toEqual([{ field: 'ticket_id', message: expect.any(String) }]);
    expect(await countNotifications(user.id)).toBe(0);
  });

  it.each([
    ['sms to a user without a phone', 'sms', { phone: null }, false, /no phone number/],
    ['email to a user without an email address', 'email', { email: null }, false, /no email address/],
    ['push to a user without a device', 'push', {}, false, /no active push device/],
    ['push to a user whose only device is disabled', 'push', {}, true, /no active push device/],
  ] as const)('refuses %s with 422 naming the channel', async (_case, channel, userOverrides, disabledDevice, reason) => {
    const user = await insertUser(harness.env.db, userOverrides);
    if (disabledDevice) await insertDevice(harness.env.db, user.id, { disabledAt: new Date() });

    const response = await harness.client.post('/notifications/send', { user_id: user.id, message: 'Votre contravention est due', channel });

    expectProblem(response, 422, 'channel-unreachable');
    expect(response.body.errors).toEqual([{ field: 'channel', message: expect.stringMatching(reason) }]);
    expect(response.body.detail).toMatch(reason);
    expect(await countNotifications(user.id)).toBe(0);
  });

  it('refuses a channel the user turned off in their preferences with 422', async () => {
    const user = await insertReachableUser(harness.env.db);
    await harness.client.put(`/users/${user.id}/preferences`, { channels: { sms: false } }).expect(200);

    const response = await harness.client.post('/notifications/send', { user_id: user.id, message: 'Votre contravention est due', channel: 'sms' });

    expectProblem(response, 422, 'channel-disabled');
    expect(response.body.errors).toEqual([{ field: 'channel', message: expect.stringContaining('sms') }]);
    expect(await countNotifications(user.id)).toBe(0);
  });

  it('answers 401 without an API key and queues nothing', async () => {
    const user = await insertReachableUser(harness.env.db);

    const response = await request(harness.api.app).post('/notifications/send').send({ user_id: user.id, message: 'Votre contravention est due', channel: 'email' });

    expectProblem(response, 401, 'unauthorized');
    expect(await countNotifications(user.id)).toBe(0);
  });
});

describe('POST /tickets/{id}/notify', () => {
  it("notifies the ticket's owner on each channel they can be reached on, and says why the others were skipped", async () => {
    const user = await insertUser(harness.env.db);
    const ticket = await insertTicket(harness.env.db, user.id);

    const response = await harness.client.post(`/tickets/${ticket.id}/notify`, { message: 'Votre contravention #ABC123 est due', subject: 'Rappel de paiement' });

    expect(response.status).toBe(202);
    const [email, sms] = response.body.notifications as Array<{ id: number; channel: Channel }>;
    expect(response.body).toEqual({
      ticket_id: ticket.id,
      user_id: user.id,
      channels: {
        email: { status: 'pending', notification_id: email!.id },
        sms: { status: 'pending', notification_id: sms!.id },
        push: { status: 'skipped', reason: 'the user has no active push device' },
      },
      notifications: [
        expect.objectContaining({ channel: 'email', ticket_id: ticket.id, status: 'pending', message: 'Votre contravention #ABC123 est due', subject: 'Rappel de paiement' }),
        expect.objectContaining({ channel: 'sms', ticket_id: ticket.id, status: 'pending' }),
      ],
    });
    expectSnakeCaseKeys(response.body);
    expect((await queues.job('email', email!.id))?.data).toEqual({ notificationId: email!.id });
    expect((await queues.job('sms', sms!.id))?.data).toEqual({ notificationId: sms!.id });
    expect(await countNotifications(user.id)).toBe(2);
  });

  it('skips the channels the owner turned off', async () => {
    const user = await insertReachableUser(harness.env.db);
    const ticket = await insertTicket(harness.env.db, user.id);
    await harness.client.put(`/users/${user.id}/preferences`, { channels: { email: false } }).expect(200);

    const response = await harness.client.post(`/tickets/${ticket.id}/notify`, { message: 'Votre contravention est due' });

    expect(response.status).toBe(202);
    expect(response.body.channels).toEqual({
      email: { status: 'skipped', reason: 'the user turned email off' },
      sms: { status: 'pending', notification_id: expect.any(Number) },
      push: { status: 'pending', notification_id: expect.any(Number) },
    });
    expect(response.body.notifications.map((n: { channel: Channel }) => n.channel)).toEqual(['sms', 'push']);
  });

  it('answers 422 when no channel reaches the owner, and creates nothing', async () => {
    const user = await insertUser(harness.env.db, { email: null, phone: null });
    const ticket = await insertTicket(harness.env.db, user.id);

    const response = await harness.client.post(`/tickets/${ticket.id}/notify`, { message: 'Votre contravention est due' });

    expectProblem(response, 422, 'no-reachable-channel');
    expect(response.body.detail).toMatch(/email: .*sms: .*push: /);
    expect(await countNotifications(user.id)).toBe(0);
  });

  it('answers 422 when the owner turned off every channel they can be reached on', async () => {
    const user = await insertUser(harness.env.db, { phone: null });
    const ticket = await insertTicket(harness.env.db, user.id);
    await harness.client.put(`/users/${user.id}/preferences`, { channels: { email: false } }).expect(200);

    const response = await harness.client.post(`/tickets/${ticket.id}/notify`, { message: 'Votre contravention est due' });

    expectProblem(response, 422, 'no-reachable-channel');
  });

  it.each([
    ['a missing message', {}, 'message'],
    ['an empty message', { message: '' }, 'message'],
    ['a blank message', { message: '   ' }, 'message'],
    ['a message of 1601 characters', { message: 'm'.repeat(1601) }, 'message'],
    ['a subject of 201 characters', { message: 'Votre contravention est due', subject: 's'.repeat(201) }, 'subject'],
    ['an unknown field', { message: 'Votre contravention est due', channel: 'email' }, 'channel'],
  ])('refuses %s with 400 naming the field', async (_case, body, field) => {
    const user = await insertReachableUser(harness.env.db);
    const ticket = await insertTicket(harness.env.db, user.id);

    const response = await harness.client.post(`/tickets/${ticket.id}/notify`, body);

    expectInvalidField(response, field);
    expect(await countNotifications(user.id)).toBe(0);
  });

  it('answers 404 for an unknown ticket', async () => {
    expectProblem(await harness.client.post(`/tickets/${UNKNOWN_ID}/notify`, { message: 'Votre contravention est due' }), 404, 'not-found');
  });

  it.each(MALFORMED_IDS)('refuses %s as ticket id with 400 naming path.ticket_id', async (_label, id) => {
    expectInvalidField(await harness.client.post(`/tickets/${id}/notify`, { message: 'Votre contravention est due' }), 'path.ticket_id');
  });

  it('answers 401 without an API key', async () => {
    const ticket = await insertTicket(harness.env.db, (await insertReachableUser(harness.env.db)).id);

    const response = await request(harness.api.app).post(`/tickets/${ticket.id}/notify`).send({ message: 'Votre contravention est due' });

    expectProblem(response, 401, 'unauthorized');
  });
});

describe('GET /notifications/{id}', () => {
  it('answers the notification with its status, error, attempts and sending time', async () => {
    const user = await insertReachableUser(harness.env.db);
    const sent = await harness.client.post('/notifications/send', { user_id: user.id, message: 'Votre contravention est due', channel: 'sms' });
    await harness.env.db.query(`UPDATE notifications SET status = 'failed', attempts = 5, error_message = 'invalid number' WHERE id = $1`, [sent.body.id]);

    const response = await harness.client.get(`/notifications/${sent.body.id}`);

    expect(response.status).toBe(200);
    expect(response.body).toEqual({
      ...sent.body,
      status: 'failed',
      attempts: 5,
      error_message: 'invalid number',
      updated_at: expect.any(String),
    });
    expectSnakeCaseKeys(response.body);
  });

  it('answers 404 for an unknown notification', async () => {
    expectProblem(await harness.client.get(`/notifications/${UNKNOWN_ID}`), 404, 'not-found');
  });

  it.each(MALFORMED_IDS)('refuses %s as notification id with 400 naming path.notification_id', async (_label, id) => {
    expectInvalidField(await harness.client.get(`/notifications/${id}`), 'path.notification_id');
  });

  it('answers 401 without an API key', async () => {
    expectProblem(await request(harness.api.app).get('/notifications/1'), 401, 'unauthorized');
  });
});

describe('GET /users/{id}/notifications', () => {
  interface Page {
    notifications: Array<{ id: number; status: string }>;
    next_cursor: string | null;
  }

  /** 25 notifications: 15 sent one by one through the API, then 10 written in one statement (the same created_at). */
  async function userWith25Notifications(): Promise<{ userId: number; newestFirst: number[] }> {
    const user = await insertReachableUser(harness.env.db);
    for (let i = 0; i < 15; i += 1) {
      await harness.client.post('/notifications/send', { user_id: user.id, message: `Message ${i}`, channel: CHANNELS[i % 3] }).expect(202);
    }
    await insertPendingNotifications(
      harness.env.db.manager,
      Array.from({ length: 10 }, (_, i) => ({ userId: user.id, channel: 'email' as const, message: `Lot ${i}`, subject: null, ticketId: null, reminderId: null })),
    );
    const rows: Array<{ id: number }> = await harness.env.db.query('SELECT id FROM notifications WHERE user_id = $1 ORDER BY created_at DESC, id DESC', [user.id]);
    return { userId: user.id, newestFirst: rows.map((row) => row.id) };
  }

  it('answers the newest first, 10 by default, with a cursor for the next page', async () => {
    const { userId, newestFirst } = await userWith25Notifications();

    const response = await harness.client.get(`/users/${userId}/notifications`);

    expect(response.status).toBe(200);
    expect(response.body.notifications.map((n: { id: number }) => n.id)).toEqual(newestFirst.slice(0, 10));
    expect(response.body.next_cursor).toEqual(expect.any(String));
    expectSnakeCaseKeys(response.body);
  });

  it('walks every page with next_cursor: each notification exactly once, in order, and no cursor after the last page', async () => {
    const { userId, newestFirst } = await userWith25Notifications();
    const seen: number[] = [];
    const pageSizes: number[] = [];

    let cursor: string | null = null;
    do {
      const query: string = cursor === null ? '?limit=4' : `?limit=4&cursor=${encodeURIComponent(cursor)}`;
      const response = await harness.client.get(`/users/${userId}/notifications${query}`);
      expect(response.status).toBe(200);
      const page = response.body as Page;
      seen.push(...page.notifications.map((n) => n.id));
      pageSizes.push(page.notifications.length);
      cursor = page.next_cursor;
    } while (cursor !== null && pageSizes.length < 20);

    expect(seen).toEqual(newestFirst);
    expect(new Set(seen).size).toBe(25);
    expect(pageSizes).toEqual([4, 4, 4, 4, 4, 4, 1]);
  });

  it('answers a single page without a cursor when everything fits', async () => {
    const user = await insertReachableUser(harness.env.db);
    const sent = await harness.client.post('/notifications/send', { user_id: user.id, message: 'Seul', channel: 'email' });

    const response = await harness.client.get(`/users/${user.id}/notifications?limit=100`);

    expect(response.body).toEqual({ notifications: [expect.objectContaining({ id: sent.body.id })], next_cursor: null });
  });

  it('filters by status', async () => {
    const { userId, newestFirst } = await userWith25Notifications();
    const sentIds = [newestFirst[1]!, newestFirst[7]!, newestFirst[20]!];
    await harness.env.db.query(`UPDATE notifications SET status = 'sent', sent_at = now() WHERE id = ANY($1::bigint[])`, [sentIds]);

    const sent = await harness.client.get(`/users/${userId}/notifications?status=sent`);
    const failed = await harness.client.get(`/users/${userId}/notifications?status=failed`);
    const pending = await harness.client.get(`/users/${userId}/notifications?status=pending&limit=100`);

    expect(sent.body.notifications.map((n: { id: number }) => n.id)).toEqual(sentIds);
    expect(sent.body.notifications.every((n: { status: string }) => n.status === 'sent')).toBe(true);
    expect(failed.body).toEqual({ notifications: [], next_cursor: null });
    expect(pending.body.notifications).toHaveLength(22);
  });

  it('accepts limit 1 and limit 100, the bounds', async () => {
    const { userId, newestFirst } = await userWith25Notifications();

    const one = await harness.client.get(`/users/${userId}/notifications?limit=1`);
    const hundred = await harness.client.get(`/users/${userId}/notifications?limit=100`);

    expect(one.body.notifications.map((n: { id: number }) => n.id)).toEqual([newestFirst[0]]);
    expect(hundred.body.notifications).toHaveLength(25);
    expect(hundred.body.next_cursor).toBeNull();
  });

  it.each([
    ['limit 0', 'limit=0'],
    ['limit 101', 'limit=101'],
    ['limit "abc"', 'limit=abc'],
    ['a negative limit', 'limit=-1'],
    ['a decimal limit', 'limit=2.5'],
    ['an empty limit', 'limit='],
    ['a limit given twice', 'limit=5&limit=6'],
  ])('refuses %s with 400 naming query.limit', async (_case, query) => {
    const user = await insertUser(harness.env.db);

    expectInvalidField(await harness.client.get(`/users/${user.id}/notifications?${query}`), 'query.limit');
  });

  const forge = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');
  it.each([
    ['a cursor that is not base64 JSON', 'not-a-cursor'],
    ['an empty cursor', ''],
    ['a cursor holding an object', forge({ created_at: '2026-11-01T00:00:00.000Z', id: 3 })],
    ['a cursor with a date that is not one', forge(['yesterday', 3])],
    ['a cursor with a negative id', forge(['2026-11-01T00:00:00.000Z', -3])],
    ['a cursor with a date beyond what PostgreSQL stores', forge(['-271821-04-20T00:00:00.000Z', 3])],
  ])('refuses %s with 400 naming query.cursor', async (_case, cursor) => {
    const user = await insertUser(harness.env.db);

    const response = await harness.client.get(`/users/${user.id}/notifications?cursor=${encodeURIComponent(cursor)}`);

    expectInvalidField(response, 'query.cursor');
  });

  it('refuses an unknown status with 400 naming query.status', async () => {
    const user = await insertUser(harness.env.db);

    expectInvalidField(await harness.client.get(`/users/${user.id}/notifications?status=delivered`), 'query.status');
  });

  it('answers 404 for an unknown user', async () => {
    expectProblem(await harness.client.get(`/users/${UNKNOWN_ID}/notifications`), 404, 'not-found');
  });

  it.each(MALFORMED_IDS)('refuses %s as user id with 400', async (_label, id) => {
    expectInvalidField(await harness.client.get(`/users/${id}/notifications`), 'path.user_id');
  });

  it('answers 401 without an API key', async () => {
    const user = await insertUser(harness.env.db);

    expectProblem(await request(harness.api.app).get(`/users/${user.id}/notifications`), 401, 'unauthorized');
  });
});
