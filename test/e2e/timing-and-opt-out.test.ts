import { createHmac } from 'node:crypto';
import { Notification, Reminder, User } from '@notofine/db';
import { apiClient, type ApiClient } from '@test/api-client';
import { insertDevice, insertReminder, insertTicket, insertUser } from '@test/factories';
import { failWith, ScriptedProviders } from '@test/scripted-providers';
import { createTestEnvironment, type TestEnvironment } from '@test/test-environment';
import { waitFor } from '@test/wait-for';
import { DateTime } from 'luxon';
import request from 'supertest';
import twilio from 'twilio';
import { start as startApi, type ApiService } from '../../services/api/src/api-service';
import { openDeliveryQueues, type DeliveryQueuesProbe } from '../../services/api/test/delivery-queues';
import { start as startWorker, type WorkerService } from '../../services/worker/src/worker-service';

// When and whether a notification goes out: quiet hours, scheduled sends and cancellation,
// reminders that stop, fallback channels, unsubscribing, digests. The API and a worker in-process,
// the worker sending through scripted providers that record every call.

const PUBLIC_BASE_URL = 'https://notify.example.test';
const TWILIO_TOKEN = 'twilio-auth-token-for-tests';
const VONAGE_SECRET = 'vonage-signature-secret-for-tests';
let env: TestEnvironment;
let api: ApiService;
let client: ApiClient;
let queues: DeliveryQueuesProbe;
let providers: ScriptedProviders;
let worker: WorkerService | undefined;

beforeAll(async () => {
  env = await createTestEnvironment({ PUBLIC_BASE_URL, DIGEST_WINDOW_MS: '1500', TWILIO_AUTH_TOKEN: TWILIO_TOKEN, VONAGE_SIGNATURE_SECRET: VONAGE_SECRET });
  api = await startApi({ config: env.config, logger: env.logger, listen: false });
  client = apiClient(api.app);
  queues = openDeliveryQueues(env);
});
afterAll(async () => {
  await worker?.stop();
  await queues.close();
  await api.stop();
  await env.cleanup();
});

/** Starts the worker (once), with fresh scripted providers. */
async function startTheWorker(): Promise<ScriptedProviders> {
  await stopTheWorker();
  providers = new ScriptedProviders();
  worker = await startWorker({ config: env.config, logger: env.logger, providers, scheduleReminders: false });
  return providers;
}
async function stopTheWorker(): Promise<void> {
  await worker?.stop();
  worker = undefined;
}

const rowOf = (id: number) => env.db.manager.findOneByOrFail(Notification, { id });
const untilFinal = (id: number) => waitFor(`notification ${id} to be final`, async () => ((await rowOf(id)).status !== 'pending' ? rowOf(id) : null));

/** A quiet-hours window around the present moment, on the Paris wall clock. */
function windowAroundNow(): { start: string; end: string; endsAt: Date } {
  const now = DateTime.now().setZone('Europe/Paris');
  const start = now.minus({ hours: 1 });
  const end = now.plus({ hours: 1 });
  return { start: start.toFormat('HH:mm'), end: end.toFormat('HH:mm'), endsAt: end.set({ second: 0, millisecond: 0 }).toJSDate() };
}

async function userWith(fields: Partial<User> = {}): Promise<User> {
  const user = await insertUser(env.db, { timezone: 'Europe/Paris', ...fields });
  await insertDevice(env.db, user.id);
  return user;
}

