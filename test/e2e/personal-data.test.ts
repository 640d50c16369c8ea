import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CHANNELS, IdempotencyKey, Notification } from '@notofine/db';
import { DELIVERY_JOB, deliveryJobId } from '@notofine/queue';
import { apiClient, type ApiClient } from '@test/api-client';
import { captureLogs } from '@test/capture-logs';
import { databaseText, redisEntries, redisText } from '@test/inspect';
import { TEST_API_KEY, createTestEnvironment, type TestEnvironment } from '@test/test-environment';
import { waitFor } from '@test/wait-for';
import { createApiKey } from '../../services/api/src/api-keys/api-keys';
import { start as startApi, type ApiService } from '../../services/api/src/api-service';
import { openDeliveryQueues } from '../../services/api/test/delivery-queues';
import type { LoopbackHttpServer } from '../../packages/providers/test/loopback/http-server';
import { sendGridError, startSendGridServer, type LoopbackSendGrid } from '../../packages/providers/test/loopback/sendgrid-server';
import { startTwilioServer, twilioError } from '../../packages/providers/test/loopback/twilio-server';
import { start as startWorker, type WorkerService } from '../../services/worker/src/worker-service';

// Where personal data may not be: Redis (job payloads and whatever BullMQ keeps: return values,
// failure reasons, stack traces), the logs (masked there), the database in clear (API keys, push
// tokens), and anywhere once the user is erased.

const EMAIL = 'marie.curie@example.com';
const PHONE = '+33698765432';
const PUSH_TOKEN = 'fcm-device:APA91bGq7RzK2m5Lx8Vt3Nw0Pd9Hs6Jy4Fb1Qc7Ze2Ua5Xo8Ir3Tk6Mv9Lg0Wn';

let env: TestEnvironment;
let api: ApiService;
let client: ApiClient;
let sendKey: string;
const workers: WorkerService[] = [];
/** What the API and the workers log, at every level. */
const logs = captureLogs('e2e');

beforeAll(async () => {
  env = await createTestEnvironment();
  api = await startApi({ config: env.config, logger: logs.logger, listen: false });
  client = apiClient(api.app);
  sendKey = (await createApiKey(env.db.manager, 'backend', 'send')).key;
});
afterAll(async () => {
  await Promise.all(workers.map((worker) => worker.stop()));
  await api.stop();
  await env.cleanup();
});

async function startWorkers(): Promise<void> {
  workers.push(await startWorker({ config: env.config, logger: logs.logger, scheduleReminders: false }));
}

const ERASED = { name: 'Pierre Curie', email: 'pierre.curie@example.com', phone: '+33611223344', token: `${PUSH_TOKEN}-erased` };

async function createUser(person = { name: 'Marie Curie', email: EMAIL, phone: PHONE, token: PUSH_TOKEN }): Promise<number> {
  const { body: user } = await client.post('/users', { full_name: person.name, email: person.email, phone: person.phone }).set('Idempotency-Key', `create-${Date.now()}`).expect(201);
  await client.post(`/users/${user.id}/devices`, { token: person.token, platform: 'android' }).expect(201);
  return user.id as number;
}

async function sendAll(userId: number): Promise<number[]> {
  const sender = apiClient(api.app, sendKey);
  const ids: number[] = [];
  for (const channel of CHANNELS) {
    const { body } = await sender.post('/notifications/send', { user_id: userId, channel, message: `Amende n°${channel}` }).set('Idempotency-Key', `send-${userId}-${channel}`).expect(202);
    ids.push(body.id as number);
  }
  return ids;
}

it('keeps no email, phone number or push token in Redis, before or after delivery, and no key or token in clear in the database', async () => {
  const userId = await createUser();
  const ids = await sendAll(userId);
  const { token: userToken } = (await client.post(`/users/${userId}/tokens`).set('Idempotency-Key', `token-${userId}`).expect(201)).body as { token: string };

  const queued = await redisText(env);
  await startWorkers();
  await waitFor('the three notifications to be sent', async () => (await env.db.manager.countBy(Notification, { userId, status: 'sent' })) === 3);
  const delivered = await redisText(env);
  const database = await databaseText(env);

  // The scans saw the jobs: they would have seen an address in them.
  for (const id of ids) expect(queued).toContain(`${env.id}:${CHANNELS[ids.indexOf(id)]}:${deliveryJobId(id)}`);
  for (const contents of [queued, delivered]) {
    expect([EMAIL, PHONE, PHONE.slice(3), PUSH_TOKEN, PUSH_TOKEN.slice(0, 24), TEST_API_KEY, sendKey, userToken].filter((secret) => contents.includes(secret))).toEqual([]);
  }
  expect(database).toContain(EMAIL); // the user's row holds it, as it must
  expect([PUSH_TOKEN.slice(0, 24), TEST_API_KEY, sendKey, userToken].filter((secret) => database.includes(secret))).toEqual([]);
  // The logs tell of every send, with the addresses masked.
  const logged = logs.lines.join('\n');
  expect(logged).toContain('m***@example.com');
  expect(logged).toContain('+33******32');
  expect([EMAIL, PHONE, PUSH_TOKEN, PUSH_TOKEN.slice(0, 24), TEST_API_KEY, sendKey, userToken].filter((secret) => logged.includes(secret))).toEqual([]);
  // The provider did get the token: the worker opened it.
  const pushes = await readFile(join(env.outboxDir, 'push.jsonl'), 'utf8');
  expect(pushes).toContain(PUSH_TOKEN);
});

