import request from 'supertest';
import { LIMITS, Notification, Reminder, ReminderChannel } from '@notofine/db';
import { buildReminderBody, insertDevice, insertReminder, insertTicket, insertUser } from '@test/factories';
import { startApi, type ApiHarness } from './api-harness';
import { openDeliveryQueues, type DeliveryQueuesProbe } from './delivery-queues';
import { expectInvalidField, expectProblem, expectSnakeCaseKeys } from './expectations';
import { insertReachableUser, MALFORMED_IDS, UNKNOWN_ID } from './fixtures';

const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;

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

describe('POST /users/{id}/reminders', () => {
  it('creates the seed reminder with its channels, due at once', async () => {
    const user = await insertReachableUser(harness.env.db);

    const response = await harness.client.post(`/users/${user.id}/reminders`, buildReminderBody({ frequency_days: 7, channels: ['email', 'sms', 'push'] }));

    expect(response.status).toBe(201);
    expect(response.headers.location).toBe(`/reminders/${response.body.id}`);
    expect(response.body).toEqual({
      id: expect.any(Number),
      user_id: user.id,
      frequency_days: 7,
      active: true,
      message: null,
      subject: null,
      channels: [
        { channel: 'email', enabled: true },
        { channel: 'sms', enabled: true },
        { channel: 'push', enabled: true },
      ],
      next_run_at: expect.any(String),
      last_run_at: null,
      ticket_id: null,
      end_at: null,
      created_at: expect.any(String),
      updated_at: expect.any(String),
    });
    expectSnakeCaseKeys(response.body);
    expect(new Date(response.body.next_run_at).getTime()).toBeLessThanOrEqual(Date.now());
    expect(await harness.env.db.manager.countBy(ReminderChannel, { reminderId: response.body.id, enabled: true })).toBe(3);
  });

  it('keeps its own message and subject, lists channels in the order email, sms, push, and may start inactive', async () => {
    const user = await insertReachableUser(harness.env.db);

    const response = await harness.client.post(
      `/users/${user.id}/reminders`,
      buildReminderBody({ channels: ['push', 'email'], message: 'Pensez à régler vos contraventions', subject: 'Rappel', active: false }),
    );

    expect(response.status).toBe(201);
    expect(response.body).toMatchObject({
      message: 'Pensez à régler vos contraventions',
      subject: 'Rappel',
      active: false,
      channels: [
        { channel: 'email', enabled: true },
        { channel: 'push', enabled: true },
      ],
    });
  });

  it.each([
    ['frequency_days 0', { frequency_days: 0 }, 'frequency_days'],
    ['frequency_days 366', { frequency_days: 366 }, 'frequency_days'],
    ['frequency_days 7.5', { frequency_days: 7.5 }, 'frequency_days'],
    ['frequency_days "7" (a string)', { frequency_days: '7' }, 'frequency_days'],
    ['a missing frequency_days', { frequency_days: undefined }, 'frequency_days'],
    ['an empty channel list', { channels: [] }, 'channels'],
    ['a channel listed twice', { channels: ['email', 'email'] }, 'channels'],
    ['an unknown channel', { channels: ['email', 'fax'] }, 'channels'],
    ['a channel that is not a list', { channels: 'email' }, 'channels'],
    ['a missing channel list', { channels: undefined }, 'channels'],
    ['a blank message', { message: '   ' }, 'message'],
    ['a message of 1601 characters', { message: 'm'.repeat(1601) }, 'message'],
    ['a subject of 201 characters', { subject: 's'.repeat(201) }, 'subject'],
    ['a subject of 200 characters plus a variation selector', { subject: `${'s'.repeat(200)}\uFE0F` }, 'subject'],
    ['active: null', { active: null }, 'active'],
    ['an unknown field', { cron: '0 9 * * *' }, 'cron'],
  ])('refuses %s with 400 naming the field', async (_case, overrides, field) => {
    const user = await insertReachableUser(harness.env.db);

    const response = await harness.client.post(`/users/${user.id}/reminders`, buildReminderBody(overrides));

    expectInvalidField(response, field);
    expect(await harness.env.db.manager.countBy(Reminder, { userId: user.id })).toBe(0);
  });

  it('accepts frequency_days 1 and 365, the bounds', async () => {
    const user = await insertReachableUser(harness.env.db);

    const daily = await harness.client.post(`/users/${user.id}/reminders`, buildReminderBody({ frequency_days: 1 }));
    const yearly = await harness.client.post(`/users/${user.id}/reminders`, buildReminderBody({ frequency_days: 365 }));

    expect([daily.status, yearly.status]).toEqual([201, 201]);
  });

  it('refuses sms for a user without a phone with 422 naming the channel', async () => {
    const user = await insertUser(harness.env.db, { phone: null });
    await insertDevice(harness.env.db, user.id);

    const response = await harness.client.post(`/users/${user.id}/reminders`, buildReminderBody({ channels: ['email', 'sms', 'push'] }));

    expectProblem(response, 422, 'channel-unreachable');
    expect(response.body.errors).toEqual([{ field: 'channels[1]', message: expect.stringContaining('sms') }]);
    expect(response.body.detail).toMatch(/sms: the user has no phone number/);
    expect(await harness.env.db.manager.countBy(Reminder, { userId: user.id })).toBe(0);
  });

  it('refuses push for a user whose only device is disabled, and email for a user without an address, naming both', async () => {
    const user = await insertUser(harness.env.db, { email: null });
    await insertDevice(harness.env.db, user.id, { disabledAt: new Date() });

    const response = await harness.client.post(`/users/${user.id}/reminders`, buildReminderBody({ channels: ['email', 'sms', 'push'] }));

    expectProblem(response, 422, 'channel-unreachable');
    expect(response.body.errors).toEqual([
      { field: 'channels[0]', message: expect.stringContaining('email') },
      { field: 'channels[2]', message: expect.stringContaining('push') },
    ]);
  });

  it('answers 404 for an unknown user', async () => {
    expectProblem(await harness.client.post(`/users/${UNKNOWN_ID}/reminders`, buildReminderBody()), 404, 'not-found');
  });

  it(`refuses a reminder past ${LIMITS.remindersPerUser} for one user with 422, and writes nothing; other users are not counted`, async () => {
    const user = await insertReachableUser(harness.env.db);
    const other = await insertReachableUser(harness.env.db);
    for (let i = 0; i < LIMITS.remindersPerUser - 1; i++) await insertReminder(harness.env.db, user.id, ['email']);
    await insertReminder(harness.env.db, other.id, ['email']);

    await harness.client.post(`/users/${user.id}/reminders`, buildReminderBody()).expect(201);
    const refused = await harness.client.post(`/users/${user.id}/reminders`, buildReminderBody());

    expectProblem(refused, 422, 'too-many-reminders');
    expect(refused.body.detail).toContain(`already has ${LIMITS.remindersPerUser} reminders`);
    expect(await harness.env.db.manager.countBy(Reminder, { userId: user.id })).toBe(LIMITS.remindersPerUser);
    await harness.client.post(`/users/${other.id}/reminders`, buildReminderBody()).expect(201);
  });

  it('holds the reminder cap against concurrent creations', async () => {
    const user = await insertReachableUser(harness.env.db);
    for (let i = 0; i < LIMITS.remindersPerUser - 2; i++) await insertReminder(harness.env.db, user.id, ['email']);

    const statuses = (await Promise.all(Array.from({ length: 5 }, () => harness.client.post(`/users/${user.id}/reminders`, buildReminderBody())))).map((r) => r.status).sort();

    expect(statuses).toEqual([201, 201, 422, 422, 422]);
    expect(await harness.env.db.manager.countBy(Reminder, { userId: user.id })).toBe(LIMITS.remindersPerUser);
  });

  it.each(MALFORMED_IDS)('refuses %s as user id with 400', async (_label, id) => {
    expectInvalidField(await harness.client.post(`/users/${id}/reminders`, buildReminderBody()), 'path.user_id');
  });
});