describe('quiet hours', () => {
  beforeAll(stopTheWorker);

  it('holds SMS and push sent in the user\'s quiet hours until the window ends, as a delayed job; email and urgent ones go now', async () => {
    const window = windowAroundNow();
    const { body: created } = await client.post('/users', { full_name: 'Nuit Calme', email: 'nuit@example.com', phone: '+33612345678', quiet_hours: { start: window.start, end: window.end } }).expect(201);
    await insertDevice(env.db, created.id);

    const sms = await client.post('/notifications/send', { user_id: created.id, channel: 'sms', message: 'Rappel' }).expect(202);
    const push = await client.post('/notifications/send', { user_id: created.id, channel: 'push', message: 'Rappel' }).expect(202);
    const email = await client.post('/notifications/send', { user_id: created.id, channel: 'email', message: 'Rappel' }).expect(202);
    const urgent = await client.post('/notifications/send', { user_id: created.id, channel: 'sms', message: 'Urgent', urgent: true }).expect(202);

    expect(created.quiet_hours).toEqual({ start: window.start, end: window.end, email: false });
    for (const held of [sms.body, push.body]) {
      expect(held.scheduled_at).toBe(window.endsAt.toISOString());
      const job = await queues.job(held.channel, held.id);
      expect(await job!.getState()).toBe('delayed');
      expect(job!.timestamp + job!.opts.delay!).toBeGreaterThanOrEqual(window.endsAt.getTime() - 1000);
    }
    expect(email.body.scheduled_at).toBeNull();
    expect(urgent.body).toMatchObject({ scheduled_at: null, urgent: true });
    expect(await (await queues.job('sms', urgent.body.id))!.getState()).toBe('waiting');

    const sent = await startTheWorker();
    await untilFinal(urgent.body.id);
    await untilFinal(email.body.id);
    expect(sent.sms.calls.map((call) => call.notificationId)).toEqual([urgent.body.id]);
    expect((await rowOf(sms.body.id)).status).toBe('pending');
    await stopTheWorker();
  });

  it('puts back a notification whose quiet hours began after it was accepted, without spending an attempt', async () => {
    const user = await userWith();
    const { body } = await client.post('/notifications/send', { user_id: user.id, channel: 'push', message: 'Rappel' }).expect(202);
    const window = windowAroundNow();
    await env.db.manager.update(User, { id: user.id }, { quietHoursStart: window.start, quietHoursEnd: window.end });

    const sent = await startTheWorker();
    const job = await waitFor('the job to be put back', async () => {
      const current = await queues.job('push', body.id);
      return current && (await current.getState()) === 'delayed' && current;
    });

    expect(sent.push.calls).toEqual([]);
    expect(await rowOf(body.id)).toMatchObject({ status: 'pending', attempts: 0, scheduledAt: window.endsAt, leaseToken: null });
    expect(job.attemptsMade).toBe(0);
    await stopTheWorker();
  });
});

describe('scheduled sends and cancellation', () => {
  beforeAll(stopTheWorker);

  it('holds a send until send_at, and a cancelled one is never sent', async () => {
    const user = await userWith();
    const sendAt = new Date(Date.now() + 3_600_000);

    const { body: scheduled } = await client.post('/notifications/send', { user_id: user.id, channel: 'email', message: 'Plus tard', send_at: sendAt.toISOString() }).expect(202);
    const cancelled = await client.post(`/notifications/${scheduled.id}/cancel`).expect(200);
    const again = await client.post(`/notifications/${scheduled.id}/cancel`).expect(409);

    expect(scheduled).toMatchObject({ status: 'pending', scheduled_at: sendAt.toISOString() });
    expect(cancelled.body).toMatchObject({ id: scheduled.id, status: 'cancelled', error_message: 'Cancelled by the caller.' });
    expect(again.body).toMatchObject({ type: '/problems/conflict', detail: `Notification ${scheduled.id} is cancelled: only a pending notification can be cancelled.` });
    expect(await queues.job('email', scheduled.id)).toBeUndefined();
  });

  it('cancels one whose job is still queued: the worker finds it cancelled and sends nothing', async () => {
    const user = await userWith();
    const { body } = await client.post('/notifications/send', { user_id: user.id, channel: 'sms', message: 'Annulé' }).expect(202);
    await client.post(`/notifications/${body.id}/cancel`).expect(200);

    const sent = await startTheWorker();
    await client.post('/notifications/send', { user_id: user.id, channel: 'sms', message: 'Témoin' }).expect(202);
    await waitFor('the other SMS to be sent', () => sent.sms.calls.length === 1);

    expect(sent.sms.calls.map((call) => call.text)).toEqual(['Témoin']);
    expect((await rowOf(body.id)).status).toBe('cancelled');
    const sentOne = await client.get(`/users/${user.id}/notifications?status=sent`).expect(200);
    await client.post(`/notifications/${sentOne.body.notifications[0].id}/cancel`).expect(409);
    await stopTheWorker();
  });

  it('refuses a send_at without an offset, or more than a year ahead', async () => {
    const user = await userWith();
    const naive = await client.post('/notifications/send', { user_id: user.id, channel: 'email', message: 'x', send_at: '2026-12-01T09:00:00' }).expect(400);
    const far = await client.post('/notifications/send', { user_id: user.id, channel: 'email', message: 'x', send_at: '2099-01-01T00:00:00Z' }).expect(400);

    expect(naive.body.errors).toEqual([{ field: 'send_at', message: 'must be a date-time with its offset, such as 2026-12-01T09:00:00+01:00' }]);
    expect(far.body.errors).toEqual([{ field: 'send_at', message: 'must be at most a year from now' }]);
    expect(await env.db.manager.countBy(Notification, { userId: user.id })).toBe(0);
  });
});

