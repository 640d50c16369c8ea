import { Device, Notification, PendingPushDevice } from '@notofine/db';
import { ProviderError, type PushMessage, type PushOutcome } from '@notofine/providers';
import { pendingDevicesJobId } from '@notofine/queue';
import { insertDevice, insertUser } from '@test/factories';
import type { Step } from '@test/scripted-providers';
import { In } from 'typeorm';
import { waitFor } from '@test/wait-for';
import { finishedDeliveryJob, insertPendingNotification, settledNotification } from './notification-fixtures';
import { startWorker, type WorkerHarness } from './worker-harness';

let harness: WorkerHarness;
beforeAll(async () => {
  // Digests gather for a second; the sweeper looks at anything pending without a job at once.
  harness = await startWorker({ env: { DELIVERY_ATTEMPTS: '3', DIGEST_WINDOW_MS: '1000', SWEEP_GRACE_MS: '0' } });
});
afterAll(() => harness.stop());

/**
 * A push provider call that answers token by token: the tokens in `refuse` get their error, every
 * other token is accepted.
 */
function answerPerToken(refuse: ReadonlyMap<string, ProviderError>): Step<PushMessage, PushOutcome> {
  return (message) => ({
    accepted: message.tokens.filter((token) => !refuse.has(token)).map((token) => ({ token, providerMessageId: `fcm-${token}` })),
    refused: message.tokens.filter((token) => refuse.has(token)).map((token) => ({ token, error: refuse.get(token)! })),
  });
}

const unregistered = (): ProviderError => new ProviderError('invalid-address', 'UNREGISTERED');
const unavailable = (): ProviderError => new ProviderError('retry', 'UNAVAILABLE: The service is currently unavailable.');

/** The devices a sent push is still to reach, as the table holds them. */
function pendingDevicesOf(notificationId: number): Promise<PendingPushDevice[]> {
  return harness.env.db.manager.findBy(PendingPushDevice, { notificationId });
}

/** Waits until the job that sends a push to its pending devices is over (completed or failed). */
function finishedPendingDevicesJob(notificationId: number) {
  return finishedDeliveryJob(harness.queues, 'push', notificationId, pendingDevicesJobId(notificationId));
}

function pushCallsFor(notificationId: number): PushMessage[] {
  return harness.providers.push.calls.filter((call) => call.notificationId === notificationId);
}

async function disabledAtOf(devices: readonly Device[]): Promise<Array<Date | null>> {
  const rows = await harness.env.db.manager.findBy(Device, { id: In(devices.map((device) => device.id)) });
  return devices.map((device) => rows.find((row) => row.id === device.id)!.disabledAt);
}

