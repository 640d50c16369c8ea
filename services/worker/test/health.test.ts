import { insertUser } from '@test/factories';
import { waitFor } from '@test/wait-for';
import { deferred } from './notification-fixtures';
import { startWorker, type WorkerHarness } from './worker-harness';

let harness: WorkerHarness;
beforeAll(async () => {
  harness = await startWorker();
});
afterAll(() => harness.stop());

const get = async (path: string) => {
  const response = await fetch(`http://127.0.0.1:${harness.worker.healthPort}${path}`);
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
};

it('answers liveness, and readiness with PostgreSQL, Redis and the workers running', async () => {
  expect(await get('/healthz')).toEqual({ status: 200, body: { status: 'ok' } });
  expect(await get('/readyz')).toEqual({ status: 200, body: { status: 'ready', checks: { postgres: 'ok', redis: 'ok', workers: 'ok' } } });
  expect((await get('/nowhere')).status).toBe(404);
});

it('fails readiness as soon as it starts stopping, while it finishes the job in hand', async () => {
  const user = await insertUser(harness.env.db);
  const release = deferred();
  const started = deferred();
  harness.providers.email.script(async () => {
    started.resolve();
    await release.promise;
    return { providerMessageId: 'held' };
  });
  await harness.worker.notifications.sendNotification({ userId: user.id, channel: 'email', message: 'Rappel' });
  await started.promise;

  const stopping = harness.worker.stop();
  const readiness = await waitFor('readiness to fail', async () => {
    const answer = await get('/readyz');
    return answer.status === 503 && answer;
  });
  release.resolve();
  await stopping;

  expect(readiness.body).toMatchObject({ status: 'not ready', checks: { workers: 'stopping' } });
  await expect(fetch(`http://127.0.0.1:${harness.worker.healthPort}/healthz`)).rejects.toThrow();
});
