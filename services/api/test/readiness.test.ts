import { insertUser } from '@test/factories';
import { documentedRequest } from '@test/openapi-conformance';
import { waitFor } from '@test/wait-for';
import { Notification } from '@notofine/db';
import { PrivateRedis } from '../../../test/faults/support/private-redis';
import { startApi, type ApiHarness } from './api-harness';

// The API on a Redis of the test's own, which the test kills and starts again: readiness is about
// what the API can still do, and without Redis it still accepts sends.
let redis: PrivateRedis;
let harness: ApiHarness;
beforeAll(async () => {
  redis = await PrivateRedis.start();
  harness = await startApi({ REDIS_URL: redis.url });
});
afterAll(async () => {
  await harness?.stop();
  await redis?.stop();
});

/** The value of one sample, undefined when absent. */
function sample(metrics: string, name: string, labels: Record<string, string>): number | undefined {
  const line = metrics.split('\n').find((candidate) => candidate.startsWith(`${name}{`) && Object.entries(labels).every(([key, value]) => candidate.includes(`${key}="${value}"`)));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

it('stays ready while Redis is away, says so in its checks and in notofine_redis_up, and still accepts sends', async () => {
  const user = await insertUser(harness.env.db);
  const before = await documentedRequest(harness.api.app).get('/metrics').expect(200);
  expect(sample(before.text, 'notofine_redis_up', { connection: 'queues' })).toBe(1);

  await redis.pause();
  await waitFor('the API to notice Redis is gone', () => sampleAfterScrape('queues', 0));
  const readiness = await documentedRequest(harness.api.app).get('/readyz');
  const sent = await harness.client.post('/notifications/send', { user_id: user.id, channel: 'email', message: 'Rappel' });
  const metrics = await documentedRequest(harness.api.app).get('/metrics');

  expect(readiness.status).toBe(200);
  expect(readiness.body).toEqual({ status: 'ready', checks: { postgres: 'ok', redis: expect.stringMatching(/^not connected \(\w+\)/) } });
  expect(sent.status).toBe(202);
  expect(await harness.env.db.manager.findOneByOrFail(Notification, { id: sent.body.id })).toMatchObject({ status: 'pending' });
  expect(metrics.status).toBe(200);
  expect(sample(metrics.text, 'notofine_redis_up', { connection: 'queues' })).toBe(0);
  expect(sample(metrics.text, 'notofine_redis_up', { connection: 'rate limits' })).toBe(0);
  // Depths Redis cannot give are left out rather than shown as they last were.
  expect(sample(metrics.text, 'notofine_queue_jobs', { queue: 'email', state: 'waiting' })).toBeUndefined();

  await redis.resume();
  await waitFor('the API to be connected again', () => sampleAfterScrape('queues', 1), { timeoutMs: 15_000 });
  expect((await documentedRequest(harness.api.app).get('/readyz')).body).toEqual({ status: 'ready', checks: { postgres: 'ok', redis: 'ok' } });
});

async function sampleAfterScrape(connection: string, value: number): Promise<boolean> {
  const { text } = await documentedRequest(harness.api.app).get('/metrics');
  return sample(text, 'notofine_redis_up', { connection }) === value;
}