describe('reminders that end: end_at', () => {
  it('keeps an end_at given with its offset, changes it with PATCH and removes it with null', async () => {
    const user = await insertReachableUser(harness.env.db);
    const endAt = new Date(Date.now() + 30 * DAY_MS);
    const later = new Date(Date.now() + 60 * DAY_MS);

    const created = await harness.client.post(`/users/${user.id}/reminders`, buildReminderBody({ end_at: endAt.toISOString() })).expect(201);
    const moved = await harness.client.patch(`/reminders/${created.body.id}`, { end_at: later.toISOString().replace('Z', '+00:00') }).expect(200);
    const removed = await harness.client.patch(`/reminders/${created.body.id}`, { end_at: null }).expect(200);

    expect(created.body.end_at).toBe(endAt.toISOString());
    expect(moved.body.end_at).toBe(later.toISOString());
    expect(removed.body.end_at).toBeNull();
  });

  it.each([
    ['without an offset', '2099-12-31T23:59:00', 'must be a date-time with its offset, such as 2026-12-31T23:59:00+01:00'],
    ['that is not a date', 'next month', 'must be a date-time with its offset, such as 2026-12-31T23:59:00+01:00'],
    ['in the past', '2020-01-01T00:00:00Z', 'must be in the future: to stop the reminder now, send "active": false'],
  ])('refuses an end_at %s with 400, on creation and on change, and writes nothing', async (_case, endAt, message) => {
    const user = await insertReachableUser(harness.env.db);
    const reminder = await insertReminder(harness.env.db, user.id, ['email']);

    const created = await harness.client.post(`/users/${user.id}/reminders`, buildReminderBody({ end_at: endAt }));
    const patched = await harness.client.patch(`/reminders/${reminder.id}`, { end_at: endAt });

    for (const response of [created, patched]) {
      expectInvalidField(response, 'end_at');
      expect(response.body.errors).toEqual([{ field: 'end_at', message }]);
    }
    expect(await harness.env.db.manager.countBy(Reminder, { userId: user.id })).toBe(1);
    expect((await harness.env.db.manager.findOneByOrFail(Reminder, { id: reminder.id })).endAt).toBeNull();
  });
});

