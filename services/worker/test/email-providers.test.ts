import { Notification } from '@notofine/db';
import { createProviders } from '@notofine/providers';
import { DELIVERY_QUEUES, connectRedis, createRedis, deliveryJobId } from '@notofine/queue';
import { captureLogs } from '@test/capture-logs';
import { insertUser } from '@test/factories';
import { createTestEnvironment, type TestEnvironment } from '@test/test-environment';
import { waitFor } from '@test/wait-for';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { sendGridError, startSendGridServer, type LoopbackSendGrid } from '../../../packages/providers/test/loopback/sendgrid-server';
import { start, type WorkerService } from '../src/worker-service';

// The worker sending email through SendGrid as configured in production (EMAIL_PROVIDER=sendgrid,
// the real SDK), against a loopback that speaks SendGrid's v3 API; the logs are captured as JSON.

const API_KEY = 'SG.e2e-secret-sendgrid-key.0123456789';
const PROVIDER_TIMEOUT_MS = 500;

let sendgrid: LoopbackSendGrid;
let env: TestEnvironment;
let worker: WorkerService;
let redis: Redis;
let emailQueue: Queue;
const logs = captureLogs('worker');

beforeAll(async () => {
  sendgrid = await startSendGridServer({ apiKey: API_KEY });
  env = await createTestEnvironment({
    DELIVERY_ATTEMPTS: '3',
    EMAIL_PROVIDER: 'sendgrid',
    SENDGRID_API_KEY: API_KEY,
    SENDGRID_BASE_URL: sendgrid.url,
    EMAIL_FROM: 'Notofine <no-reply@notofine.fr>',
    PROVIDER_TIMEOUT_MS: String(PROVIDER_TIMEOUT_MS),
  });
  worker = await start({ config: env.config, logger: logs.logger, providers: createProviders(env.config.providers, logs.logger), scheduleReminders: false });
  redis = createRedis(env.config.redis.url, 'worker', 'notofine-tests');
  await connectRedis(redis, env.config.redis.url);
  emailQueue = new Queue(DELIVERY_QUEUES.email, { connection: redis, prefix: env.config.redis.queuePrefix });
});
afterAll(async () => {
  await emailQueue?.close();
  await redis?.quit();
  await worker?.stop();
  await env?.cleanup();
  await sendgrid?.close();
});
beforeEach(() => sendgrid.reset());

async function sendEmail(email: string): Promise<number> {
  const user = await insertUser(env.db, { email });
  const pending = await worker.notifications.sendNotification({ userId: user.id, channel: 'email', subject: 'Rappel : contravention impayée', message: 'Votre contravention #ABC123 est due.' });
  return pending.id;
}

function row(id: number): Promise<Notification> {
  return env.db.manager.findOneByOrFail(Notification, { id });
}

function settled(id: number): Promise<Notification> {
  return waitFor(`notification ${id} to leave pending`, async () => {
    const current = await row(id);
    return current.status !== 'pending' && current;
  });
}

it('retries after a 500 and ends sent on the second attempt, with SendGrid’s X-Message-Id', async () => {
  sendgrid.respondWith(sendGridError(500, ['internal error']));

  const id = await sendEmail('paul.martin@example.com');
  const sent = await settled(id);

  expect(sendgrid.sendCalls()).toBe(2);
  expect(sendgrid.messageIds()).toHaveLength(1);
  expect(sent).toMatchObject({ status: 'sent', attempts: 2, provider: 'sendgrid', providerMessageId: sendgrid.messageIds()[0], errorMessage: null });
  expect(sent.sentAt).toBeInstanceOf(Date);
  expect(sendgrid.mails().map((mail) => [mail.personalizations[0]?.to[0]?.email, mail.custom_args?.notification_id])).toEqual([
    ['paul.martin@example.com', String(id)],
    ['paul.martin@example.com', String(id)],
  ]);
});

it('fails at once on a 400, with SendGrid’s message, after one call, and leaks neither the API key nor the address to the logs or the job', async () => {
  const email = 'marie.curie@example.com';
  // A message quoting the address, so that the row, the logs and the job had it at hand to leak.
  sendgrid.respondWith(sendGridError(400, [{ field: 'personalizations.0.to.0.email', message: `${email} does not contain a valid address.` }]));

  const id = await sendEmail(email);
  const failed = await settled(id);

  expect(failed).toMatchObject({
    status: 'failed',
    attempts: 1,
    providerMessageId: null,
    errorMessage: 'sendgrid: HTTP 400: personalizations.0.to.0.email: m***@example.com does not contain a valid address.',
  });
  expect(sendgrid.sendCalls()).toBe(1);
  const failure = await waitFor('the failure to be logged', () => logs.entries().find((entry) => entry.notification_id === id && entry.reason !== undefined));
  expect(failure.reason).toBe('sendgrid: HTTP 400: personalizations.0.to.0.email: m***@example.com does not contain a valid address.');
  const written = logs.lines.join('\n');
  expect(written).not.toContain(API_KEY);
  expect(written).not.toContain(email);
  const job = (await emailQueue.getJob(deliveryJobId(id)))?.asJSON();
  expect(job?.failedReason).toContain('HTTP 400');
  expect(JSON.stringify(job)).not.toContain(email);
  expect(JSON.stringify(job)).not.toContain(API_KEY);
});

it('waits out a 429 for its Retry-After without spending an attempt, then sends', async () => {
  sendgrid.respondWith(sendGridError(429, ['too many requests'], { 'Retry-After': '1' }));

  const id = await sendEmail('louise.michel@example.com');
  const throttled = await waitFor('the throttle to be recorded', async () => {
    const current = await row(id);
    return current.errorMessage?.includes('throttled') && current;
  });
  const sent = await settled(id);

  expect(throttled).toMatchObject({ status: 'pending', attempts: 0, errorMessage: expect.stringMatching(/^sendgrid: HTTP 429: too many requests \(throttled/) });
  expect(sent).toMatchObject({ status: 'sent', attempts: 1, providerMessageId: sendgrid.messageIds()[0] });
  expect(sendgrid.sendCalls()).toBe(2);
});

it('cuts off a SendGrid that does not answer after the provider timeout, and sends on the retry', async () => {
  sendgrid.respondWith('hang');

  const id = await sendEmail('victor.hugo@example.com');
  const sent = await settled(id);

  expect(sent).toMatchObject({ status: 'sent', attempts: 2, providerMessageId: sendgrid.messageIds()[0] });
  expect(sendgrid.sendCalls()).toBe(2);
  const retried = logs.entries().find((entry) => entry.notification_id === id && entry.reason !== undefined);
  expect(retried?.reason).toBe(`sendgrid: SendGrid did not answer within ${PROVIDER_TIMEOUT_MS} ms`);
});