describe('reminders that know when to stop', () => {
  beforeAll(stopTheWorker);

  it('stops a reminder once its ticket is paid, and cancels what it had pending', async () => {
    const user = await userWith();
    const ticket = await insertTicket(env.db, user.id, { reference: 'PAY123' });
    const other = await insertTicket(env.db, user.id, { reference: 'OTHER9' });
    const { body: reminder } = await client.post(`/users/${user.id}/reminders`, { frequency_days: 7, channels: ['email'], ticket_id: ticket.id }).expect(201);
    await client.post('/reminders/process').expect(200);
    const [pending] = await env.db.manager.findBy(Notification, { userId: user.id });

    await client.patch(`/tickets/${ticket.id}`, { status: 'paid' }).expect(200);

    expect(reminder.ticket_id).toBe(ticket.id);
    // The reminder speaks of its own ticket only.
    expect(pending!.message).toContain('PAY123');
    expect(pending!.message).not.toContain('OTHER9');
    expect(await rowOf(pending!.id)).toMatchObject({ status: 'cancelled', errorMessage: 'Ticket PAY123 was paid.' });
    expect((await env.db.manager.findOneByOrFail(Reminder, { id: reminder.id })).active).toBe(false);
    void other;
  });

  it('stops a reminder past its end_at, or whose ticket was settled while it waited, without sending', async () => {
    const user = await userWith();
    const ticket = await insertTicket(env.db, user.id);
    const ended = await insertReminder(env.db, user.id, ['email'], { nextRunAt: new Date(Date.now() - 60_000), endAt: new Date(Date.now() - 1000) });
    const settled = await insertReminder(env.db, user.id, ['email'], { nextRunAt: new Date(Date.now() - 60_000), ticketId: ticket.id });
    await env.db.manager.update('tickets', { id: ticket.id }, { status: 'cancelled' });

    const { body: run } = await client.post('/reminders/process').expect(200);

    expect(run).toEqual({ processed: 0, skipped: 0, channels: { email: 0, sms: 0, push: 0 } });
    expect(await env.db.manager.countBy(Notification, { userId: user.id })).toBe(0);
    for (const reminder of [ended, settled]) expect((await env.db.manager.findOneByOrFail(Reminder, { id: reminder.id })).active).toBe(false);
  });

  it('refuses a reminder about another user\'s ticket or a paid one', async () => {
    const user = await userWith();
    const stranger = await userWith();
    const theirs = await insertTicket(env.db, stranger.id);
    const paid = await insertTicket(env.db, user.id, { status: 'paid' });

    const other = await client.post(`/users/${user.id}/reminders`, { frequency_days: 7, channels: ['email'], ticket_id: theirs.id }).expect(422);
    const settled = await client.post(`/users/${user.id}/reminders`, { frequency_days: 7, channels: ['email'], ticket_id: paid.id }).expect(422);

    expect(other.body.type).toBe('/problems/ticket-of-another-user');
    expect(settled.body.type).toBe('/problems/ticket-settled');
  });
});