describe('GET /users/{id}/reminders', () => {
  it("lists the user's reminders with their channels, disabled ones included", async () => {
    const user = await insertReachableUser(harness.env.db);
    const weekly = await insertReminder(harness.env.db, user.id, ['email'], {}, ['sms']);
    const monthly = await insertReminder(harness.env.db, user.id, ['push'], { frequencyDays: 30, message: 'Rappel mensuel' });
    await insertReminder(harness.env.db, (await insertReachableUser(harness.env.db)).id, ['email']);

    const response = await harness.client.get(`/users/${user.id}/reminders`);

    expect(response.status).toBe(200);
    expect(response.body.reminders).toEqual([
      expect.objectContaining({ id: weekly.id, frequency_days: 7, channels: [{ channel: 'email', enabled: true }, { channel: 'sms', enabled: false }] }),
      expect.objectContaining({ id: monthly.id, frequency_days: 30, message: 'Rappel mensuel', channels: [{ channel: 'push', enabled: true }] }),
    ]);
    expectSnakeCaseKeys(response.body);
  });

  it('answers an empty list for a user without reminders', async () => {
    const user = await insertUser(harness.env.db);

    expect((await harness.client.get(`/users/${user.id}/reminders`)).body).toEqual({ reminders: [] });
  });

  it('answers 404 for an unknown user', async () => {
    expectProblem(await harness.client.get(`/users/${UNKNOWN_ID}/reminders`), 404, 'not-found');
  });
});

describe('GET /reminders/{id}', () => {
  it('answers the reminder with its channels', async () => {
    const user = await insertReachableUser(harness.env.db);
    const reminder = await insertReminder(harness.env.db, user.id, ['sms']);

    const response = await harness.client.get(`/reminders/${reminder.id}`);

    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({ id: reminder.id, user_id: user.id, channels: [{ channel: 'sms', enabled: true }] });
  });

  it('answers 404 for an unknown reminder', async () => {
    expectProblem(await harness.client.get(`/reminders/${UNKNOWN_ID}`), 404, 'not-found');
  });

  it.each(MALFORMED_IDS)('refuses %s as reminder id with 400 naming path.reminder_id', async (_label, id) => {
    expectInvalidField(await harness.client.get(`/reminders/${id}`), 'path.reminder_id');
  });
});