describe('push delivery', () => {
  it('sends one notification to every active device of the user in one provider call, disabled devices excluded', async () => {
    const user = await insertUser(harness.env.db);
    const phone = await insertDevice(harness.env.db, user.id, { platform: 'android' });
    const browser = await insertDevice(harness.env.db, user.id, { platform: 'web' });
    await insertDevice(harness.env.db, user.id, { platform: 'ios', disabledAt: new Date('2026-01-01T00:00:00Z') });

    const pending = await harness.worker.notifications.sendNotification({ userId: user.id, channel: 'push', message: 'Votre contravention est due', subject: 'Rappel' });
    const row = await settledNotification(harness.env.db, pending.id);

    expect(row).toMatchObject({ status: 'sent', attempts: 1, provider: 'scripted' });
    expect(pushCallsFor(pending.id)).toEqual([{ notificationId: pending.id, tokens: [phone.token, browser.token], title: 'Rappel', body: 'Votre contravention est due' }]);
  });

  it('is sent when at least one device accepted it, with that device\'s message id; the device that refused it for now gets it later, alone', async () => {
    const user = await insertUser(harness.env.db);
    const busy = await insertDevice(harness.env.db, user.id);
    const accepting = await insertDevice(harness.env.db, user.id);
    harness.providers.push.script(answerPerToken(new Map([[busy.token, unavailable()]])));

    const pending = await harness.worker.notifications.sendNotification({ userId: user.id, channel: 'push', message: 'Rappel', subject: 'Notofine' });
    const row = await settledNotification(harness.env.db, pending.id);
    const { state } = await finishedPendingDevicesJob(pending.id);

    expect(row).toMatchObject({ status: 'sent', attempts: 1, providerMessageId: `fcm-${accepting.token}`, errorMessage: null });
    expect(state).toBe('completed');
    expect(pushCallsFor(pending.id)).toEqual([
      { notificationId: pending.id, tokens: [busy.token, accepting.token], title: 'Notofine', body: 'Rappel' },
      { notificationId: pending.id, tokens: [busy.token], title: 'Notofine', body: 'Rappel' },
    ]);
    expect(await pendingDevicesOf(pending.id)).toEqual([]);
    // A transient refusal says nothing about the token: the device stays active.
    expect(await disabledAtOf([busy, accepting])).toEqual([null, null]);
    expect(await harness.env.db.manager.findOneByOrFail(Notification, { id: pending.id })).toMatchObject({ status: 'sent', leaseToken: null });
  });

  it('disables on the spot the devices whose token the provider reports unregistered, and keeps the others active', async () => {
    const user = await insertUser(harness.env.db);
    const [first, dead, second, alsoDead] = [
      await insertDevice(harness.env.db, user.id),
      await insertDevice(harness.env.db, user.id),
      await insertDevice(harness.env.db, user.id),
      await insertDevice(harness.env.db, user.id),
    ];
    harness.providers.push.script(answerPerToken(new Map([[dead.token, unregistered()], [alsoDead.token, unregistered()]])));

    const pending = await harness.worker.notifications.sendNotification({ userId: user.id, channel: 'push', message: 'Rappel' });
    const row = await settledNotification(harness.env.db, pending.id);

    expect(row.status).toBe('sent');
    expect(await disabledAtOf([first, dead, second, alsoDead])).toEqual([null, expect.any(Date), null, expect.any(Date)]);
  });

  it('when every token is reported unregistered, fails with a readable reason and disables every device', async () => {
    const user = await insertUser(harness.env.db);
    const devices = [await insertDevice(harness.env.db, user.id), await insertDevice(harness.env.db, user.id)];
    harness.providers.push.script(answerPerToken(new Map(devices.map((device) => [device.token, unregistered()]))));

    const pending = await harness.worker.notifications.sendNotification({ userId: user.id, channel: 'push', message: 'Rappel' });
    const { state } = await finishedDeliveryJob(harness.queues, 'push', pending.id);
    const row = await settledNotification(harness.env.db, pending.id);

    expect(row).toMatchObject({ status: 'failed', attempts: 1, errorMessage: 'scripted: No device accepted the notification: UNREGISTERED', sentAt: null });
    expect(state).toBe('failed');
    expect(pushCallsFor(pending.id)).toHaveLength(1);
    expect(await disabledAtOf(devices)).toEqual([expect.any(Date), expect.any(Date)]);
  });

  it('when one token is dead and the others refused for now, retries on the devices still active only', async () => {
    const user = await insertUser(harness.env.db);
    const dead = await insertDevice(harness.env.db, user.id);
    const busy = await insertDevice(harness.env.db, user.id);
    harness.providers.push.script(answerPerToken(new Map([[dead.token, unregistered()], [busy.token, new ProviderError('retry', 'UNAVAILABLE')]])));

    const pending = await harness.worker.notifications.sendNotification({ userId: user.id, channel: 'push', message: 'Rappel' });
    const row = await settledNotification(harness.env.db, pending.id);

    expect(row).toMatchObject({ status: 'sent', attempts: 2, errorMessage: null });
    expect(pushCallsFor(pending.id).map((call) => call.tokens)).toEqual([[dead.token, busy.token], [busy.token]]);
  });

  it('when no device is active any more at send time, fails without calling the provider', async () => {
    const user = await insertUser(harness.env.db);
    const device = await insertDevice(harness.env.db, user.id);
    const notification = await insertPendingNotification(harness.env.db, user.id, 'push');
    await harness.env.db.manager.update(Device, { id: device.id }, { disabledAt: new Date() });

    await harness.queues.delivery.enqueue([notification]);
    const { state } = await finishedDeliveryJob(harness.queues, 'push', notification.id);
    const row = await settledNotification(harness.env.db, notification.id);

    expect(row).toMatchObject({ status: 'failed', attempts: 0, provider: null });
    expect(row.errorMessage).toMatch(/no active push device/);
    expect(state).toBe('failed');
    expect(pushCallsFor(notification.id)).toHaveLength(0);
  });
});

