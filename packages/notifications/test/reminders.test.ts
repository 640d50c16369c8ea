import { Notification, Reminder, type Channel } from '@notofine/db';
import { insertDevice, insertReminder, insertTicket, insertUser } from '@test/factories';
import { startService, type ServiceHarness } from './service-harness';

let harness: ServiceHarness;
beforeAll(async () => {
  harness = await startService({ REMINDER_BATCH_SIZE: '100' });
});
afterAll(() => harness.stop());
beforeEach(async () => {
  // Each test starts with no due reminder, and no job, left over from the others.
  await harness.env.db.query('DELETE FROM users');
  await Promise.all((['email', 'sms', 'push'] as const).map((channel) => harness.queues.queue(channel).obliterate({ force: true })));
});

const DAY = 86_400_000;

async function reachableUser(overrides: Parameters<typeof insertUser>[1] = {}) {
  const user = await insertUser(harness.env.db, overrides);
  await insertDevice(harness.env.db, user.id);
  return user;
}

async function notificationsOf(reminderId: number): Promise<Notification[]> {
  return harness.env.db.manager.find(Notification, { where: { reminderId }, order: { channel: 'ASC' } });
}

describe('processReminders', () => {
  it('sends a new reminder at the first run, one notification per channel, and queues each delivery', async () => {
    const user = await reachableUser();
    await insertTicket(harness.env.db, user.id);
    const reminder = await insertReminder(harness.env.db, user.id, ['email', 'sms', 'push'], { message: 'Pensez à payer' });

    const summary = await harness.service.processReminders();

    expect(summary).toEqual({ processed: 1, skipped: 0, channels: { email: 1, sms: 1, push: 1 } });
    const notifications = await notificationsOf(reminder.id);
    expect(notifications.map((n) => [n.channel, n.status, n.message])).toEqual([
      ['email', 'pending', 'Pensez à payer'],
      ['push', 'pending', 'Pensez à payer'],
      ['sms', 'pending', 'Pensez à payer'],
    ]);
    for (const notification of notifications) {
      const job = await harness.queues.queue(notification.channel).getJob(`notification-${notification.id}`);
      expect(job?.data).toEqual({ notificationId: notification.id });
    }
  });

  it('moves the reminder to its next period, frequency_days after the previous due time', async () => {
    const user = await reachableUser();
    const due = new Date('2026-11-20T09:00:00Z');
    const reminder = await insertReminder(harness.env.db, user.id, ['email'], { message: 'Rappel', frequencyDays: 7, nextRunAt: due });
    const now = new Date('2026-11-23T10:00:00Z');

    await harness.service.processReminders({ now });

    const after = await harness.env.db.manager.findOneByOrFail(Reminder, { id: reminder.id });
    expect(after.lastRunAt).toEqual(now);
    expect(after.nextRunAt).toEqual(new Date('2026-11-27T09:00:00Z'));
  });

  it('is not due again before its next period: a second run in the same period sends nothing', async () => {
    const user = await reachableUser();
    const reminder = await insertReminder(harness.env.db, user.id, ['email'], { message: 'Rappel' });

    await harness.service.processReminders();
    const second = await harness.service.processReminders({ now: new Date(Date.now() + 6 * DAY) });
    const third = await harness.service.processReminders({ now: new Date(Date.now() + 7 * DAY + 60_000) });

    expect(second).toEqual({ processed: 0, skipped: 0, channels: { email: 0, sms: 0, push: 0 } });
    expect(third.processed).toBe(1);
    expect(await notificationsOf(reminder.id)).toHaveLength(2);
  });

  it('after an outage, sends a long-overdue reminder once and resumes its rhythm', async () => {
    const user = await reachableUser();
    const reminder = await insertReminder(harness.env.db, user.id, ['email'], { message: 'Rappel', frequencyDays: 7, nextRunAt: new Date('2026-10-01T08:00:00Z') });

    const summary = await harness.service.processReminders({ now: new Date('2026-11-23T10:00:00Z') });

    expect(summary.processed).toBe(1);
    const after = await harness.env.db.manager.findOneByOrFail(Reminder, { id: reminder.id });
    // 2026-10-01 10:00 in Paris + 8 weeks: 2026-11-26 10:00 in Paris, the first due time after now.
    expect(after.nextRunAt).toEqual(new Date('2026-11-26T09:00:00Z'));
  });

  it('keeps the local hour across a daylight-saving change in the user’s time zone', async () => {
    const user = await reachableUser({ timezone: 'Europe/Paris' });
    // 18:00 in Paris on Saturday 24 October 2026 (CEST, UTC+2); clocks go back on the 25th.
    const reminder = await insertReminder(harness.env.db, user.id, ['email'], { message: 'Rappel', frequencyDays: 1, nextRunAt: new Date('2026-10-24T16:00:00Z') });

    await harness.service.processReminders({ now: new Date('2026-10-24T16:00:30Z') });

    const after = await harness.env.db.manager.findOneByOrFail(Reminder, { id: reminder.id });
    expect(after.nextRunAt).toEqual(new Date('2026-10-25T17:00:00Z')); // 18:00 CET
  });

  it.each([
    ['Paris, the night summer time starts', 'Europe/Paris', '2026-03-28T22:30:00+01:00', '2026-03-29T06:00:00.000Z'],
    ['Paris, the night winter time starts', 'Europe/Paris', '2026-10-25T02:30:00+01:00', '2026-10-25T07:00:00.000Z'],
    ['New York, the night summer time starts there', 'America/New_York', '2026-03-08T01:30:00-05:00', '2026-03-08T12:00:00.000Z'],
    ['New York, the night winter time starts there', 'America/New_York', '2026-11-01T01:30:00-05:00', '2026-11-01T13:00:00.000Z'],
  ])('holds the SMS and push of a reminder run in the quiet hours until 08:00 on the user’s clock (%s); email goes at once', async (_night, timezone, runAt, until) => {
    const user = await reachableUser({ timezone, quietHoursStart: '21:00', quietHoursEnd: '08:00' });
    const now = new Date(runAt);
    const reminder = await insertReminder(harness.env.db, user.id, ['email', 'sms', 'push'], { message: 'Rappel', nextRunAt: new Date(now.getTime() - 60_000) });

    await harness.service.processReminders({ now });

    const planned = (await notificationsOf(reminder.id)).map((n) => [n.channel, n.scheduledAt?.toISOString() ?? null]);
    expect(planned).toEqual([
      ['email', null],
      ['push', until],
      ['sms', until],
    ]);
  });

  it('ends at end_at: a run just before sends, a run at end_at or after sends nothing and switches the reminder off', async () => {
    const user = await reachableUser();
    const endAt = new Date('2026-11-30T09:00:00Z');
    const lastWeek = await insertReminder(harness.env.db, user.id, ['email'], { message: 'Rappel', frequencyDays: 7, nextRunAt: new Date('2026-11-23T09:00:00Z'), endAt });
    const atTheEnd = await insertReminder(harness.env.db, user.id, ['email'], { message: 'Rappel', frequencyDays: 7, nextRunAt: new Date('2026-11-30T08:00:00Z'), endAt });

    const before = await harness.service.processReminders({ now: new Date(endAt.getTime() - 1) });
    const at = await harness.service.processReminders({ now: new Date(endAt.getTime() + 7 * DAY) });

    expect(before.processed).toBe(2);
    expect(at).toEqual({ processed: 0, skipped: 0, channels: { email: 0, sms: 0, push: 0 } });
    for (const reminder of [lastWeek, atTheEnd]) {
      expect(await notificationsOf(reminder.id)).toHaveLength(1);
      expect((await harness.env.db.manager.findOneByOrFail(Reminder, { id: reminder.id })).active).toBe(false);
    }
    const exactly = await insertReminder(harness.env.db, user.id, ['email'], { message: 'Rappel', nextRunAt: new Date(endAt.getTime() - 60_000), endAt });
    expect((await harness.service.processReminders({ now: endAt })).processed).toBe(0);
    expect(await notificationsOf(exactly.id)).toEqual([]);
    expect((await harness.env.db.manager.findOneByOrFail(Reminder, { id: exactly.id })).active).toBe(false);
  });

  it('ignores inactive reminders and reminders not yet due', async () => {
    const user = await reachableUser();
    await insertReminder(harness.env.db, user.id, ['email'], { message: 'Rappel', active: false });
    await insertReminder(harness.env.db, user.id, ['email'], { message: 'Rappel', nextRunAt: new Date(Date.now() + DAY) });

    const summary = await harness.service.processReminders();

    expect(summary).toEqual({ processed: 0, skipped: 0, channels: { email: 0, sms: 0, push: 0 } });
    expect(await harness.env.db.manager.count(Notification)).toBe(0);
  });

  it('skips disabled channels and channels the user cannot be reached on', async () => {
    const user = await insertUser(harness.env.db, { phone: null }); // no phone, no device
    const reminder = await insertReminder(harness.env.db, user.id, ['sms', 'push', 'email'], { message: 'Rappel' }, []);
    const disabledEmail = await insertReminder(harness.env.db, user.id, [], { message: 'Rappel' }, ['email']);

    const summary = await harness.service.processReminders();

    expect(summary).toEqual({ processed: 1, skipped: 1, channels: { email: 1, sms: 0, push: 0 } });
    expect((await notificationsOf(reminder.id)).map((n) => n.channel)).toEqual(['email']);
    expect(await notificationsOf(disabledEmail.id)).toEqual([]);
  });

  it('sends nothing on a channel the user unsubscribed from (email link, SMS STOP)', async () => {
    const user = await reachableUser({ emailOptedOutAt: new Date(), smsOptedOutAt: new Date() });
    const reminder = await insertReminder(harness.env.db, user.id, ['email', 'sms', 'push'], { message: 'Rappel' });

    const summary = await harness.service.processReminders();

    expect(summary.channels).toEqual({ email: 0, sms: 0, push: 1 });
    expect((await notificationsOf(reminder.id)).map((n) => n.channel)).toEqual(['push']);
  });

  it('without a message of its own, sends a French summary of the unpaid tickets', async () => {
    const user = await reachableUser();
    await insertTicket(harness.env.db, user.id, { reference: 'XYZ789', amountCents: 9000, dueDate: '2027-01-20' });
    await insertTicket(harness.env.db, user.id, { reference: 'ABC123', amountCents: 13500, dueDate: '2026-12-15' });
    await insertTicket(harness.env.db, user.id, { reference: 'PAID01', amountCents: 4500, dueDate: '2026-12-01', status: 'paid' });
    const reminder = await insertReminder(harness.env.db, user.id, ['email'], { nextRunAt: new Date('2026-11-20T09:00:00Z') });

    await harness.service.processReminders({ now: new Date('2026-11-23T10:00:00Z') });

    const [notification] = await notificationsOf(reminder.id);
    expect(notification?.subject).toBe('Rappel : contraventions impayées');
    expect(notification?.message).toBe(
      'Rappel Notofine : vous avez 2 contraventions impayées pour un total de 225,00 €. ' +
        'Prochaine échéance : contravention ABC123, à régler avant le 15 décembre 2026.',
    );
  });

  it('writes the summary in English for an English-speaking user', async () => {
    const user = await reachableUser({ locale: 'en-GB' });
    await insertTicket(harness.env.db, user.id, { reference: 'ABC123', amountCents: 13500, dueDate: '2026-12-15' });
    const reminder = await insertReminder(harness.env.db, user.id, ['sms'], { nextRunAt: new Date('2026-11-20T09:00:00Z') });

    await harness.service.processReminders({ now: new Date('2026-11-23T10:00:00Z') });

    const [notification] = await notificationsOf(reminder.id);
    expect(notification?.message).toBe('Notofine reminder: you have 1 unpaid traffic ticket totalling €135.00. Next due: ticket ABC123, by 15 December 2026.');
  });

  it('skips a summary reminder when nothing is unpaid, and reschedules it all the same', async () => {
    const user = await reachableUser();
    await insertTicket(harness.env.db, user.id, { status: 'paid' });
    const reminder = await insertReminder(harness.env.db, user.id, ['email', 'sms']);

    const summary = await harness.service.processReminders();

    expect(summary).toEqual({ processed: 0, skipped: 1, channels: { email: 0, sms: 0, push: 0 } });
    expect(await notificationsOf(reminder.id)).toEqual([]);
    const after = await harness.env.db.manager.findOneByOrFail(Reminder, { id: reminder.id });
    expect(after.lastRunAt).not.toBeNull();
    expect(after.nextRunAt.getTime()).toBeGreaterThan(Date.now() + 6 * DAY);
  });

  it('processes each reminder exactly once when several processors run at the same time', async () => {
    const reminders = 3000;
    const channels: Channel[] = ['email', 'sms'];
    await harness.env.db.query(
      `WITH u AS (
         INSERT INTO users (full_name, email, phone) SELECT 'User ' || g, 'user' || g || '@example.com', '+33612345678' FROM generate_series(1, $1) g RETURNING id
       ), r AS (
         INSERT INTO reminders (user_id, frequency_days, message) SELECT id, 7, 'Rappel' FROM u RETURNING id
       )
       INSERT INTO reminder_channels (reminder_id, channel) SELECT r.id, c FROM r CROSS JOIN unnest($2::varchar[]) c`,
      [reminders, channels],
    );

    const runs = await Promise.all(Array.from({ length: 6 }, () => harness.service.processReminders()));

    expect(runs.reduce((sum, run) => sum + run.processed, 0)).toBe(reminders);
    expect(runs.reduce((sum, run) => sum + run.channels.email + run.channels.sms, 0)).toBe(reminders * channels.length);
    const [{ duplicates, total }] = await harness.env.db.query(
      `SELECT count(*)::int AS total,
              count(*) - count(DISTINCT (reminder_id, channel))::int AS duplicates
       FROM notifications`,
    );
    expect({ total, duplicates }).toEqual({ total: reminders * channels.length, duplicates: 0 });
    expect(runs.filter((run) => run.processed > 0).length).toBeGreaterThan(1);
    expect(await harness.queues.queue('sms').count()).toBe(reminders);
  });
});