/** Every line the outbox holds, all channels together. */
async function outboxLines(): Promise<string> {
  const files = await Promise.all(CHANNELS.map((channel) => readFile(join(env.outboxDir, `${channel}.jsonl`), 'utf8').catch(() => '')));
  return files.join('');
}

/** `HH:MM` in UTC, `hours` from now. */
const utcClock = (hours: number): string => new Date(Date.now() + hours * 3_600_000).toISOString().slice(11, 16);

it('erases a user with everything that is theirs, waiting, scheduled and quiet-hours jobs included, and sends none of them', async () => {
  await Promise.all(workers.splice(0).map((worker) => worker.stop()));
  const userId = await createUser(ERASED);
  await client.patch(`/users/${userId}`, { timezone: 'UTC', quiet_hours: { start: utcClock(-1), end: utcClock(2) } }).expect(200);
  const sender = apiClient(api.app, sendKey);
  const ids = await sendAll(userId);
  const scheduled = (await sender.post('/notifications/send', { user_id: userId, channel: 'email', message: 'Plus tard', send_at: new Date(Date.now() + 3_600_000).toISOString() }).expect(202)).body;
  const queues = openDeliveryQueues(env);
  try {
    // Before: email waiting, SMS and push held by the quiet hours, the scheduled email delayed.
    const jobs = await Promise.all([...CHANNELS.map((channel, i) => queues.job(channel, ids[i]!)), queues.job('email', scheduled.id as number)]);
    expect(await Promise.all(jobs.map(async (job) => (job ? job.getState() : 'missing')))).toEqual([
      'waiting',
      'delayed',
      'delayed',
      'delayed',
    ]);
    expect(await env.db.manager.countBy(IdempotencyKey, { userId })).toBeGreaterThan(0);

    await client.delete(`/users/${userId}`).expect(204);

    const database = await databaseText(env);
    expect(database).toContain('Marie Curie'); // the other user stays
    expect([ERASED.name, ERASED.email, ERASED.phone, ERASED.token.slice(-6)].filter((value) => database.includes(value))).toEqual([]);
    expect(await env.db.manager.countBy(IdempotencyKey, { userId })).toBe(0);
    // Their jobs are gone from Redis, the delayed ones too.
    const left = await Promise.all([...CHANNELS.map((channel, i) => queues.job(channel, ids[i]!)), queues.job('email', scheduled.id)]);
    expect(left).toEqual([undefined, undefined, undefined, undefined]);
    const jobKeys = [...ids, scheduled.id as number].map((id) => `:${deliveryJobId(id)}`);
    expect(Object.keys(await redisEntries(env)).filter((key) => jobKeys.some((job) => key.endsWith(job)))).toEqual([]);

    // Workers running again deliver the others, never them.
    await startWorkers();
    const other = (await sender.post('/notifications/send', { user_id: (await env.db.manager.findOneByOrFail(Notification, { status: 'sent' })).userId, channel: 'email', message: 'Pour Marie' }).expect(202)).body;
    await waitFor('the other user to be sent theirs', async () => (await env.db.manager.findOneByOrFail(Notification, { id: other.id })).status === 'sent');
    const outbox = await outboxLines();
    expect([ERASED.email, ERASED.phone, ERASED.token].filter((value) => outbox.includes(value))).toEqual([]);
  } finally {
    await queues.close();
  }
});

it('a job of an erased user still in a queue (its removal failed, or it was running) finds nothing and sends nothing', async () => {
  if (workers.length === 0) await startWorkers();
  const userId = await createUser({ ...ERASED, email: 'leftover@example.com', phone: '+33655443322', token: `${PUSH_TOKEN}-leftover` });
  const [emailId] = await sendAll(userId);
  await waitFor('the first sends to go', async () => (await env.db.manager.countBy(Notification, { userId, status: 'pending' })) === 0);
  await client.delete(`/users/${userId}`).expect(204);
  const before = await outboxLines();
  const queues = openDeliveryQueues(env);
  try {
    await queues.queue('email').remove(deliveryJobId(emailId!));
    await queues.queue('email').add(DELIVERY_JOB, { notificationId: emailId! }, { jobId: deliveryJobId(emailId!) });

    const job = await waitFor('the leftover job to complete', async () => {
      const found = await queues.job('email', emailId!);
      return found?.finishedOn ? found : null;
    });

    expect(job.returnvalue).toBe('missing');
    expect(await outboxLines()).toBe(before);
  } finally {
    await queues.close();
  }
});