describe('push throttling', () => {
  /** How long the push queue is still paused (a provider's throttling): its limiter set past any count. */
  const pausedFor = () => harness.queues.channel('push').getRateLimitTtl(Number.MAX_SAFE_INTEGER);

  /** A call that refuses `token` with `error` and accepts the other devices, noting when it was made. */
  function throttling(token: string, error: ProviderError): { step: Step<PushMessage, PushOutcome>; at: () => number } {
    let at = 0;
    const answer = answerPerToken(new Map([[token, error]]));
    return {
      at: () => at,
      step: (message) => {
        at = Date.now();
        return answer(message);
      },
    };
  }

  it('a device over its own rate (QUOTA_EXCEEDED about the device) holds back its notification only: the queue goes on, and it is sent after the wait without spending an attempt', async () => {
    const waitMs = 2000;
    const [throttledUser, otherUser] = [await insertUser(harness.env.db), await insertUser(harness.env.db)];
    const busy = await insertDevice(harness.env.db, throttledUser.id);
    await insertDevice(harness.env.db, otherUser.id);
    const call = throttling(busy.token, new ProviderError('throttle', 'QUOTA_EXCEEDED: Device message rate exceeded.', { retryAfterMs: waitMs, scope: 'recipient' }));
    harness.providers.push.script(call.step);

    const held = await harness.worker.notifications.sendNotification({ userId: throttledUser.id, channel: 'push', message: 'Rappel' });
    await waitFor('the device to be throttled', () => call.at() > 0);
    const other = await harness.worker.notifications.sendNotification({ userId: otherUser.id, channel: 'push', message: 'Rappel' });
    const otherJob = await finishedDeliveryJob(harness.queues, 'push', other.id);
    const pausedMs = await pausedFor();
    const heldJob = await finishedDeliveryJob(harness.queues, 'push', held.id);

    expect(otherJob.job.processedOn! - call.at()).toBeLessThan(waitMs);
    expect(pausedMs).toBeLessThanOrEqual(0);
    expect(heldJob.job.processedOn! - call.at()).toBeGreaterThanOrEqual(waitMs - 10);
    expect(heldJob.job).toMatchObject({ attemptsStarted: 2, attemptsMade: 1 });
    expect(await settledNotification(harness.env.db, held.id)).toMatchObject({ status: 'sent', attempts: 1 });
  });

  it('a quota of the whole project holds back every push until its wait is over', async () => {
    const waitMs = 1000;
    const [throttledUser, otherUser] = [await insertUser(harness.env.db), await insertUser(harness.env.db)];
    const device = await insertDevice(harness.env.db, throttledUser.id);
    await insertDevice(harness.env.db, otherUser.id);
    const call = throttling(device.token, new ProviderError('throttle', 'QUOTA_EXCEEDED: Quota exceeded for quota metric', { retryAfterMs: waitMs, scope: 'provider' }));
    harness.providers.push.script(call.step);

    const held = await harness.worker.notifications.sendNotification({ userId: throttledUser.id, channel: 'push', message: 'Rappel' });
    await waitFor('the push queue to be paused', async () => call.at() > 0 && (await pausedFor()) > 0);
    const other = await harness.worker.notifications.sendNotification({ userId: otherUser.id, channel: 'push', message: 'Rappel' });
    const [otherJob, heldJob] = await Promise.all([finishedDeliveryJob(harness.queues, 'push', other.id), finishedDeliveryJob(harness.queues, 'push', held.id)]);

    expect(otherJob.job.processedOn! - call.at()).toBeGreaterThanOrEqual(waitMs - 10);
    expect(heldJob.job.processedOn! - call.at()).toBeGreaterThanOrEqual(waitMs - 10);
  });
});

