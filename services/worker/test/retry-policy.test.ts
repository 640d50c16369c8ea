import { loadConfig } from '@notofine/config';
import { MAX_DELIVERY_ATTEMPTS, type DeliveryJobData } from '@notofine/queue';
import { insertUser } from '@test/factories';
import { failWith } from '@test/scripted-providers';
import type { Job } from 'bullmq';
import { finishedDeliveryJob, insertPendingNotification, settledNotification } from './notification-fixtures';
import { startWorkerCluster, type WorkerCluster, type WorkerInstance } from './worker-harness';

// DELIVERY_ATTEMPTS and DELIVERY_BACKOFF_MS are the worker's: a worker rolled out with new values
// retries every job by them, whatever the process that queued the job (the API, another version)
// was configured with.

let cluster: WorkerCluster;
let worker: WorkerInstance;
beforeAll(async () => {
  // What the producers (the API, the tests' queues) run with: one attempt, an hour between retries.
  cluster = await startWorkerCluster({ env: { DELIVERY_ATTEMPTS: '1', DELIVERY_BACKOFF_MS: '3600000' } });
  // What the worker runs with.
  worker = await cluster.startWorker({ config: { delivery: { ...cluster.env.config.delivery, attempts: 3, backoffMs: 20 } } });
});
afterAll(() => cluster.stop());

/** A notification queued by a producer, as the API queues it. */
async function queuedByTheApi(): Promise<number> {
  const user = await insertUser(cluster.env.db);
  const notification = await insertPendingNotification(cluster.env.db, user.id, 'email');
  await cluster.queues.delivery.enqueue([notification]);
  return notification.id;
}

it('retries as often, and as soon, as the worker\'s own settings say', async () => {
  worker.providers.email.script(failWith('retry', 'connection reset'), failWith('retry', '503 Service Unavailable'));

  const id = await queuedByTheApi();
  const row = await settledNotification(cluster.env.db, id);

  expect(row).toMatchObject({ status: 'sent', attempts: 3, errorMessage: null });
  expect(worker.providers.email.calls.filter((call) => call.notificationId === id)).toHaveLength(3);
});

it('gives up after the worker\'s DELIVERY_ATTEMPTS, the job ending failed with the notification', async () => {
  worker.providers.email.script(failWith('retry', 'connection reset'), failWith('retry', 'timeout'), failWith('retry', '503 Service Unavailable'));

  const id = await queuedByTheApi();
  const { state, job } = await finishedDeliveryJob(cluster.queues, 'email', id);
  const row = await settledNotification(cluster.env.db, id);

  expect(row).toMatchObject({ status: 'failed', attempts: 3, errorMessage: 'Gave up after 3 attempts: scripted: 503 Service Unavailable' });
  expect({ state, attemptsMade: job.attemptsMade, failedReason: job.failedReason }).toEqual({ state: 'failed', attemptsMade: 3, failedReason: row.errorMessage });
  expect(worker.providers.email.calls.filter((call) => call.notificationId === id)).toHaveLength(3);
});

it('keeps fewer attempts for a job queued with fewer by an earlier version, and its own backoff', async () => {
  worker.providers.email.script(failWith('retry', 'connection reset'), failWith('retry', '503 Service Unavailable'));
  const user = await insertUser(cluster.env.db);
  const notification = await insertPendingNotification(cluster.env.db, user.id, 'email');

  await cluster.queues.channel('email').add('deliver', { notificationId: notification.id } as DeliveryJobData, {
    jobId: `notification-${notification.id}`,
    attempts: 2,
    backoff: { type: 'exponential', delay: 20, jitter: 0.5 },
  });
  const row = await settledNotification(cluster.env.db, notification.id);

  expect(row).toMatchObject({ status: 'failed', attempts: 2, errorMessage: 'Gave up after 2 attempts: scripted: 503 Service Unavailable' });
  const job = (await cluster.queues.deliveryJob('email', notification.id)) as Job;
  expect(job.opts.attempts).toBe(2);
});

it('queues jobs with room for the most attempts the configuration allows', () => {
  expect(() => loadConfig({ DELIVERY_ATTEMPTS: String(MAX_DELIVERY_ATTEMPTS) })).not.toThrow();
  expect(() => loadConfig({ DELIVERY_ATTEMPTS: String(MAX_DELIVERY_ATTEMPTS + 1) })).toThrow(/DELIVERY_ATTEMPTS/);
});