describe('fallback channels', () => {
  it('tries the next channel when the first ends failed, and shows the chain', async () => {
    const sent = await startTheWorker();
    sent.email.script(failWith('fail', 'mailbox does not exist'));
    const user = await userWith();

    const { body } = await client.post('/notifications/send', { user_id: user.id, channel: 'email', message: 'Votre amende', fallback: ['sms', 'push'] }).expect(202);
    const failed = await untilFinal(body.id);
    const standIn = await untilFinal(failed.fallbackToId!);

    expect(body.fallback_channels).toEqual(['sms', 'push']);
    expect(failed).toMatchObject({ status: 'failed', errorMessage: 'scripted: mailbox does not exist' });
    expect(standIn).toMatchObject({ channel: 'sms', status: 'sent', fallbackFromId: body.id, fallbackChannels: ['push'], message: 'Votre amende' });
    const shown = await client.get(`/notifications/${body.id}`).expect(200);
    expect(shown.body).toMatchObject({ fallback_to_id: standIn.id, fallback_from_id: null });
    expect(sent.sms.calls).toHaveLength(1);
    expect(sent.push.calls).toHaveLength(0);
  });

  it('refuses a fallback naming the notification\'s own channel', async () => {
    const user = await userWith();
    const response = await client.post('/notifications/send', { user_id: user.id, channel: 'sms', message: 'x', fallback: ['sms'] }).expect(400);
    expect(response.body.errors).toEqual([{ field: 'fallback', message: "must not name the notification's own channel (sms)" }]);
  });
});

describe('opting out', () => {
  it('gives every email a one-click unsubscribe link that turns the user\'s email off, critical notices excepted', async () => {
    const sent = await startTheWorker();
    const user = await userWith();
    const { body } = await client.post('/notifications/send', { user_id: user.id, channel: 'email', message: 'Votre amende' }).expect(202);
    await untilFinal(body.id);
    const [email] = sent.email.calls;
    const link = email!.unsubscribeUrl!;
    const path = new URL(link).pathname;

    const page = await request(api.app).get(path).expect(200);
    const stillIn = await env.db.manager.findOneByOrFail(User, { id: user.id });
    await request(api.app).post(path).type('form').send('List-Unsubscribe=One-Click').expect(200);
    const refused = await client.post('/notifications/send', { user_id: user.id, channel: 'email', message: 'Promo' }).expect(422);
    const critical = await client.post('/notifications/send', { user_id: user.id, channel: 'email', message: 'Avis important', critical: true }).expect(202);
    await untilFinal(critical.body.id);
    const forged = await request(api.app).post(`${path.slice(0, -3)}abc`).expect(404);

    expect(link).toMatch(new RegExp(`^${PUBLIC_BASE_URL}/unsubscribe/[\\w-]+\\.[\\w-]+$`));
    expect(email!.text).toBe(`Votre amende\n\n-- \nNe plus recevoir ces emails : ${link}`);
    expect(page.text).toContain('<form method="post">');
    expect(stillIn.emailOptedOutAt).toBeNull();
    expect((await env.db.manager.findOneByOrFail(User, { id: user.id })).emailOptedOutAt).toEqual(expect.any(Date));
    expect(refused.body).toMatchObject({ type: '/problems/channel-opted-out' });
    expect((await rowOf(critical.body.id)).status).toBe('sent');
    expect(forged.body.type).toBe('/problems/unsubscribe-link-invalid');
  });

  it('cancels at sending time an email accepted before the user unsubscribed', async () => {
    await stopTheWorker();
    const user = await userWith();
    const { body } = await client.post('/notifications/send', { user_id: user.id, channel: 'email', message: 'Avant' }).expect(202);
    await env.db.manager.update(User, { id: user.id }, { emailOptedOutAt: new Date() });

    const sent = await startTheWorker();
    const row = await untilFinal(body.id);

    expect(row).toMatchObject({ status: 'cancelled', errorMessage: 'The user unsubscribed from email.' });
    expect(sent.email.calls).toEqual([]);
  });

  /** Signs an inbound message as Vonage does (SHA-256 HMAC of the sorted parameters). */
  function vonageSigned(params: Record<string, string>): Record<string, string> {
    const all = { ...params, timestamp: String(Math.floor(Date.now() / 1000)) };
    const base = Object.entries(all)
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([key, value]) => `&${key}=${value.replace(/[&=]/g, '_')}`)
      .join('');
    return { ...all, sig: createHmac('sha256', VONAGE_SECRET).update(base).digest('hex') };
  }
  const inbound = () => request(api.app).post('/webhooks/vonage/inbound').type('form');

  it('turns SMS off on a signed STOP reply and on again on START (Vonage inbound webhook), and ignores an unsigned one', async () => {
    const user = await userWith({ phone: '+33611112222' });
    const from = { msisdn: '33611112222', to: 'NOTOFINE' };

    const unsigned = await inbound().send({ ...from, text: 'STOP' });
    const untouched = await env.db.manager.findOneByOrFail(User, { id: user.id });
    await inbound().send(vonageSigned({ ...from, text: 'Arrêt svp' })).expect(204);
    const stopped = await env.db.manager.findOneByOrFail(User, { id: user.id });
    const refused = await client.post('/notifications/send', { user_id: user.id, channel: 'sms', message: 'x' }).expect(422);
    await inbound().send(vonageSigned({ ...from, text: 'START' })).expect(204);
    await inbound().send(vonageSigned({ ...from, text: 'Merci' })).expect(204);

    expect(unsigned.status).toBe(401);
    expect(untouched.smsOptedOutAt).toBeNull();
    expect(stopped.smsOptedOutAt).toEqual(expect.any(Date));
    expect(refused.body.type).toBe('/problems/channel-opted-out');
    expect((await env.db.manager.findOneByOrFail(User, { id: user.id })).smsOptedOutAt).toBeNull();
  });
});