describe('PATCH /reminders/{id}', () => {
  it('makes the channels exactly those sent: the ones left out come back disabled', async () => {
    const user = await insertReachableUser(harness.env.db);
    const reminder = await insertReminder(harness.env.db, user.id, ['email', 'sms', 'push']);

    const response = await harness.client.patch(`/reminders/${reminder.id}`, { channels: ['sms'] });

    expect(response.status).toBe(200);
    expect(response.body.channels).toEqual([
      { channel: 'email', enabled: false },
      { channel: 'sms', enabled: true },
      { channel: 'push', enabled: false },
    ]);
    expect(await harness.env.db.manager.countBy(ReminderChannel, { reminderId: reminder.id, enabled: true })).toBe(1);
  });

  it('enables a channel the reminder did not have and re-enables a disabled one', async () => {
    const user = await insertReachableUser(harness.env.db);
    const reminder = await insertReminder(harness.env.db, user.id, ['email'], {}, ['sms']);

    const response = await harness.client.patch(`/reminders/${reminder.id}`, { channels: ['sms', 'push'] });

    expect(response.body.channels).toEqual([
      { channel: 'email', enabled: false },
      { channel: 'sms', enabled: true },
      { channel: 'push', enabled: true },
    ]);
  });

  it('changes the frequency, counting the next run from the last one', async () => {
    const user = await insertReachableUser(harness.env.db);
    const lastRunAt = new Date(Date.now() - 10 * DAY_MS);
    const reminder = await insertReminder(harness.env.db, user.id, ['email'], { frequencyDays: 14, lastRunAt, nextRunAt: new Date(lastRunAt.getTime() + 14 * DAY_MS) });

    const response = await harness.client.patch(`/reminders/${reminder.id}`, { frequency_days: 30 });

    expect(response.status).toBe(200);
    expect(response.body.frequency_days).toBe(30);
    expect(new Date(response.body.next_run_at).getTime()).toBe(lastRunAt.getTime() + 30 * DAY_MS);
  });

  it('makes the reminder due now when the new, shorter period has already passed', async () => {
    const user = await insertReachableUser(harness.env.db);
    const lastRunAt = new Date(Date.now() - 10 * DAY_MS);
    const reminder = await insertReminder(harness.env.db, user.id, ['email'], { frequencyDays: 14, lastRunAt, nextRunAt: new Date(lastRunAt.getTime() + 14 * DAY_MS) });

    const response = await harness.client.patch(`/reminders/${reminder.id}`, { frequency_days: 3 });

    expect(new Date(response.body.next_run_at).getTime()).toBeLessThanOrEqual(Date.now());
  });

  it('pauses a reminder and sets its message, then goes back to the unpaid-tickets summary', async () => {
    const user = await insertReachableUser(harness.env.db);
    const reminder = await insertReminder(harness.env.db, user.id, ['email']);

    const paused = await harness.client.patch(`/reminders/${reminder.id}`, { active: false, message: 'Pensez à payer', subject: 'Rappel' });
    const summary = await harness.client.patch(`/reminders/${reminder.id}`, { message: null, subject: null });

    expect(paused.body).toMatchObject({ active: false, message: 'Pensez à payer', subject: 'Rappel' });
    expect(summary.body).toMatchObject({ active: false, message: null, subject: null });
  });

  it('refuses a channel the user cannot be reached on with 422 and keeps the channels', async () => {
    const user = await insertUser(harness.env.db, { phone: null });
    const reminder = await insertReminder(harness.env.db, user.id, ['email']);

    const response = await harness.client.patch(`/reminders/${reminder.id}`, { channels: ['email', 'sms'] });

    expectProblem(response, 422, 'channel-unreachable');
    expect(response.body.errors).toEqual([{ field: 'channels[1]', message: expect.stringContaining('sms') }]);
    expect(await harness.env.db.manager.countBy(ReminderChannel, { reminderId: reminder.id })).toBe(1);
  });

  it('refuses an empty body with 400', async () => {
    const reminder = await insertReminder(harness.env.db, (await insertReachableUser(harness.env.db)).id, ['email']);

    const response = await harness.client.patch(`/reminders/${reminder.id}`, {});

    expectProblem(response, 400, 'validation-error');
    expect(response.body.detail).toMatch(/frequency_days, channels, active, message, subject or end_at/);
  });

  it.each([
    ['frequency_days 0', { frequency_days: 0 }, 'frequency_days'],
    ['frequency_days 366', { frequency_days: 366 }, 'frequency_days'],
    ['frequency_days 7.5', { frequency_days: 7.5 }, 'frequency_days'],
    ['frequency_days "7"', { frequency_days: '7' }, 'frequency_days'],
    ['frequency_days: null', { frequency_days: null }, 'frequency_days'],
    ['an empty channel list', { channels: [] }, 'channels'],
    ['a channel listed twice', { channels: ['sms', 'sms'] }, 'channels'],
    ['an unknown channel', { channels: ['pigeon'] }, 'channels'],
    ['channels: null', { channels: null }, 'channels'],
    ['active that is not a boolean', { active: 'yes' }, 'active'],
    ['a message of 1601 characters', { message: 'm'.repeat(1601) }, 'message'],
    ['an unknown field', { next_run_at: '2027-01-01T00:00:00Z' }, 'next_run_at'],
  ])('refuses %s with 400 naming the field', async (_case, body, field) => {
    const reminder = await insertReminder(harness.env.db, (await insertReachableUser(harness.env.db)).id, ['email']);

    const response = await harness.client.patch(`/reminders/${reminder.id}`, body);

    expectInvalidField(response, field);
    expect(await harness.env.db.manager.findOneByOrFail(Reminder, { id: reminder.id })).toMatchObject({ frequencyDays: 7, active: true });
  });

  it('answers 404 for an unknown reminder', async () => {
    expectProblem(await harness.client.patch(`/reminders/${UNKNOWN_ID}`, { active: false }), 404, 'not-found');
  });
});

