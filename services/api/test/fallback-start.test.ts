import { Notification } from '@notofine/db';
import { insertDevice, insertUser } from '@test/factories';
import { DateTime } from 'luxon';
import { startApi, type ApiHarness } from './api-harness';
import { openDeliveryQueues, type DeliveryQueuesProbe } from './delivery-queues';
import { expectProblem } from './expectations';
import { insertReachableUser } from './fixtures';

// A send whose own channel cannot take it goes on the first of its fallback channels that can, and
// says so; it is refused only when none can.

const SMS_DAILY_CAP = 2;
let harness: ApiHarness;
let queues: DeliveryQueuesProbe;
beforeAll(async () => {
  harness = await startApi({ SMS_DAILY_CAP: String(SMS_DAILY_CAP) });
  queues = openDeliveryQueues(harness.env);
});
afterAll(async () => {
  await queues.close();
  await harness.stop();
});

const NO_DEVICE = { channel: 'push', reason: 'the user has no active push device' };
const rowOf = (id: number) => harness.env.db.manager.findOneByOrFail(Notification, { id });

describe('a send whose channel cannot take it', () => {
  it('goes on the first fallback channel that can, naming the channel it went on and why the first was skipped', async () => {
    const user = await insertUser(harness.env.db);

    const response = await harness.client.post('/notifications/send', { user_id: user.id, message: 'Votre amende', channel: 'push', fallback: ['sms', 'email'] }).expect(202);

    expect(response.body).toMatchObject({ channel: 'sms', status: 'pending', fallback_channels: ['email'], skipped_channels: [NO_DEVICE] });
    expect((await queues.job('sms', response.body.id))?.data).toEqual({ notificationId: response.body.id });
    expect(await queues.job('push', response.body.id)).toBeUndefined();
    const shown = await harness.client.get(`/notifications/${response.body.id}`).expect(200);
    expect(shown.body).toMatchObject({ channel: 'sms', skipped_channels: [NO_DEVICE] });
  });

  it('passes over a channel the user turned off or unsubscribed from, but not for a critical notice', async () => {
    const user = await insertReachableUser(harness.env.db);
    await harness.client.put(`/users/${user.id}/preferences`, { channels: { sms: false } }).expect(200);
    await harness.client.patch(`/users/${user.id}`, { opted_out: { email: true } }).expect(200);

    const turnedOff = await harness.client.post('/notifications/send', { user_id: user.id, message: 'Avis', channel: 'sms', fallback: ['email', 'push'] }).expect(202);
    const critical = await harness.client.post('/notifications/send', { user_id: user.id, message: 'Avis', channel: 'sms', fallback: ['email', 'push'], critical: true }).expect(202);

    expect(turnedOff.body).toMatchObject({
      channel: 'push',
      fallback_channels: [],
      skipped_channels: [
        { channel: 'sms', reason: 'the user turned sms off' },
        { channel: 'email', reason: 'the user unsubscribed from email' },
      ],
    });
    expect(critical.body).toMatchObject({ channel: 'sms', fallback_channels: ['email', 'push'], skipped_channels: [] });
  });

  it('is refused with 422 only when no channel it names can take it, each named with its reason', async () => {
    const user = await insertUser(harness.env.db, { phone: null });
    await harness.client.patch(`/users/${user.id}`, { opted_out: { email: true } }).expect(200);

    const response = await harness.client.post('/notifications/send', { user_id: user.id, message: 'Avis', channel: 'push', fallback: ['sms', 'email'] });

    expectProblem(response, 422, 'channel-unreachable');
    expect(response.body.errors).toEqual([
      { field: 'channel', message: expect.stringContaining('has no active push device') },
      { field: 'fallback[0]', message: 'sms: the user has no phone number' },
      { field: 'fallback[1]', message: 'email: the user unsubscribed from email' },
    ]);
    expect(response.body.detail).toContain('Nor can its fallbacks: sms (the user has no phone number), email (the user unsubscribed from email).');
    expect(await harness.env.db.manager.countBy(Notification, { userId: user.id })).toBe(0);
  });

  it('renders a template for the channel it goes on', async () => {
    const user = await insertUser(harness.env.db);
    const data = { reference: 'AB-123', amount_cents: 13500, due_date: '2027-10-01' };

    const response = await harness.client.post('/notifications/send', { user_id: user.id, channel: 'push', fallback: ['email'], template: 'ticket_due', data }).expect(202);

    expect(response.body).toMatchObject({ channel: 'email', template: 'ticket_due', subject: expect.stringContaining('AB-123'), skipped_channels: [NO_DEVICE] });
    expect((await rowOf(response.body.id)).html).toContain('<strong>AB-123</strong>');
  });

  it('in a batch, each send starts on its first channel that can take it; the batch is refused only for one that none can', async () => {
    const user = await insertUser(harness.env.db);
    const noPhone = await insertUser(harness.env.db, { phone: null, email: null });

    const accepted = await harness.client
      .post('/notifications/batch', { notifications: [{ user_id: user.id, message: 'Un', channel: 'push', fallback: ['email'] }, { user_id: user.id, message: 'Deux', channel: 'email' }] })
      .expect(202);
    const refused = await harness.client.post('/notifications/batch', {
      notifications: [
        { user_id: user.id, message: 'Un', channel: 'push', fallback: ['email'] },
        { user_id: noPhone.id, message: 'Deux', channel: 'push', fallback: ['sms', 'email'] },
      ],
    });

    expect(accepted.body.notifications.map((n: { channel: string }) => n.channel)).toEqual(['email', 'email']);
    expectProblem(refused, 422, 'batch-refused');
    expect(refused.body.errors.map((e: { field: string }) => e.field)).toEqual(['notifications[1].channel', 'notifications[1].fallback[0]', 'notifications[1].fallback[1]']);
  });

  it('is held by the quiet hours of the channel it goes on, not of the one it named', async () => {
    const now = DateTime.now().setZone('Europe/Paris');
    const user = await insertUser(harness.env.db, { timezone: 'Europe/Paris', quietHoursStart: now.minus({ hours: 1 }).toFormat('HH:mm'), quietHoursEnd: now.plus({ hours: 1 }).toFormat('HH:mm') });

    const toEmail = await harness.client.post('/notifications/send', { user_id: user.id, message: 'Avis', channel: 'push', fallback: ['email'] }).expect(202);
    const toSms = await harness.client.post('/notifications/send', { user_id: user.id, message: 'Avis', channel: 'push', fallback: ['sms'] }).expect(202);

    expect(toEmail.body).toMatchObject({ channel: 'email', scheduled_at: null });
    expect(toSms.body).toMatchObject({ channel: 'sms', scheduled_at: expect.any(String) });
    expect(await (await queues.job('sms', toSms.body.id))!.getState()).toBe('delayed');
  });

  it('joins the digest of the channel it goes on', async () => {
    const user = await insertUser(harness.env.db);
    const send = () => harness.client.post('/notifications/send', { user_id: user.id, message: 'Avis', channel: 'push', fallback: ['email'], digest_key: 'weekly' }).expect(202);

    const first = await send();
    const second = await send();

    expect([first.body.channel, second.body.channel]).toEqual(['email', 'email']);
    expect(second.body.scheduled_at).toBe(first.body.scheduled_at);
  });
});

