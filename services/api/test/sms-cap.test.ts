import { Notification, type User } from '@notofine/db';
import { insertReminder, insertTicket, insertUser } from '@test/factories';
import { startApi, type ApiHarness } from './api-harness';

const CAP = 2;
let harness: ApiHarness;
beforeAll(async () => {
  harness = await startApi({ SMS_DAILY_CAP: String(CAP) });
});
afterAll(async () => {
  await harness.stop();
});

const sendSms = (user: User, message = 'Rappel') => harness.client.post('/notifications/send', { user_id: user.id, channel: 'sms', message });
const smsOf = (user: User) => harness.env.db.manager.countBy(Notification, { userId: user.id, channel: 'sms' });

describe('the daily SMS cap per user (SMS_DAILY_CAP)', () => {
  it('refuses the SMS past the cap with 429 and Retry-After, writes nothing, and lets other channels and users through', async () => {
    const user = await insertUser(harness.env.db);
    const other = await insertUser(harness.env.db);

    await sendSms(user).expect(202);
    await sendSms(user).expect(202);
    const refused = await sendSms(user);
    const email = await harness.client.post('/notifications/send', { user_id: user.id, channel: 'email', message: 'Rappel' });
    const otherUser = await sendSms(other);

    expect(refused.status).toBe(429);
    expect(refused.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(refused.body).toMatchObject({ type: '/problems/sms-daily-cap-reached', status: 429, detail: expect.stringContaining(`User ${user.id} was sent 2 SMS in the last 24 hours`) });
    // The window slides: the first SMS leaves it a day after it was sent.
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(86_400 - 60);
    expect(Number(refused.headers['retry-after'])).toBeLessThanOrEqual(86_400);
    expect(await smsOf(user)).toBe(CAP);
    expect(email.status).toBe(202);
    expect(otherUser.status).toBe(202);
  });

  it('counts only the last 24 hours', async () => {
    const user = await insertUser(harness.env.db);
    await sendSms(user).expect(202);
    await sendSms(user).expect(202);
    await harness.env.db.query(`UPDATE notifications SET created_at = now() - interval '25 hours' WHERE user_id = $1`, [user.id]);

    await sendSms(user).expect(202);
    expect(await smsOf(user)).toBe(3);
  });

  it('does not count SMS that were never sent: cancelled, or failed before any provider call', async () => {
    const user = await insertUser(harness.env.db);
    await sendSms(user).expect(202);
    await sendSms(user).expect(202);
    await sendSms(user).expect(429);
    const [first, second] = await harness.env.db.manager.find(Notification, { where: { userId: user.id }, order: { id: 'ASC' } });
    await harness.env.db.query(`UPDATE notifications SET status = 'cancelled' WHERE id = $1`, [first!.id]);
    await harness.env.db.query(`UPDATE notifications SET status = 'failed', attempts = 0 WHERE id = $1`, [second!.id]);
    await sendSms(user).expect(202);
    await sendSms(user).expect(202);
    // Failed after a provider call: it may have cost a message, and counts.
    await harness.env.db.query(`UPDATE notifications SET status = 'failed', attempts = 1 WHERE user_id = $1 AND status = 'pending'`, [user.id]);

    await sendSms(user).expect(429);
    expect(await smsOf(user)).toBe(4);
  });

  it('counts a digest of SMS, sent as one message, once', async () => {
    const user = await insertUser(harness.env.db);
    await harness.env.db.query(
      `INSERT INTO notifications (user_id, channel, message, status, attempts, provider, provider_message_id, sent_at, digest_key)
       SELECT $1, 'sms', 'Rappel ' || n, 'sent', 1, 'vonage', 'digest-message-1', now(), 'rappels' FROM generate_series(1, 3) AS n`,
      [user.id],
    );

    await sendSms(user).expect(202);
    await sendSms(user).expect(429);
    expect(await smsOf(user)).toBe(4);
  });

  it('holds against concurrent sends: exactly the cap is accepted', async () => {
    const user = await insertUser(harness.env.db);

    const statuses = (await Promise.all(Array.from({ length: 6 }, (_, i) => sendSms(user, `n°${i}`)))).map((r) => r.status).sort();

    expect(statuses).toEqual([202, 202, 429, 429, 429, 429]);
    expect(await smsOf(user)).toBe(CAP);
  });

  it('skips the SMS of a ticket notice past the cap and sends the other channels', async () => {
    const user = await insertUser(harness.env.db);
    const ticket = await insertTicket(harness.env.db, user.id);
    await sendSms(user).expect(202);
    await sendSms(user).expect(202);

    const response = await harness.client.post(`/tickets/${ticket.id}/notify`, { message: 'Votre amende est due' }).expect(202);

    expect(response.body.channels.sms).toEqual({ status: 'skipped', reason: 'the user reached the daily cap of 2 SMS' });
    expect(response.body.channels.email.status).toBe('pending');
    expect(await smsOf(user)).toBe(CAP);
  });

  it('answers 422 to a ticket notice whose only channel is a capped SMS', async () => {
    const user = await insertUser(harness.env.db, { email: null });
    const ticket = await insertTicket(harness.env.db, user.id);
    await sendSms(user).expect(202);
    await sendSms(user).expect(202);

    const response = await harness.client.post(`/tickets/${ticket.id}/notify`, { message: 'Votre amende est due' }).expect(422);

    expect(response.body).toMatchObject({ type: '/problems/no-reachable-channel', detail: expect.stringContaining('sms: the user reached the daily cap of 2 SMS') });
    expect(await smsOf(user)).toBe(CAP);
  });

  it('leaves the SMS out of due reminders for a capped user, not their email', async () => {
    const capped = await insertUser(harness.env.db);
    const free = await insertUser(harness.env.db);
    await sendSms(capped).expect(202);
    await sendSms(capped).expect(202);
    // A reminder speaks of unpaid tickets: without one it sends nothing.
    await insertTicket(harness.env.db, capped.id);
    await insertTicket(harness.env.db, free.id);
    await insertReminder(harness.env.db, capped.id, ['email', 'sms'], { nextRunAt: new Date(Date.now() - 1000) });
    await insertReminder(harness.env.db, free.id, ['email', 'sms'], { nextRunAt: new Date(Date.now() - 1000) });

    await harness.client.post('/reminders/process').expect(200);

    expect(await smsOf(capped)).toBe(CAP);
    expect(await harness.env.db.manager.countBy(Notification, { userId: capped.id, channel: 'email' })).toBe(1);
    expect(await smsOf(free)).toBe(1);
  });
});
