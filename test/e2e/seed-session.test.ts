import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { apiClient } from '@test/api-client';
import { createTestEnvironment, type TestEnvironment } from '@test/test-environment';
import { waitFor } from '@test/wait-for';
import { start as startApi, type ApiService } from '../../services/api/src/api-service';
import { start as startWorker, type WorkerService } from '../../services/worker/src/worker-service';

// The README's example session, end to end: the API and the worker in-process over the real
// PostgreSQL and Redis, delivering through the outbox providers.

let env: TestEnvironment;
let api: ApiService;
let worker: WorkerService;
let client: ReturnType<typeof apiClient>;

beforeAll(async () => {
  env = await createTestEnvironment();
  api = await startApi({ config: env.config, logger: env.logger, listen: false });
  worker = await startWorker({ config: env.config, logger: env.logger, scheduleReminders: false });
  client = apiClient(api.app);
});
afterAll(async () => {
  await worker.stop();
  await api.stop();
  await env.cleanup();
});

async function outbox(channel: string): Promise<Array<Record<string, unknown>>> {
  const text = await readFile(join(env.outboxDir, `${channel}.jsonl`), 'utf8').catch(() => '');
  return text.split('\n').filter(Boolean).map((line) => JSON.parse(line) as Record<string, unknown>);
}

it('follows the seed: a user, a ticket, a weekly reminder on email and SMS, a reminder run, a one-off send, the list', async () => {
  const user = (await client.post('/users', { full_name: 'Jean Dupont', email: 'jean@example.com', phone: '+33612345678' }).expect(201)).body;
  const ticket = (await client.post(`/users/${user.id}/tickets`, { reference: 'ABC123', amount_cents: 13500, due_date: '2026-12-15' }).expect(201)).body;
  await client.post(`/users/${user.id}/reminders`, { frequency_days: 7, channels: ['email', 'sms'] }).expect(201);

  const run = await client.post('/reminders/process').expect(200);
  expect(run.body).toEqual({ processed: 1, skipped: 0, channels: { email: 1, sms: 1, push: 0 } });

  const sent = await client
    .post('/notifications/send', { user_id: user.id, message: 'Votre contravention est due', channel: 'email', subject: 'Rappel de paiement', ticket_id: ticket.id })
    .expect(202);
  expect(sent.body).toMatchObject({ status: 'pending', channel: 'email', ticket_id: ticket.id });

  const list = await waitFor('every notification to be sent', async () => {
    const { body } = await client.get(`/users/${user.id}/notifications?limit=10`).expect(200);
    const notifications = body.notifications as Array<{ status: string }>;
    return notifications.length === 3 && notifications.every((n) => n.status === 'sent') && notifications;
  });
  expect(list).toEqual([
    expect.objectContaining({ id: sent.body.id, channel: 'email', provider: 'outbox', attempts: 1, provider_message_id: expect.stringMatching(/^outbox-/) }),
    expect.objectContaining({ channel: 'sms', reminder_id: expect.any(Number) }),
    expect.objectContaining({ channel: 'email', reminder_id: expect.any(Number) }),
  ]);

  const emails = await outbox('email');
  expect(emails).toEqual(
    expect.arrayContaining([
      expect.objectContaining({ to: 'jean@example.com', subject: 'Rappel de paiement', text: 'Votre contravention est due', notification_id: sent.body.id }),
      expect.objectContaining({ to: 'jean@example.com', subject: 'Rappel : contraventions impayées', text: expect.stringContaining('ABC123') }),
    ]),
  );
  expect(await outbox('sms')).toEqual([expect.objectContaining({ to: '+33612345678', text: expect.stringContaining('135,00 €') })]);
});

it('a ticket notice reaches the owner on each channel they accept', async () => {
  const user = (await client.post('/users', { full_name: 'Marie Curie', email: 'marie@example.com' }).expect(201)).body;
  const ticket = (await client.post(`/users/${user.id}/tickets`, { reference: 'XYZ789', amount_cents: 9000, due_date: '2027-01-10' }).expect(201)).body;
  await client.post(`/users/${user.id}/devices`, { token: 'fcm-token-marie-0123456789', platform: 'ios' }).expect(201);

  const notice = await client.post(`/tickets/${ticket.id}/notify`, { message: 'Votre contravention #XYZ789 est due', subject: 'Rappel de paiement' }).expect(202);

  expect(notice.body.channels).toEqual({
    email: { status: 'pending', notification_id: expect.any(Number) },
    sms: { status: 'skipped', reason: 'the user has no phone number' },
    push: { status: 'pending', notification_id: expect.any(Number) },
  });
  const push = await waitFor('the push to be sent', async () => {
    const { body } = await client.get(`/notifications/${notice.body.channels.push.notification_id}`).expect(200);
    return body.status === 'sent' && body;
  });
  expect(push).toMatchObject({ provider: 'outbox', attempts: 1 });
  expect(await outbox('push')).toEqual([expect.objectContaining({ token: 'fcm-token-marie-0123456789', title: 'Rappel de paiement', body: 'Votre contravention #XYZ789 est due' })]);
});
