import { createHmac } from 'node:crypto';
import { Notification, Reminder, User } from '@notofine/db';
import { UnsubscribeLinks } from '@notofine/notifications';
import { ProviderError, type Accepted, type EmailMessage, type SmsMessage } from '@notofine/providers';
import { apiClient, type ApiClient } from '@test/api-client';
import { insertDevice, insertReminder, insertTicket, insertUser } from '@test/factories';
import { failWith, heldCall, ScriptedProviders } from '@test/scripted-providers';
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
  // The digest window must outlast a few sends in a row on a slow, cold machine (1.5 s did not,
  // once, in a fresh clone's first run), and stay well inside waitFor's 10 s.
  env = await createTestEnvironment({ PUBLIC_BASE_URL, DIGEST_WINDOW_MS: '4000', TWILIO_AUTH_TOKEN: TWILIO_TOKEN, VONAGE_SIGNATURE_SECRET: VONAGE_SECRET });
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

  it('answers 409 to a cancel that comes while the worker is sending, and the row ends sent, not cancelled', async () => {
    const sent = await startTheWorker();
    const held = heldCall<SmsMessage, Accepted>((message) => ({ providerMessageId: `sms-${message.notificationId}` }));
    sent.sms.script(held.step);
    const user = await userWith();
    const { body } = await client.post('/notifications/send', { user_id: user.id, channel: 'sms', message: 'En cours' }).expect(202);
    await held.reached;

    const refused = await client.post(`/notifications/${body.id}/cancel`).expect(409);
    held.release();
    const row = await untilFinal(body.id);
    const again = await client.post(`/notifications/${body.id}/cancel`).expect(409);

    expect(refused.body).toMatchObject({ type: '/problems/conflict', detail: `Notification ${body.id} is being sent right now: it can no longer be cancelled.` });
    expect(row).toMatchObject({ status: 'sent', errorMessage: null, leaseToken: null });
    expect(again.body.detail).toBe(`Notification ${body.id} is sent: only a pending notification can be cancelled.`);
    expect(sent.sms.calls).toHaveLength(1);
    await stopTheWorker();
  });

  it('with cancels racing the worker, each notification ends cancelled and unsent (200) or sent once (409), never both', async () => {
    await stopTheWorker();
    const user = await userWith();
    const ids: number[] = [];
    for (let index = 0; index < 60; index += 1) {
      ids.push((await client.post('/notifications/send', { user_id: user.id, channel: 'email', message: `Course ${index}` }).expect(202)).body.id);
    }

    // Once the worker is on the queued jobs, the cancels arrive, all at once.
    const sent = await startTheWorker();
    await waitFor('the worker to send the first', () => sent.email.calls.length > 0, { intervalMs: 1 });
    const cancels = await Promise.all(ids.map((id) => client.post(`/notifications/${id}/cancel`)));
    const rows = await Promise.all(ids.map(untilFinal));

    const calls = (id: number) => sent.email.calls.filter((call) => call.notificationId === id).length;
    const outcomes = ids.map((id, index) => ({ id, answer: cancels[index]!.status, status: rows[index]!.status, calls: calls(id) }));
    for (const outcome of outcomes) {
      expect(outcome).toEqual(outcome.answer === 200 ? { ...outcome, status: 'cancelled', calls: 0 } : { ...outcome, answer: 409, status: 'sent', calls: 1 });
    }
    await stopTheWorker();
  });

  it('answers 404 to the cancel of a notification that does not exist', async () => {
    const response = await client.post('/notifications/987654321/cancel').expect(404);

    expect(response.body.type).toBe('/problems/not-found');
  });

  it('moves a send_at that falls in the user\'s quiet hours to their end', async () => {
    const user = await userWith({ quietHoursStart: '21:00', quietHoursEnd: '08:00' });
    const tomorrow = DateTime.now().setZone('Europe/Paris').plus({ days: 1 }).startOf('day');
    const sendAt = tomorrow.set({ hour: 23 });

    const sms = await client.post('/notifications/send', { user_id: user.id, channel: 'sms', message: 'Tard', send_at: sendAt.toISO() }).expect(202);
    const email = await client.post('/notifications/send', { user_id: user.id, channel: 'email', message: 'Tard', send_at: sendAt.toISO() }).expect(202);

    expect(sms.body.scheduled_at).toBe(tomorrow.plus({ days: 1 }).set({ hour: 8 }).toUTC().toISO());
    expect(email.body.scheduled_at).toBe(sendAt.toUTC().toISO());
    const job = await queues.job('sms', sms.body.id);
    expect(await job!.getState()).toBe('delayed');
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

  it('writes a pending summary reminder again when one of its tickets is paid, and cancels it once nothing is left unpaid', async () => {
    await stopTheWorker();
    const user = await userWith({ quietHoursStart: null, quietHoursEnd: null });
    const first = await insertTicket(env.db, user.id, { reference: 'SUM001', amountCents: 13500, dueDate: '2099-12-15' });
    const second = await insertTicket(env.db, user.id, { reference: 'SUM002', amountCents: 4500, dueDate: '2099-12-20' });
    await client.post(`/users/${user.id}/reminders`, { frequency_days: 7, channels: ['email', 'sms'], subject: 'Vos amendes' }).expect(201);
    await client.post('/reminders/process').expect(200);
    const before = await env.db.manager.find(Notification, { where: { userId: user.id }, order: { channel: 'ASC' } });

    await client.patch(`/tickets/${first.id}`, { status: 'paid' }).expect(200);
    const rewritten = await Promise.all(before.map((n) => rowOf(n.id)));
    await client.patch(`/tickets/${second.id}`, { status: 'cancelled' }).expect(200);
    const cancelled = await Promise.all(before.map((n) => rowOf(n.id)));
    const sent = await startTheWorker();
    await waitFor('the jobs to run', async () => (await queues.job('email', before[0]!.id))?.finishedOn);

    expect(before.map((n) => n.message)).toEqual([expect.stringContaining('2 contraventions impayées pour un total de 180,00 €'), expect.stringContaining('2 contraventions')]);
    expect(rewritten.map((n) => [n.status, n.subject])).toEqual([['pending', 'Vos amendes'], ['pending', 'Vos amendes']]);
    expect(rewritten[0]!.message).toBe('Rappel Notofine : vous avez 1 contravention impayée pour un total de 45,00 €. Prochaine échéance : contravention SUM002, à régler avant le 20 décembre 2099.');
    expect(cancelled.map((n) => [n.status, n.errorMessage])).toEqual([
      ['cancelled', 'Nothing is left unpaid: ticket SUM002 was cancelled.'],
      ['cancelled', 'Nothing is left unpaid: ticket SUM002 was cancelled.'],
    ]);
    expect([...sent.email.calls, ...sent.sms.calls]).toEqual([]);
    await stopTheWorker();
  });

  it('cancels the pending notices about a ticket once it is paid, but not critical ones, payment confirmations, nor notices about another ticket', async () => {
    await stopTheWorker();
    const user = await userWith();
    const ticket = await insertTicket(env.db, user.id, { reference: 'PAID42', amountCents: 13500, dueDate: '2099-12-15' });
    const other = await insertTicket(env.db, user.id, { reference: 'OTHER4' });
    const notice = (extra: Record<string, unknown>) => client.post('/notifications/send', { user_id: user.id, channel: 'email', ticket_id: ticket.id, ...extra }).expect(202);

    const due = await notice({ template: 'ticket_due', data: { reference: 'PAID42', amount_cents: 13500, due_date: '2099-12-15' } });
    const raw = await notice({ message: 'Votre contravention PAID42 est due' });
    const critical = await notice({ message: 'Avis de majoration PAID42', critical: true });
    const thanks = await notice({ template: 'ticket_paid', data: { reference: 'PAID42', amount_cents: 13500 } });
    const elsewhere = await client.post('/notifications/send', { user_id: user.id, channel: 'email', ticket_id: other.id, message: 'Votre contravention OTHER4 est due' }).expect(202);
    await client.patch(`/tickets/${ticket.id}`, { status: 'paid' }).expect(200);
    const sent = await startTheWorker();
    const rows = await Promise.all([due, raw, critical, thanks, elsewhere].map(({ body }) => untilFinal(body.id)));

    expect(rows.map((row) => [row.status, row.errorMessage])).toEqual([
      ['cancelled', 'Ticket PAID42 was paid.'],
      ['cancelled', 'Ticket PAID42 was paid.'],
      ['sent', null],
      ['sent', null],
      ['sent', null],
    ]);
    expect(sent.email.calls.map((call) => call.notificationId).sort()).toEqual([critical.body.id, thanks.body.id, elsewhere.body.id].sort());
  });

  it('lets a notice being sent when its ticket is paid finish: it ends sent, and the payment is recorded', async () => {
    const sent = await startTheWorker();
    const held = heldCall<SmsMessage, Accepted>((message) => ({ providerMessageId: `sms-${message.notificationId}` }));
    sent.sms.script(held.step);
    const user = await userWith();
    const ticket = await insertTicket(env.db, user.id, { reference: 'RACE01' });
    const { body } = await client.post('/notifications/send', { user_id: user.id, channel: 'sms', ticket_id: ticket.id, message: 'RACE01 est due' }).expect(202);
    await held.reached;

    const paid = await client.patch(`/tickets/${ticket.id}`, { status: 'paid' }).expect(200);
    held.release();
    const row = await untilFinal(body.id);

    expect(paid.body.status).toBe('paid');
    expect(row).toMatchObject({ status: 'sent', errorMessage: null });
    await stopTheWorker();
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

  it('checks the daily SMS cap when a fallback SMS comes to be sent: past it, the SMS is not sent and the chain goes on', async () => {
    const sent = await startTheWorker();
    sent.email.script(failWith('fail', 'mailbox does not exist'));
    const user = await userWith();
    const cap = env.config.security.smsDailyCap;
    await env.db.query(`INSERT INTO notifications (user_id, channel, message, status, attempts, sent_at) SELECT $1, 'sms', 'Déjà envoyé', 'sent', 1, now() FROM generate_series(1, $2)`, [user.id, cap]);

    const { body } = await client.post('/notifications/send', { user_id: user.id, channel: 'email', message: 'Votre amende', fallback: ['sms', 'push'] }).expect(202);
    const failed = await untilFinal(body.id);
    const sms = await untilFinal(failed.fallbackToId!);
    const push = await untilFinal(sms.fallbackToId!);

    expect(cap).toBeGreaterThan(0);
    expect(sms).toMatchObject({ channel: 'sms', status: 'failed', errorMessage: `The user reached the daily cap of ${cap} SMS.`, attempts: 0, fallbackChannels: ['push'] });
    expect(push).toMatchObject({ channel: 'push', status: 'sent', fallbackFromId: sms.id });
    expect([sent.sms.calls.length, sent.push.calls.length]).toEqual([0, 1]);
  });

  it('hands a stand-in the user declined after the send was accepted over to the next channel: cancelled, the chain goes on', async () => {
    const sent = await startTheWorker();
    const held = heldCall<EmailMessage, Accepted>(() => {
      throw new ProviderError('fail', 'mailbox does not exist');
    });
    sent.email.script(held.step);
    const user = await userWith();
    const { body } = await client.post('/notifications/send', { user_id: user.id, channel: 'email', message: 'Votre amende', fallback: ['sms', 'push'] }).expect(202);
    await held.reached;
    await client.put(`/users/${user.id}/preferences`, { channels: { sms: false } }).expect(200);
    held.release();

    const failed = await untilFinal(body.id);
    const sms = await untilFinal(failed.fallbackToId!);
    const push = await untilFinal(sms.fallbackToId!);

    expect(body.fallback_channels).toEqual(['sms', 'push']);
    expect(sms).toMatchObject({ channel: 'sms', status: 'cancelled', errorMessage: 'The user turned sms off in their preferences.', attempts: 0, fallbackToId: push.id });
    expect(push).toMatchObject({ channel: 'push', status: 'sent', fallbackFromId: sms.id, fallbackChannels: null });
    expect([sent.sms.calls.length, sent.push.calls.length]).toEqual([0, 1]);
  });

  it('ends the chain failed when every channel fails, each notification naming the next', async () => {
    const sent = await startTheWorker();
    sent.email.script(failWith('fail', 'mailbox does not exist'));
    sent.sms.script(failWith('invalid-address', 'not a mobile number'));
    sent.push.script(failWith('fail', 'sender id mismatch'));
    const user = await userWith();

    const { body } = await client.post('/notifications/send', { user_id: user.id, channel: 'email', message: 'Votre amende', fallback: ['sms', 'push'] }).expect(202);
    const first = await untilFinal(body.id);
    const second = await untilFinal(first.fallbackToId!);
    const third = await untilFinal(second.fallbackToId!);

    expect(first).toMatchObject({ channel: 'email', status: 'failed', errorMessage: 'scripted: mailbox does not exist', fallbackFromId: null, fallbackToId: second.id });
    expect(second).toMatchObject({ channel: 'sms', status: 'failed', errorMessage: 'scripted: not a mobile number', fallbackFromId: first.id, fallbackToId: third.id, fallbackChannels: ['push'] });
    expect(third).toMatchObject({ channel: 'push', status: 'failed', errorMessage: 'scripted: sender id mismatch', fallbackFromId: second.id, fallbackToId: null, fallbackChannels: null });
    const last = await client.get(`/notifications/${third.id}`).expect(200);
    expect(last.body).toMatchObject({ status: 'failed', fallback_channels: [], fallback_from_id: second.id, fallback_to_id: null });
    expect(await env.db.manager.countBy(Notification, { userId: user.id })).toBe(3);
    expect([sent.email.calls.length, sent.sms.calls.length, sent.push.calls.length]).toEqual([1, 1, 1]);
  });

  it('leaves out of the chain the fallback channels the user cannot be reached on, turned off or unsubscribed from, unless critical', async () => {
    const user = await userWith();
    const noPhone = await userWith({ phone: null });
    const send = (userId: number, extra: Record<string, unknown> = {}) =>
      client.post('/notifications/send', { user_id: userId, channel: 'sms', message: 'Avis', fallback: ['push', 'email'], ...extra }).expect(202);

    const all = await send(user.id);
    await client.put(`/users/${user.id}/preferences`, { channels: { push: false } }).expect(200);
    const pushOff = await send(user.id);
    await client.patch(`/users/${user.id}`, { opted_out: { email: true } }).expect(200);
    const emailOut = await send(user.id);
    const critical = await send(user.id, { critical: true });
    const unreachable = await client.post('/notifications/send', { user_id: noPhone.id, channel: 'email', message: 'Avis', fallback: ['sms', 'push'] }).expect(202);

    expect(all.body.fallback_channels).toEqual(['push', 'email']);
    expect(pushOff.body.fallback_channels).toEqual(['email']);
    expect(emailOut.body.fallback_channels).toEqual([]);
    // A critical notice goes where the user turned a channel off or unsubscribed: its fallbacks too.
    expect(critical.body.fallback_channels).toEqual(['push', 'email']);
    expect(unreachable.body.fallback_channels).toEqual(['push']);
    expect((await rowOf(emailOut.body.id)).fallbackChannels).toBeNull();
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

  it('refuses a link whose user was changed or whose signature was tampered with, and unsubscribes nobody', async () => {
    const user = await userWith();
    const victim = await userWith();
    const token = new UnsubscribeLinks(env.config.security.unsubscribeSecret, PUBLIC_BASE_URL).token(user.id, 'email');
    const [, signature] = token.split('.');
    const otherUser = `${Buffer.from(`${victim.id}.email`).toString('base64url')}.${signature}`;
    const otherChannel = `${Buffer.from(`${user.id}.sms`).toString('base64url')}.${signature}`;
    const otherSecret = new UnsubscribeLinks('another-unsubscribe-secret-0123456789', PUBLIC_BASE_URL).token(victim.id, 'email');

    for (const forged of [otherUser, otherChannel, otherSecret, `${token}x`, token.replace('.', '')]) {
      const page = await request(api.app).get(`/unsubscribe/${forged}`).expect(404);
      const click = await request(api.app).post(`/unsubscribe/${forged}`).type('form').send('List-Unsubscribe=One-Click').expect(404);
      expect([page.body.type, click.body.type]).toEqual(['/problems/unsubscribe-link-invalid', '/problems/unsubscribe-link-invalid']);
    }

    for (const id of [user.id, victim.id]) expect(await env.db.manager.findOneByOrFail(User, { id })).toMatchObject({ emailOptedOutAt: null, smsOptedOutAt: null });
  });

  it('cancels at sending time an email accepted before the user unsubscribed by the link; a critical one still goes', async () => {
    await stopTheWorker();
    const user = await userWith();
    const { body } = await client.post('/notifications/send', { user_id: user.id, channel: 'email', message: 'Avant' }).expect(202);
    const { body: notice } = await client.post('/notifications/send', { user_id: user.id, channel: 'email', message: 'Avis de majoration', critical: true }).expect(202);
    const link = new UnsubscribeLinks(env.config.security.unsubscribeSecret, PUBLIC_BASE_URL).url(user.id, 'email')!;
    await request(api.app).post(new URL(link).pathname).type('form').send('List-Unsubscribe=One-Click').expect(200);

    const sent = await startTheWorker();
    const row = await untilFinal(body.id);
    const critical = await untilFinal(notice.id);

    expect(row).toMatchObject({ status: 'cancelled', errorMessage: 'The user unsubscribed from email.', attempts: 0 });
    expect(critical).toMatchObject({ status: 'sent', critical: true });
    expect(sent.email.calls.map((call) => call.notificationId)).toEqual([notice.id]);
    const shown = await client.get(`/notifications/${body.id}`).expect(200);
    expect(shown.body).toMatchObject({ status: 'cancelled', error_message: 'The user unsubscribed from email.', sent_at: null });
  });

  /** Signs an inbound message as Vonage does (SHA-256 HMAC of the sorted parameters). */
  let inboundMessages = 0;
  /** Signed as Vonage signs, each reply with its own message id as Vonage gives (the same id twice is a replay, ignored). */
  function vonageSigned(params: Record<string, string>): Record<string, string> {
    const all = { messageId: `inbound-${(inboundMessages += 1)}`, ...params, timestamp: String(Math.floor(Date.now() / 1000)) };
    const base = Object.entries(all)
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([key, value]) => `&${key}=${value.replace(/[&=]/g, '_')}`)
      .join('');
    return { ...all, sig: createHmac('sha256', VONAGE_SECRET).update(base).digest('hex') };
  }
  const inbound = () => request(api.app).post('/webhooks/vonage/inbound').type('form');

  it('cancels at sending time an SMS accepted before the user replied STOP; a critical one still goes', async () => {
    await stopTheWorker();
    const user = await userWith({ phone: '+33655556666' });
    const { body } = await client.post('/notifications/send', { user_id: user.id, channel: 'sms', message: 'Avant', send_at: new Date(Date.now() + 300).toISOString() }).expect(202);
    const { body: notice } = await client.post('/notifications/send', { user_id: user.id, channel: 'sms', message: 'Avis de majoration', critical: true }).expect(202);
    await inbound().send(vonageSigned({ msisdn: '33655556666', to: 'NOTOFINE', text: 'STOP' })).expect(204);

    const sent = await startTheWorker();
    const row = await untilFinal(body.id);
    const critical = await untilFinal(notice.id);

    expect(row).toMatchObject({ status: 'cancelled', errorMessage: 'The user unsubscribed from sms.' });
    expect(critical.status).toBe('sent');
    expect(sent.sms.calls.map((call) => call.notificationId)).toEqual([notice.id]);
  });

  it('cancels at sending time a notification on a channel the user turned off after it was accepted; a critical one and a reminder\'s still go', async () => {
    await stopTheWorker();
    const user = await userWith({ quietHoursStart: null, quietHoursEnd: null });
    const { body } = await client.post('/notifications/send', { user_id: user.id, channel: 'email', message: 'Avant' }).expect(202);
    const { body: notice } = await client.post('/notifications/send', { user_id: user.id, channel: 'email', message: 'Avis de majoration', critical: true }).expect(202);
    await client.post(`/users/${user.id}/reminders`, { frequency_days: 7, channels: ['email'], message: 'Rappel hebdomadaire' }).expect(201);
    await client.post('/reminders/process').expect(200);
    const reminded = await env.db.manager.findOneByOrFail(Notification, { userId: user.id, message: 'Rappel hebdomadaire' });
    await client.put(`/users/${user.id}/preferences`, { channels: { email: false } }).expect(200);

    const sent = await startTheWorker();
    const row = await untilFinal(body.id);
    const critical = await untilFinal(notice.id);
    const reminder = await untilFinal(reminded.id);

    expect(row).toMatchObject({ status: 'cancelled', errorMessage: 'The user turned email off in their preferences.', attempts: 0 });
    expect(critical).toMatchObject({ status: 'sent', critical: true });
    // Reminders carry their own channels: the preferences are not theirs.
    expect(reminder.status).toBe('sent');
    expect(sent.email.calls.map((call) => call.notificationId).sort((a, b) => a - b)).toEqual([notice.id, reminded.id].sort((a, b) => a - b));
  });

  it('turns SMS off on a signed STOP reply and on again on START (Vonage inbound webhook), and ignores an unsigned one; critical notices still go', async () => {
    const user = await userWith({ phone: '+33611112222' });
    const from = { msisdn: '33611112222', to: 'NOTOFINE' };

    const unsigned = await inbound().send({ ...from, text: 'STOP' });
    const untouched = await env.db.manager.findOneByOrFail(User, { id: user.id });
    await inbound().send(vonageSigned({ ...from, text: 'Arrêt svp' })).expect(204);
    const stopped = await env.db.manager.findOneByOrFail(User, { id: user.id });
    const refused = await client.post('/notifications/send', { user_id: user.id, channel: 'sms', message: 'x' }).expect(422);
    const critical = await client.post('/notifications/send', { user_id: user.id, channel: 'sms', message: 'Avis de majoration', critical: true }).expect(202);
    await inbound().send(vonageSigned({ ...from, text: 'START' })).expect(204);
    await inbound().send(vonageSigned({ ...from, text: 'Merci' })).expect(204);

    expect(unsigned.status).toBe(401);
    expect(untouched.smsOptedOutAt).toBeNull();
    expect(stopped.smsOptedOutAt).toEqual(expect.any(Date));
    expect(refused.body).toMatchObject({ type: '/problems/channel-opted-out', detail: `User ${user.id} unsubscribed from sms: only notices marked critical go there.` });
    expect(critical.body.status).toBe('pending');
    expect((await env.db.manager.findOneByOrFail(User, { id: user.id })).smsOptedOutAt).toBeNull();
    await client.post('/notifications/send', { user_id: user.id, channel: 'sms', message: 'x' }).expect(202);
  });

  it('subscribes a user to SMS again through the API', async () => {
    const user = await userWith({ phone: '+33611113333' });
    await inbound().send(vonageSigned({ msisdn: '33611113333', to: 'NOTOFINE', text: 'STOP' })).expect(204);

    const again = await client.patch(`/users/${user.id}`, { opted_out: { sms: false } }).expect(200);

    expect(again.body.opted_out).toEqual({ email: null, sms: null });
    await client.post('/notifications/send', { user_id: user.id, channel: 'sms', message: 'x' }).expect(202);
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

  it('merges only one user\'s notifications with the same key on the same channel', async () => {
    const sent = await startTheWorker();
    const user = await userWith();
    const other = await userWith();
    const send = (userId: number, channel: string, digestKey: string | undefined, message: string) =>
      client.post('/notifications/send', { user_id: userId, channel, message, ...(digestKey && { digest_key: digestKey }) }).expect(202);

    const bodies = [
      await send(user.id, 'sms', 'tickets', 'A1'),
      await send(user.id, 'sms', 'tickets', 'A2'),
      await send(user.id, 'sms', 'receipts', 'B1'),
      await send(user.id, 'push', 'tickets', 'C1'),
      await send(other.id, 'sms', 'tickets', 'D1'),
      await send(user.id, 'sms', undefined, 'E1'),
    ].map((response) => response.body);
    const rows = await Promise.all(bodies.map((body) => untilFinal(body.id)));

    expect(rows.map((row) => row.status)).toEqual(['sent', 'sent', 'sent', 'sent', 'sent', 'sent']);
    expect(sent.sms.calls.map((call) => call.text).sort()).toEqual(['A1\n\nA2', 'B1', 'D1', 'E1']);
    expect(sent.push.calls.map((call) => call.body)).toEqual(['C1']);
    expect(bodies[5].scheduled_at).toBeNull();
  });

  it('starts a new digest for a notification that comes after the last one went out, or while it is being sent', async () => {
    const sent = await startTheWorker();
    const user = await userWith();
    const send = (message: string) => client.post('/notifications/send', { user_id: user.id, channel: 'sms', message, digest_key: 'tickets' }).expect(202);
    const held = heldCall<SmsMessage, Accepted>((message) => ({ providerMessageId: `sms-${message.notificationId}` }));
    sent.sms.script(held.step);

    const first = (await send('Amende 1')).body;
    const second = (await send('Amende 2')).body;
    await held.reached;
    const during = (await send('Amende 3')).body;
    held.release();
    const [one, two] = await Promise.all([untilFinal(first.id), untilFinal(second.id)]);
    const three = await untilFinal(during.id);
    const after = (await send('Amende 4')).body;
    const four = await untilFinal(after.id);

    expect(second.scheduled_at).toBe(first.scheduled_at);
    expect(new Date(during.scheduled_at).getTime()).toBeGreaterThan(new Date(first.scheduled_at).getTime());
    expect(new Date(after.scheduled_at).getTime()).toBeGreaterThan(three.sentAt!.getTime());
    expect(sent.sms.calls.map((call) => call.text)).toEqual(['Amende 1\n\nAmende 2', 'Amende 3', 'Amende 4']);
    expect([one, two, three, four].map((row) => row.status)).toEqual(['sent', 'sent', 'sent', 'sent']);
    expect(one.providerMessageId).toBe(two.providerMessageId);
    expect(three.providerMessageId).not.toBe(one.providerMessageId);
  });

  it('leaves a cancelled notification out of its digest, and the others still go together', async () => {
    const sent = await startTheWorker();
    const user = await userWith();
    const send = (message: string) => client.post('/notifications/send', { user_id: user.id, channel: 'email', message, digest_key: 'tickets' }).expect(202);

    const bodies = [(await send('Amende 1')).body, (await send('Amende 2')).body, (await send('Amende 3')).body];
    await client.post(`/notifications/${bodies[0].id}/cancel`).expect(200);
    const rows = await Promise.all(bodies.map((body) => untilFinal(body.id)));

    expect(rows.map((row) => row.status)).toEqual(['cancelled', 'sent', 'sent']);
    expect(sent.email.calls.map((call) => call.text.split('\n\n-- \n')[0])).toEqual(['Amende 2\n\nAmende 3']);
  });
});

describe('templates through the worker', () => {
  const TICKET = { reference: 'AB-123', amount_cents: 13500, due_date: '2099-12-15' };

  it('sends a template\'s email with its subject, its own HTML body and the unsubscribe link at the foot of both parts', async () => {
    const sent = await startTheWorker();
    const user = await userWith({ locale: 'en-US' });

    const { body } = await client.post('/notifications/send', { user_id: user.id, channel: 'email', template: 'ticket_due', data: TICKET }).expect(202);
    await untilFinal(body.id);
    const [email] = sent.email.calls;
    const link = email!.unsubscribeUrl!;

    expect(body).toMatchObject({ template: 'ticket_due', subject: 'Traffic ticket AB-123 due by December 15, 2099' });
    expect(email).toMatchObject({ subject: 'Traffic ticket AB-123 due by December 15, 2099', lang: 'en' });
    expect(email!.text).toContain('Your traffic ticket AB-123 for €135.00 is due by December 15, 2099.');
    expect(email!.text.endsWith(`\n\n-- \nStop receiving these emails: ${link}`)).toBe(true);
    expect(email!.html).toContain('<p>Your traffic ticket <strong>AB-123</strong> for <strong>€135.00</strong> is due by <strong>December 15, 2099</strong>.');
    expect(email!.html!.endsWith(`<p>-- <br>\nStop receiving these emails: <a href="${link}">${link}</a></p>`)).toBe(true);
  });

  it('hands a failed template notification to its fallback channels in the words their own templates have', async () => {
    const sent = await startTheWorker();
    sent.email.script(failWith('fail', 'mailbox does not exist'));
    sent.sms.script(failWith('fail', 'not a mobile number'));
    const user = await userWith({ locale: 'fr' });

    const { body } = await client.post('/notifications/send', { user_id: user.id, channel: 'email', template: 'ticket_due', data: TICKET, fallback: ['sms', 'push'] }).expect(202);
    const email = await untilFinal(body.id);
    const sms = await untilFinal(email.fallbackToId!);
    const push = await untilFinal(sms.fallbackToId!);

    expect(sms).toMatchObject({ channel: 'sms', status: 'failed', template: 'ticket_due', subject: null, html: null, message: 'Notofine : votre contravention AB-123 de 135,00 € est à régler avant le 15 décembre 2099.' });
    expect(push).toMatchObject({ channel: 'push', status: 'sent', subject: 'Contravention à régler', html: null, message: 'AB-123 : 135,00 € à régler avant le 15 décembre 2099.' });
    expect(sent.push.calls.map((call) => [call.title, call.body])).toEqual([['Contravention à régler', 'AB-123 : 135,00 € à régler avant le 15 décembre 2099.']]);
  });

  it('gives an email standing in for a template\'s SMS the subject and HTML body of the email template', async () => {
    const sent = await startTheWorker();
    sent.sms.script(failWith('fail', 'not a mobile number'));
    const user = await userWith({ locale: 'fr' });

    const { body } = await client.post('/notifications/send', { user_id: user.id, channel: 'sms', template: 'ticket_due', data: TICKET, fallback: ['email'] }).expect(202);
    const sms = await untilFinal(body.id);
    const email = await untilFinal(sms.fallbackToId!);

    expect(email).toMatchObject({ channel: 'email', status: 'sent', subject: 'Contravention AB-123 à régler avant le 15 décembre 2099' });
    expect(sent.email.calls[0]!.html).toContain('<strong>135,00 €</strong>');
    expect(sent.email.calls[0]!.text).toMatch(/^Bonjour,\n\nVotre contravention AB-123 d’un montant de 135,00 €/);
  });

  it('writes a digest of template emails as one text, its HTML part made from it', async () => {
    const sent = await startTheWorker();
    const user = await userWith();

    const bodies = [];
    for (const reference of ['AB-1', 'AB-2']) {
      bodies.push((await client.post('/notifications/send', { user_id: user.id, channel: 'email', template: 'ticket_due', data: { ...TICKET, reference }, digest_key: 'due' }).expect(202)).body);
    }
    await Promise.all(bodies.map((body) => untilFinal(body.id)));

    expect(sent.email.calls).toHaveLength(1);
    expect(sent.email.calls[0]!.html).toBeUndefined();
    expect(sent.email.calls[0]!.text).toMatch(/AB-1 d’un montant[\s\S]*AB-2 d’un montant/);
  });
});