describe('when providers refuse, quoting the address back', () => {
  const REFUSED = { email: 'jeanne.refus@example.com', phone: '+33644556677' };
  let refusing: TestEnvironment;
  let twilioApi: LoopbackHttpServer;
  let sendgrid: LoopbackSendGrid;
  const refusalLogs = captureLogs('e2e-refusals');

  beforeAll(async () => {
    [twilioApi, sendgrid] = await Promise.all([startTwilioServer(), startSendGridServer()]);
    refusing = await createTestEnvironment({
      DELIVERY_ATTEMPTS: '2',
      SMS_PROVIDER: 'twilio',
      TWILIO_ACCOUNT_SID: `AC${'0'.repeat(32)}`,
      TWILIO_AUTH_TOKEN: 'twilio-auth-token',
      TWILIO_BASE_URL: twilioApi.url,
      SMS_FROM: '+15005550006',
      EMAIL_PROVIDER: 'sendgrid',
      SENDGRID_API_KEY: 'SG.loopback',
      SENDGRID_BASE_URL: sendgrid.url,
      EMAIL_FROM: 'Notofine <no-reply@notofine.fr>',
    });
  });
  afterAll(async () => {
    await refusing.cleanup();
    await Promise.all([twilioApi.close(), sendgrid.close()]);
  });

  it('keeps the address out of Redis (failed jobs, their reasons and stack traces), the logs and the error messages', async () => {
    const national = REFUSED.phone.slice(3);
    // A retriable failure, then a permanent one, both quoting the number (as Twilio's 21211 does), with or without its plus.
    twilioApi.script(
      twilioError(503, 20503, `Carrier unreachable for ${REFUSED.phone.slice(1)}`),
      twilioError(400, 21211, `The 'To' number ${REFUSED.phone} is not a valid phone number.`),
    );
    sendgrid.script(sendGridError(400, [{ message: `The to email ${REFUSED.email} does not exist.`, field: 'personalizations.0.to.0.email' }]));
    const refusingApi = await startApi({ config: refusing.config, logger: refusalLogs.logger, listen: false });
    const worker = await startWorker({ config: refusing.config, logger: refusalLogs.logger, scheduleReminders: false });
    try {
      const admin = apiClient(refusingApi.app);
      const { body: user } = await admin.post('/users', { full_name: 'Jeanne Refus', ...REFUSED }).expect(201);
      const sms = (await admin.post('/notifications/send', { user_id: user.id, channel: 'sms', message: 'Rappel' }).expect(202)).body;
      const email = (await admin.post('/notifications/send', { user_id: user.id, channel: 'email', message: 'Rappel' }).expect(202)).body;
      await waitFor('both notifications to fail', async () => (await refusing.db.manager.countBy(Notification, { userId: user.id, status: 'failed' })) === 2);
      const queues = openDeliveryQueues(refusing);
      const failedJobs = await waitFor('both jobs to be failed in Redis', async () => {
        const jobs = await Promise.all([queues.job('sms', sms.id), queues.job('email', email.id)]);
        return jobs.every((job) => job?.failedReason) && jobs;
      });
      await queues.close();

      const redis = await redisText(refusing);
      const logged = refusalLogs.lines.join('\n');
      const { body: failed } = await admin.get(`/users/${user.id}/notifications`).expect(200);
      const errorMessages = JSON.stringify((failed.notifications as Array<{ error_message: string }>).map((n) => n.error_message));

      // The refusals were recorded, and seen by the scans: the reasons are there, the address is not.
      expect(twilioApi.requests).toHaveLength(2);
      expect(failedJobs.map((job) => job!.failedReason)).toEqual([expect.stringContaining('21211'), expect.stringContaining('does not exist')]);
      expect(redis).toContain('21211');
      expect(logged).toContain('21211');
      expect(errorMessages).toContain('21211');
      const leaks = Object.entries({ redis, logged, errorMessages }).flatMap(([where, text]) =>
        [REFUSED.email, REFUSED.phone, national].filter((secret) => text.includes(secret)).map((secret) => `${where}: …${text.slice(Math.max(0, text.indexOf(secret) - 120), text.indexOf(secret) + 40)}…`),
      );
      expect(leaks).toEqual([]);
    } finally {
      await worker.stop();
      await refusingApi.stop();
    }
  });
});
