import { purgeExpiredIdempotencyKeys } from '@notofine/db';
import { DELIVERY_JOB } from '@notofine/queue';
import { insertUser } from '@test/factories';
import { waitFor } from '@test/wait-for';
import { deferred, finishedDeliveryJob, insertPendingNotification, settledNotification } from './notification-fixtures';
import { startWorker, type WorkerHarness } from './worker-harness';

// What keeps the guarantees when a process dies or Redis forgets: the lease taken before each
// provider call, and the sweeper that makes Redis agree with PostgreSQL again.

let harness: WorkerHarness;
beforeAll(async () => {
  // The sweeper's own timer stays out of the way: each test runs a pass when it wants one.
  harness = await startWorker({ env: { SWEEP_GRACE_MS: '0', SWEEP_INTERVAL_MS: '3600000' } });
});
afterAll(() => harness.stop());

const calls = (id: number) => harness.providers.email.calls.filter((call) => call.notificationId === id).length;

it('sends a notification whose job never reached Redis (the API died between its commit and the enqueue)', async () => {
  const user = await insertUser(harness.env.db);
  const orphan = await insertPendingNotification(harness.env.db, user.id, 'email');

  const pass = await harness.worker.sweeper.sweep();
  const row = await settledNotification(harness.env.db, orphan.id);

  expect(pass.requeued).toBeGreaterThanOrEqual(1);
  expect(row).toMatchObject({ status: 'sent', attempts: 1 });
  expect(calls(orphan.id)).toBe(1);
});

it('sends every pending notification again after Redis lost its jobs', async () => {
  const user = await insertUser(harness.env.db);
  const worker = harness.worker.workers.email;
  await worker.pause();
  const pending = await Promise.all([1, 2, 3].map(() => harness.worker.notifications.sendNotification({ userId: user.id, channel: 'email', message: 'Rappel' })));
  await harness.queues.channel('email').obliterate({ force: true });
  await worker.resume();

  await harness.worker.sweeper.sweep();
  const rows = await Promise.all(pending.map((notification) => settledNotification(harness.env.db, notification.id)));

  expect(rows.map((row) => row.status)).toEqual(['sent', 'sent', 'sent']);
  expect(pending.map((notification) => calls(notification.id))).toEqual([1, 1, 1]);
});

it('leaves alone a notification whose job is waiting', async () => {
  const user = await insertUser(harness.env.db);
  const worker = harness.worker.workers.email;
  await worker.pause();
  const notification = await harness.worker.notifications.sendNotification({ userId: user.id, channel: 'email', message: 'Rappel' });

  const pass = await harness.worker.sweeper.sweep();
  await worker.resume();
  await settledNotification(harness.env.db, notification.id);

  expect(pass).toEqual({ checked: 1, requeued: 0 });
  expect(calls(notification.id)).toBe(1);
});

it('does not even look at a notification whose attempt is running (its lease is live)', async () => {
  const user = await insertUser(harness.env.db);
  const release = deferred();
  const started = deferred();
  harness.providers.email.script(async () => {
    started.resolve();
    await release.promise;
    return { providerMessageId: 'held' };
  });
  const notification = await harness.worker.notifications.sendNotification({ userId: user.id, channel: 'email', message: 'Rappel' });
  await started.promise;

  const pass = await harness.worker.sweeper.sweep();
  release.resolve();
  await settledNotification(harness.env.db, notification.id);

  expect(pass).toEqual({ checked: 0, requeued: 0 });
  expect(calls(notification.id)).toBe(1);
});

it('does not send twice when a job is delivered again while its first attempt is still sending', async () => {
  const user = await insertUser(harness.env.db);
  const release = deferred();
  const started = deferred();
  harness.providers.email.script(async () => {
    started.resolve();
    await release.promise;
    return { providerMessageId: 'first' };
  });
  const notification = await harness.worker.notifications.sendNotification({ userId: user.id, channel: 'email', message: 'Rappel' });
  await started.promise;

  // A second copy of the job, as BullMQ makes when it thinks the first worker stalled.
  await harness.queues.channel('email').add(DELIVERY_JOB, { notificationId: notification.id }, { jobId: `redelivered-${notification.id}` });
  const copy = await finishedDeliveryJob(harness.queues, 'email', notification.id, `redelivered-${notification.id}`);
  release.resolve();
  const row = await settledNotification(harness.env.db, notification.id);

  expect(copy).toMatchObject({ state: 'completed', job: { returnvalue: 'leased-elsewhere' } });
  expect(row).toMatchObject({ status: 'sent', providerMessageId: 'first', attempts: 1 });
  expect(calls(notification.id)).toBe(1);
});

it('sends again a notification whose attempt died holding the lease, once the lease has expired', async () => {
  const user = await insertUser(harness.env.db);
  const notification = await insertPendingNotification(harness.env.db, user.id, 'email');
  // An attempt that claimed the row and then died: its lease is live, so the job finds it taken.
  await harness.env.db.query(`UPDATE notifications SET lease_token = gen_random_uuid(), lease_until = now() + interval '1 minute' WHERE id = $1`, [notification.id]);
  await harness.queues.delivery.enqueue([notification]);
  const abandoned = await finishedDeliveryJob(harness.queues, 'email', notification.id);
  expect(abandoned.job.returnvalue).toBe('leased-elsewhere');

  await harness.env.db.query(`UPDATE notifications SET lease_until = now() - interval '1 second' WHERE id = $1`, [notification.id]);
  const pass = await harness.worker.sweeper.sweep();
  const row = await settledNotification(harness.env.db, notification.id);

  expect(pass.requeued).toBe(1);
  expect(row).toMatchObject({ status: 'sent', attempts: 1 });
  expect(calls(notification.id)).toBe(1);
});

it('re-registers the reminder scheduler Redis forgot', async () => {
  const scheduled = await startWorker({ env: { SWEEP_INTERVAL_MS: '100' }, scheduleReminders: true });
  try {
    await scheduled.queues.reminders.removeJobScheduler('process-reminders');

    const schedulers = await waitFor('the scheduler to be back', async () => {
      const found = await scheduled.queues.reminders.getJobSchedulers();
      return found.length === 1 && found;
    });

    expect(schedulers[0]).toMatchObject({ pattern: scheduled.env.config.reminders.schedule });
  } finally {
    await scheduled.stop();
  }
});


it('deletes idempotency keys past their time to live, and keeps the others', async () => {
  const swept = await startWorker({ env: { SWEEP_INTERVAL_MS: '100' } });
  try {
    await swept.env.db.query(
      `INSERT INTO idempotency_keys (caller, key, fingerprint, created_at)
       VALUES ('key:1', 'expired', repeat('a', 64), now() - interval '25 hours'), ('key:1', 'recent', repeat('b', 64), now() - interval '23 hours')`,
    );

    await waitFor('the expired key to be deleted', async () => {
      const rows: Array<{ key: string }> = await swept.env.db.query('SELECT key FROM idempotency_keys');
      return rows.length === 1 && rows;
    });

    expect(await swept.env.db.query('SELECT key FROM idempotency_keys')).toEqual([{ key: 'recent' }]);
    // It counts what it deleted: nothing more to delete is 0, so that the sweeper logs only real purges.
    expect(await purgeExpiredIdempotencyKeys(swept.env.db.manager, swept.env.config.idempotencyTtlMs)).toBe(0);
  } finally {
    await swept.stop();
  }
});