describe('SMS replies through Twilio', () => {
  it('turns SMS off on a STOP signed by Twilio, and refuses an unsigned one', async () => {
    const user = await userWith({ phone: '+33633334444' });
    const params = { From: '+33633334444', To: '+33700000000', Body: 'STOP', MessageSid: 'SM0123' };
    const signature = twilio.getExpectedTwilioSignature(TWILIO_TOKEN, `${PUBLIC_BASE_URL}/webhooks/twilio/inbound`, params);

    const unsigned = await request(api.app).post('/webhooks/twilio/inbound').type('form').send(params).expect(401);
    const unchanged = await env.db.manager.findOneByOrFail(User, { id: user.id });
    await request(api.app).post('/webhooks/twilio/inbound').set('X-Twilio-Signature', signature).type('form').send(params).expect(204);

    expect(unsigned.body.type).toMatch(/^\/problems\//);
    expect(unchanged.smsOptedOutAt).toBeNull();
    expect((await env.db.manager.findOneByOrFail(User, { id: user.id })).smsOptedOutAt).toEqual(expect.any(Date));
  });
});

describe('digests', () => {
  it('sends the notifications of one user with one key within the window as one message', async () => {
    const sent = await startTheWorker();
    const user = await userWith();

    const ids: number[] = [];
    for (const message of ['Amende AB-123', 'Amende CD-456', 'Amende EF-789']) {
      const { body } = await client.post('/notifications/send', { user_id: user.id, channel: 'sms', message, digest_key: 'tickets' }).expect(202);
      ids.push(body.id);
    }
    const rows = await Promise.all(ids.map(untilFinal));

    expect(new Set(rows.map((row) => row.scheduledAt?.toISOString())).size).toBe(1);
    expect(sent.sms.calls).toHaveLength(1);
    expect(sent.sms.calls[0]!.text).toBe('Amende AB-123\n\nAmende CD-456\n\nAmende EF-789');
    expect(rows.map((row) => row.status)).toEqual(['sent', 'sent', 'sent']);
    expect(new Set(rows.map((row) => row.providerMessageId)).size).toBe(1);
  });
});
