import { CHANNELS, Notification } from '@notofine/db';
import type { Accepted, EmailMessage } from '@notofine/providers';
import { insertUser } from '@test/factories';
import type { Step } from '@test/scripted-providers';
import { deferred, insertPendingNotification } from './notification-fixtures';
import { startWorkerCluster, type WorkerCluster } from './worker-harness';

let cluster: WorkerCluster;
beforeAll(async () => {
  cluster = await startWorkerCluster();
});
afterAll(() => cluster.stop());
// Jobs a test leaves waiting on purpose must not reach the next test's worker.
afterEach(() => Promise.all(CHANNELS.map((channel) => cluster.queues.channel(channel).drain())));

/**
 * An email provider call that stays in progress until the test releases it. `started` resolves when
 * the provider has the message in hand.
 */
function heldCall(): { step: Step<EmailMessage, Accepted>; started: Promise<void>; release: () => void } {
  const started = deferred();
  const released = deferred();
  return {
    step: async (message) => {
      started.resolve();
      await released.promise;
      return { providerMessageId: `held-${message.notificationId}` };
    },
    started: started.promise,
    release: () => released.resolve(),
  };
}

async function rowOf(id: number): Promise<Notification> {
  return cluster.env.db.manager.findOneByOrFail(Notification, { id });
}

describe('worker shutdown', () => {
  it('stop() lets the send in progress finish and record it, and takes no new job meanwhile or afterwards', async () => {
    const instance = await cluster.startWorker();
    const user = await insertUser(cluster.env.db);
    const call = heldCall();
    instance.providers.email.script(call.step);
    const inFlight = await instance.worker.notifications.sendNotification({ userId: user.id, channel: 'email', message: 'En cours' });
    await call.started;

    const stopping = instance.stop();
    const queuedWhileStopping = await insertPendingNotification(cluster.env.db, user.id, 'email');
    await cluster.queues.delivery.enqueue([queuedWhileStopping]);
    call.release();
    await stopping;
    const queuedAfterStop = await insertPendingNotification(cluster.env.db, user.id, 'email');
    await cluster.queues.delivery.enqueue([queuedAfterStop]);

    expect(await rowOf(inFlight.id)).toMatchObject({ status: 'sent', attempts: 1, providerMessageId: `held-${inFlight.id}` });
    expect(instance.providers.email.calls.map((message) => message.notificationId)).toEqual([inFlight.id]);
    for (const notification of [queuedWhileStopping, queuedAfterStop]) {
      expect(await (await cluster.queues.deliveryJob('email', notification.id))!.getState()).toBe('waiting');
      expect((await rowOf(notification.id)).status).toBe('pending');
    }
  });

  it('when a send outlasts the shutdown timeout, stop() returns all the same and leaves the row pending for redelivery', async () => {
    const shutdownTimeoutMs = 200;
    const instance = await cluster.startWorker({ config: { shutdownTimeoutMs } });
    const user = await insertUser(cluster.env.db);
    const call = heldCall();
    instance.providers.email.script(call.step);
    const stuck = await instance.worker.notifications.sendNotification({ userId: user.id, channel: 'email', message: 'Bloqué' });
    await call.started;
    const emailWorkerClosed = new Promise<void>((resolve) => instance.worker.workers.email.once('closed', () => resolve()));

    const stopStartedAt = Date.now();
    try {
      await instance.stop();

      expect(Date.now() - stopStartedAt).toBeGreaterThanOrEqual(shutdownTimeoutMs);
      expect(await rowOf(stuck.id)).toMatchObject({ status: 'pending', attempts: 0, sentAt: null });
      expect(await (await cluster.queues.deliveryJob('email', stuck.id))!.getState()).toBe('active');
    } finally {
      // The abandoned send ends, and with it the worker's close: nothing is left running.
      call.release();
      await emailWorkerClosed;
    }
  });
});