describe('an SMS past the daily cap', () => {
  async function userAtTheCap() {
    const user = await insertUser(harness.env.db);
    await insertDevice(harness.env.db, user.id);
    await harness.env.db.query(`INSERT INTO notifications (user_id, channel, message, status, attempts, sent_at) SELECT $1, 'sms', 'Déjà envoyé', 'sent', 1, now() FROM generate_series(1, $2)`, [user.id, SMS_DAILY_CAP]);
    return user;
  }

  it('goes on its next fallback channel, saying the cap was reached; without a fallback it is refused with 429', async () => {
    const user = await userAtTheCap();

    const passed = await harness.client.post('/notifications/send', { user_id: user.id, message: 'Avis', channel: 'sms', fallback: ['push', 'email'] }).expect(202);
    const alone = await harness.client.post('/notifications/send', { user_id: user.id, message: 'Avis', channel: 'sms' });

    expect(passed.body).toMatchObject({ channel: 'push', fallback_channels: ['email'], skipped_channels: [{ channel: 'sms', reason: `the user reached the daily cap of ${SMS_DAILY_CAP} SMS` }] });
    expectProblem(alone, 429, 'sms-daily-cap-reached');
  });

  it('in a batch, the SMS past the cap (counting the batch\'s own) go on their fallback channel', async () => {
    const user = await insertUser(harness.env.db);
    const sms = (message: string) => ({ user_id: user.id, message, channel: 'sms', fallback: ['email'] });

    const response = await harness.client.post('/notifications/batch', { notifications: [sms('Un'), sms('Deux'), sms('Trois')] }).expect(202);

    expect(response.body.notifications.map((n: { channel: string }) => n.channel)).toEqual(['sms', 'sms', 'email']);
    expect(response.body.notifications[2].skipped_channels).toEqual([{ channel: 'sms', reason: `the user reached the daily cap of ${SMS_DAILY_CAP} SMS` }]);
  });
});
