import { Notification } from '@notofine/db';
import { insertUser } from '@test/factories';
import { failWith } from '@test/scripted-providers';
import { waitFor } from '@test/wait-for';
import { startWorker, type WorkerHarness } from './worker-harness';

let harness: WorkerHarness;
beforeAll(async () => {
  harness = await startWorker({ env: { DELIVERY_ATTEMPTS: '3' } });
});
afterAll(() => harness.stop());

/** Waits until the notification leaves `pending`, and returns the row. */
function settled(id: number): Promise<Notification> {
  return waitFor(`notification ${id} to leave pending`, async () => {
    const row = await harness.env.db.manager.findOneByOrFail(Notification, { id });
    return row.status !== 'pending' && row;
  });
}

describe('email delivery', () => {
  it('sends a pending notification and records the provider, its message id and the time', async () => {
    const user = await insertUser(harness.env.db, { email: 'jean@example.com' });

    const pending = await harness.worker.notifications.sendNotification({ userId: user.id, channel: 'email', message: 'Votre contravention est due', subject: 'Rappel de paiement' });
    const row = await settled(pending.id);

    expect(row).toMatchObject({ status: 'sent', attempts: 1, provider: 'scripted', providerMessageId: `email-${pending.id}`, errorMessage: null });
    expect(row.sentAt).toBeInstanceOf(Date);
    expect(harness.providers.email.calls).toContainEqual({ notificationId: pending.id, to: 'jean@example.com', subject: 'Rappel de paiement', text: 'Votre contravention est due' });
  });

  it('when the provider fails transiently, retries with backoff and ends sent', async () => {
    const user = await insertUser(harness.env.db);
    harness.providers.email.script(failWith('retry', 'connection reset'), failWith('retry', '503 Service Unavailable'));

    const pending = await harness.worker.notifications.sendNotification({ userId: user.id, channel: 'email', message: 'Rappel' });
    const row = await settled(pending.id);

    expect(row).toMatchObject({ status: 'sent', attempts: 3, errorMessage: null });
    expect(harness.providers.email.calls.filter((call) => call.notificationId === pending.id)).toHaveLength(3);
  });
});
