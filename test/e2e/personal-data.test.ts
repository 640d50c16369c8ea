import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CHANNELS, IdempotencyKey, Notification } from '@notofine/db';
import { createRedis, deliveryJobId } from '@notofine/queue';
import { apiClient, type ApiClient } from '@test/api-client';
import { TEST_API_KEY, TEST_REDIS_URL, createTestEnvironment, type TestEnvironment } from '@test/test-environment';
import { waitFor } from '@test/wait-for';
import { createApiKey } from '../../services/api/src/api-keys/api-keys';
import { start as startApi, type ApiService } from '../../services/api/src/api-service';
import { openDeliveryQueues } from '../../services/api/test/delivery-queues';
import { start as startWorker, type WorkerService } from '../../services/worker/src/worker-service';

// Where personal data may not be: Redis (job payloads, whatever BullMQ keeps), the database in
// clear (API keys, push tokens), and anywhere once the user is erased.

const EMAIL = 'marie.curie@example.com';
const PHONE = '+33698765432';
const PUSH_TOKEN = 'fcm-device:APA91bGq7RzK2m5Lx8Vt3Nw0Pd9Hs6Jy4Fb1Qc7Ze2Ua5Xo8Ir3Tk6Mv9Lg0Wn';

let env: TestEnvironment;
let api: ApiService;
let client: ApiClient;
let sendKey: string;
const workers: WorkerService[] = [];

beforeAll(async () => {
  env = await createTestEnvironment();
  api = await startApi({ config: env.config, logger: env.logger, listen: false });
  client = apiClient(api.app);
  sendKey = (await createApiKey(env.db.manager, 'backend', 'send')).key;
});
afterAll(async () => {
  await Promise.all(workers.map((worker) => worker.stop()));
  await api.stop();
  await env.cleanup();
});

async function startWorkers(): Promise<void> {
  workers.push(await startWorker({ config: env.config, logger: env.logger, scheduleReminders: false }));
}

/** Every value held under the test's prefix in Redis, whatever the key's type. */
async function redisContents(): Promise<string> {
  const redis = createRedis(TEST_REDIS_URL, 'worker', 'notofine-tests-scan');
  await redis.connect();
  try {
    const parts: string[] = [];
    for await (const keys of redis.scanStream({ match: `${env.id}:*`, count: 1000 })) {
      for (const key of keys as string[]) {
        const type = await redis.type(key);
        const value =
          type === 'string' ? await redis.get(key)
          : type === 'hash' ? await redis.hgetall(key)
          : type === 'list' ? await redis.lrange(key, 0, -1)
          : type === 'set' ? await redis.smembers(key)
          : type === 'zset' ? await redis.zrange(key, 0, -1, 'WITHSCORES')
          : type === 'stream' ? await redis.xrange(key, '-', '+')
          : null;
        parts.push(key, JSON.stringify(value));
      }
    }
    return parts.join('\n');
  } finally {
    await redis.quit();
  }
}

/** Every row of every table of the test's schema, as text. */
async function databaseContents(): Promise<string> {
  const tables: Array<{ tablename: string }> = await env.db.query(`SELECT tablename FROM pg_tables WHERE schemaname = $1`, [env.id]);
  const parts: string[] = [];
  for (const { tablename } of tables) {
    const rows: Array<{ row: string }> = await env.db.query(`SELECT t::text AS row FROM "${env.id}"."${tablename}" t`);
    parts.push(...rows.map(({ row }) => `${tablename}: ${row}`));
  }
  return parts.join('\n');
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

  const queued = await redisContents();
  await startWorkers();
  await waitFor('the three notifications to be sent', async () => (await env.db.manager.countBy(Notification, { userId, status: 'sent' })) === 3);
  const delivered = await redisContents();
  const database = await databaseContents();

  // The scans saw the jobs: they would have seen an address in them.
  for (const id of ids) expect(queued).toContain(`${env.id}:${CHANNELS[ids.indexOf(id)]}:${deliveryJobId(id)}`);
  for (const contents of [queued, delivered]) {
    for (const secret of [EMAIL, PHONE, PHONE.slice(3), PUSH_TOKEN, PUSH_TOKEN.slice(0, 24), TEST_API_KEY, sendKey]) expect(contents).not.toContain(secret);
  }
  expect(database).toContain(EMAIL); // the user's row holds it, as it must
  for (const secret of [PUSH_TOKEN.slice(0, 24), TEST_API_KEY, sendKey]) expect(database).not.toContain(secret);
  // The provider did get the token: the worker opened it.
  const pushes = await readFile(join(env.outboxDir, 'push.jsonl'), 'utf8');
  expect(pushes).toContain(PUSH_TOKEN);
});

it('erases a user with everything that is theirs, and sends none of their queued notifications afterwards', async () => {
  await Promise.all(workers.splice(0).map((worker) => worker.stop()));
  const userId = await createUser(ERASED);
  const ids = await sendAll(userId);
  expect(await env.db.manager.countBy(IdempotencyKey, { userId })).toBeGreaterThan(0);

  await client.delete(`/users/${userId}`).expect(204);
  const outboxBefore = await readFile(join(env.outboxDir, 'email.jsonl'), 'utf8').catch(() => '');
  await startWorkers();

  const database = await databaseContents();
  expect(database).toContain('Marie Curie'); // the other user stays
  for (const value of [ERASED.name, ERASED.email, ERASED.phone, ERASED.token.slice(-6)]) expect(database).not.toContain(value);
  expect(await env.db.manager.countBy(IdempotencyKey, { userId })).toBe(0);
  // The jobs run, find nothing to send, and end as such.
  const queues = openDeliveryQueues(env);
  try {
    await waitFor("the erased user's jobs to complete", async () => {
      const jobs = await Promise.all(CHANNELS.map((channel, i) => queues.job(channel, ids[i]!)));
      return jobs.every((job) => job?.returnvalue === 'missing');
    });
  } finally {
    await queues.close();
  }
  const outboxAfter = await readFile(join(env.outboxDir, 'email.jsonl'), 'utf8').catch(() => '');
  expect(outboxAfter).toBe(outboxBefore);
});