describe('DELETE /reminders/{id}', () => {
  it('removes the reminder and its channels with 204, then answers 404', async () => {
    const reminder = await insertReminder(harness.env.db, (await insertReachableUser(harness.env.db)).id, ['email', 'sms']);

    const response = await harness.client.delete(`/reminders/${reminder.id}`);

    expect(response.status).toBe(204);
    expect(await harness.env.db.manager.countBy(Reminder, { id: reminder.id })).toBe(0);
    expect(await harness.env.db.manager.countBy(ReminderChannel, { reminderId: reminder.id })).toBe(0);
    expectProblem(await harness.client.get(`/reminders/${reminder.id}`), 404, 'not-found');
    expectProblem(await harness.client.delete(`/reminders/${reminder.id}`), 404, 'not-found');
  });

  it('answers 404 for an unknown reminder', async () => {
    expectProblem(await harness.client.delete(`/reminders/${UNKNOWN_ID}`), 404, 'not-found');
  });
});

describe('POST /reminders/process', () => {
  // Reminders left by the tests above would be due too: each test here starts from none.
  beforeEach(() => harness.env.db.query('DELETE FROM reminders'));

  it('sends every due reminder on its enabled, reachable channels and answers real counts', async () => {
    const { db } = harness.env;
    const dueAt = new Date(Date.now() - 60_000);
    const withUnpaidTicket = await insertReachableUser(db);
    await insertTicket(db, withUnpaidTicket.id, { reference: 'RAP001', amountCents: 4500, dueDate: '2027-01-10' });
    const summaryReminder = await insertReminder(db, withUnpaidTicket.id, ['email', 'sms', 'push'], { nextRunAt: dueAt });
    const withoutPhone = await insertUser(db, { phone: null });
    const ownMessageReminder = await insertReminder(db, withoutPhone.id, ['email', 'sms'], { nextRunAt: dueAt, message: 'Pensez à payer', subject: 'Rappel' }, ['push']);
    const allPaid = await insertReachableUser(db);
    await insertTicket(db, allPaid.id, { status: 'paid' });
    const nothingUnpaidReminder = await insertReminder(db, allPaid.id, ['email'], { nextRunAt: dueAt });
    const notDueYet = await insertReminder(db, withUnpaidTicket.id, ['email'], { nextRunAt: new Date(Date.now() + DAY_MS) });
    const inactive = await insertReminder(db, withUnpaidTicket.id, ['email'], { nextRunAt: dueAt, active: false });

    const response = await harness.client.post('/reminders/process');

    expect(response.status).toBe(200);
    expect(response.body).toEqual({ processed: 2, skipped: 1, channels: { email: 2, sms: 1, push: 1 } });

    const summaryNotifications = await db.manager.find(Notification, { where: { reminderId: summaryReminder.id }, order: { id: 'ASC' } });
    expect(summaryNotifications.map((n) => n.channel)).toEqual(['email', 'sms', 'push']);
    for (const notification of summaryNotifications) {
      expect(notification).toMatchObject({ userId: withUnpaidTicket.id, status: 'pending', subject: 'Rappel : contraventions impayées' });
      expect(notification.message).toMatch(/1 contravention impayée pour un total de 45,00 €.*RAP001/);
      expect((await queues.job(notification.channel, notification.id))?.data).toEqual({ notificationId: notification.id });
    }
    const ownMessageNotifications = await db.manager.findBy(Notification, { reminderId: ownMessageReminder.id });
    expect(ownMessageNotifications).toEqual([expect.objectContaining({ channel: 'email', message: 'Pensez à payer', subject: 'Rappel', status: 'pending' })]);
    expect(await db.manager.countBy(Notification, { reminderId: nothingUnpaidReminder.id })).toBe(0);
    expect(await db.manager.countBy(Notification, { reminderId: notDueYet.id })).toBe(0);
    expect(await db.manager.countBy(Notification, { reminderId: inactive.id })).toBe(0);
  });

  it('moves each processed reminder, skipped ones included, to its next period, and leaves the others alone', async () => {
    const { db } = harness.env;
    const dueAt = new Date(Date.now() - 60_000);
    const user = await insertReachableUser(db);
    const due = await insertReminder(db, user.id, ['email'], { nextRunAt: dueAt, message: 'Rappel' });
    const skipped = await insertReminder(db, (await insertReachableUser(db)).id, ['email'], { nextRunAt: dueAt });
    const notDueYet = await insertReminder(db, user.id, ['email'], { nextRunAt: new Date(Date.now() + DAY_MS) });

    await harness.client.post('/reminders/process').expect(200);

    for (const { id } of [due, skipped]) {
      const reminder = await db.manager.findOneByOrFail(Reminder, { id });
      expect(reminder.lastRunAt).not.toBeNull();
      // A week later in the user's time zone: 7 days, give or take a daylight-saving hour.
      expect(Math.abs(reminder.nextRunAt.getTime() - dueAt.getTime() - 7 * DAY_MS)).toBeLessThanOrEqual(HOUR_MS);
    }
    expect(await db.manager.findOneByOrFail(Reminder, { id: notDueYet.id })).toMatchObject({ lastRunAt: null, nextRunAt: notDueYet.nextRunAt });
  });

  it('sends nothing twice: a second run right after the first finds nothing due', async () => {
    const user = await insertReachableUser(harness.env.db);
    await insertReminder(harness.env.db, user.id, ['email', 'push'], { nextRunAt: new Date(Date.now() - 60_000), message: 'Rappel' });
    await harness.client.post('/reminders/process').expect(200);

    const response = await harness.client.post('/reminders/process');

    expect(response.body).toEqual({ processed: 0, skipped: 0, channels: { email: 0, sms: 0, push: 0 } });
    expect(await harness.env.db.manager.countBy(Notification, { userId: user.id })).toBe(2);
  });

  it('answers zero counts when no reminder is due', async () => {
    const response = await harness.client.post('/reminders/process');

    expect(response.status).toBe(200);
    expect(response.body).toEqual({ processed: 0, skipped: 0, channels: { email: 0, sms: 0, push: 0 } });
  });
});

describe('without an API key', () => {
  it.each([
    ['POST /users/{id}/reminders', () => request(harness.api.app).post('/users/1/reminders').send(buildReminderBody())],
    ['GET /users/{id}/reminders', () => request(harness.api.app).get('/users/1/reminders')],
    ['GET /reminders/{id}', () => request(harness.api.app).get('/reminders/1')],
    ['PATCH /reminders/{id}', () => request(harness.api.app).patch('/reminders/1').send({ active: false })],
    ['DELETE /reminders/{id}', () => request(harness.api.app).delete('/reminders/1')],
    ['POST /reminders/process', () => request(harness.api.app).post('/reminders/process')],
  ])('%s answers 401', async (_route, send) => {
    expectProblem(await send(), 401, 'unauthorized');
  });
});