describe('devices that refused a sent push for now', () => {
  it('are given up on after DELIVERY_ATTEMPTS tries of their own, the notification staying sent; the device that took it is never sent it again', async () => {
    const user = await insertUser(harness.env.db);
    const busy = await insertDevice(harness.env.db, user.id);
    const accepting = await insertDevice(harness.env.db, user.id);
    const refuseBusy = answerPerToken(new Map([[busy.token, unavailable()]]));
    harness.providers.push.script(refuseBusy, refuseBusy, refuseBusy, refuseBusy);

    const pending = await harness.worker.notifications.sendNotification({ userId: user.id, channel: 'push', message: 'Rappel' });
    const { state, job } = await finishedPendingDevicesJob(pending.id);

    expect(state).toBe('failed');
    expect(job.failedReason).toBe('Gave up on 1 device(s) after 3 attempts: scripted: UNAVAILABLE: The service is currently unavailable.');
    expect(pushCallsFor(pending.id).map((call) => call.tokens)).toEqual([[busy.token, accepting.token], [busy.token], [busy.token], [busy.token]]);
    expect(await pendingDevicesOf(pending.id)).toEqual([]);
    expect(await harness.env.db.manager.findOneByOrFail(Notification, { id: pending.id })).toMatchObject({ status: 'sent', attempts: 1, errorMessage: null });
  });

  it('a device over its own rate gets it once its wait is over, without holding the push queue', async () => {
    const waitMs = 1500;
    const user = await insertUser(harness.env.db);
    const busy = await insertDevice(harness.env.db, user.id);
    await insertDevice(harness.env.db, user.id);
    let firstCallAt = 0;
    const refuse = answerPerToken(new Map([[busy.token, new ProviderError('throttle', 'QUOTA_EXCEEDED: Device message rate exceeded.', { retryAfterMs: waitMs, scope: 'recipient' })]]));
    harness.providers.push.script((message) => {
      firstCallAt = Date.now();
      return refuse(message);
    });

    const pending = await harness.worker.notifications.sendNotification({ userId: user.id, channel: 'push', message: 'Rappel' });
    await settledNotification(harness.env.db, pending.id);
    const pausedMs = await harness.queues.channel('push').getRateLimitTtl(Number.MAX_SAFE_INTEGER);
    const { state, job } = await finishedPendingDevicesJob(pending.id);

    expect(pausedMs).toBeLessThanOrEqual(0);
    expect(state).toBe('completed');
    expect(job.processedOn! - firstCallAt).toBeGreaterThanOrEqual(waitMs - 10);
    expect(pushCallsFor(pending.id).map((call) => call.tokens)).toEqual([expect.arrayContaining([busy.token]), [busy.token]]);
  });

  it('get the same text as the device that took it, for a digest too', async () => {
    const user = await insertUser(harness.env.db);
    const busy = await insertDevice(harness.env.db, user.id);
    const accepting = await insertDevice(harness.env.db, user.id);
    harness.providers.push.script(answerPerToken(new Map([[busy.token, unavailable()]])));

    const first = await harness.worker.notifications.sendNotification({ userId: user.id, channel: 'push', message: 'Contravention AB-1 due', digestKey: 'rappels' });
    const second = await harness.worker.notifications.sendNotification({ userId: user.id, channel: 'push', message: 'Contravention AB-2 due', digestKey: 'rappels' });
    await settledNotification(harness.env.db, second.id);
    await finishedPendingDevicesJob(first.id);

    const body = 'Contravention AB-1 due\n\nContravention AB-2 due';
    expect(pushCallsFor(first.id).map((call) => [call.tokens, call.body])).toEqual([
      [[busy.token, accepting.token], body],
      [[busy.token], body],
    ]);
  });

  it('are queued again by the sweeper when their job was lost', async () => {
    const user = await insertUser(harness.env.db);
    const busy = await insertDevice(harness.env.db, user.id);
    await insertDevice(harness.env.db, user.id);
    // The device's wait would hold its job a minute: long enough to lose it.
    harness.providers.push.script(answerPerToken(new Map([[busy.token, new ProviderError('throttle', 'QUOTA_EXCEEDED', { retryAfterMs: 60_000, scope: 'recipient' })]])));
    const pending = await harness.worker.notifications.sendNotification({ userId: user.id, channel: 'push', message: 'Rappel' });
    await waitFor('the pending devices\' job to wait', async () => (await harness.queues.channel('push').getJobState(pendingDevicesJobId(pending.id))) === 'delayed');

    await harness.queues.channel('push').remove(pendingDevicesJobId(pending.id));
    const { requeued } = await harness.worker.sweeper.sweep();
    const { state } = await finishedPendingDevicesJob(pending.id);

    expect(requeued).toBeGreaterThanOrEqual(1);
    expect(state).toBe('completed');
    expect(pushCallsFor(pending.id).map((call) => call.tokens.includes(busy.token))).toEqual([true, true]);
    expect(await pendingDevicesOf(pending.id)).toEqual([]);
  });

  it('are dropped when they were disabled since (another push found their token dead), with nothing sent', async () => {
    const user = await insertUser(harness.env.db);
    const busy = await insertDevice(harness.env.db, user.id);
    await insertDevice(harness.env.db, user.id);
    harness.providers.push.script(answerPerToken(new Map([[busy.token, new ProviderError('throttle', 'QUOTA_EXCEEDED', { retryAfterMs: 1000, scope: 'recipient' })]])));
    const pending = await harness.worker.notifications.sendNotification({ userId: user.id, channel: 'push', message: 'Rappel' });
    await waitFor('the device to be pending', async () => (await pendingDevicesOf(pending.id)).length === 1);

    await harness.env.db.manager.update(Device, { id: busy.id }, { disabledAt: new Date() });
    const { state, job } = await finishedPendingDevicesJob(pending.id);

    expect(state).toBe('completed');
    expect(job.returnvalue).toBe('sent');
    expect(pushCallsFor(pending.id)).toHaveLength(1);
    expect(await pendingDevicesOf(pending.id)).toEqual([]);
  });
});
