import { CHANNELS, Notification, User, type Channel } from '@notofine/db';
import { ProviderError } from '@notofine/providers';
import { DELIVERY_JOB } from '@notofine/queue';
import { insertDevice, insertUser } from '@test/factories';
import { failWith } from '@test/scripted-providers';
import { waitFor } from '@test/wait-for';
import { deferred, finishedDeliveryJob, insertPendingNotification, settledNotification } from './notification-fixtures';
import { startWorker, type WorkerHarness } from './worker-harness';

const DELIVERY_ATTEMPTS = 3;

let harness: WorkerHarness;
beforeAll(async () => {
  harness = await startWorker({ env: { DELIVERY_ATTEMPTS: String(DELIVERY_ATTEMPTS) } });
});
afterAll(() => harness.stop());

/** A user reachable on the channel: the factory's user has an email and a phone; push needs a device. */
async function reachableUser(channel: Channel): Promise<User> {
  const user = await insertUser(harness.env.db);
  if (channel === 'push') await insertDevice(harness.env.db, user.id);
  return user;
}

/** The provider calls made for one notification on a channel. */
function callsFor(channel: Channel, notificationId: number): ReadonlyArray<{ readonly notificationId: number }> {
  const calls: ReadonlyArray<{ readonly notificationId: number }> = harness.providers[channel].calls;
  return calls.filter((call) => call.notificationId === notificationId);
}

/** The message id each scripted provider gives when it accepts (push: the first device's). */
const acceptedMessageId: Record<Channel, (notificationId: number) => string> = {
  email: (id) => `email-${id}`,
  sms: (id) => `sms-${id}`,
  push: (id) => `push-${id}-0`,
};

describe.each(CHANNELS)('%s delivery', (channel) => {
  it('sends a pending notification and records the provider, its message id, the time and one attempt', async () => {
    const user = await reachableUser(channel);

    const pending = await harness.worker.notifications.sendNotification({ userId: user.id, channel, message: 'Votre contravention est due' });
    const row = await settledNotification(harness.env.db, pending.id);

    expect(row).toMatchObject({ status: 'sent', attempts: 1, provider: 'scripted', providerMessageId: acceptedMessageId[channel](pending.id), errorMessage: null });
    expect(row.sentAt).toBeInstanceOf(Date);
    expect(callsFor(channel, pending.id)).toHaveLength(1);
  });

  it('when the provider fails transiently, retries with backoff and ends sent', async () => {
    const user = await reachableUser(channel);
    harness.providers[channel].script(failWith('retry', 'connection reset'), failWith('retry', '503 Service Unavailable'));

    const pending = await harness.worker.notifications.sendNotification({ userId: user.id, channel, message: 'Rappel' });
    const row = await settledNotification(harness.env.db, pending.id);

    expect(row).toMatchObject({ status: 'sent', attempts: 3, providerMessageId: acceptedMessageId[channel](pending.id), errorMessage: null });
    expect(callsFor(channel, pending.id)).toHaveLength(3);
  });

  it('between retries, the row stays pending with the attempts made so far and the last error', async () => {
    const user = await reachableUser(channel);
    const secondCall = deferred();
    const release = deferred();
    harness.providers[channel].script(failWith('retry', 'connection reset'), async (): Promise<never> => {
      secondCall.resolve();
      await release.promise;
      throw new ProviderError('retry', '503 Service Unavailable');
    });

    const pending = await harness.worker.notifications.sendNotification({ userId: user.id, channel, message: 'Rappel' });
    await secondCall.promise;
    const betweenRetries = await harness.env.db.manager.findOneByOrFail(Notification, { id: pending.id });
    release.resolve();
    const row = await settledNotification(harness.env.db, pending.id);

    expect(betweenRetries).toMatchObject({ status: 'pending', attempts: 1, provider: 'scripted', errorMessage: 'scripted: connection reset', sentAt: null });
    expect(row).toMatchObject({ status: 'sent', attempts: 3, errorMessage: null });
  });

  it('when the provider refuses it for good, fails at once with a reason naming the provider, without retrying', async () => {
    const user = await reachableUser(channel);
    harness.providers[channel].script(failWith('fail', '401 Unauthorized: check the API key'));

    const pending = await harness.worker.notifications.sendNotification({ userId: user.id, channel, message: 'Rappel' });
    const { state, job } = await finishedDeliveryJob(harness.queues, channel, pending.id);
    const row = await settledNotification(harness.env.db, pending.id);

    expect(row).toMatchObject({ status: 'failed', attempts: 1, provider: 'scripted', errorMessage: 'scripted: 401 Unauthorized: check the API key', sentAt: null });
    expect(state).toBe('failed');
    expect(job.attemptsMade).toBe(1);
    expect(job.failedReason).toBe(row.errorMessage);
    expect(callsFor(channel, pending.id)).toHaveLength(1);
  });

  it('when every attempt fails transiently, gives up after the configured number of attempts', async () => {
    const user = await reachableUser(channel);
    harness.providers[channel].script(
      failWith('retry', 'connection reset'),
      failWith('retry', 'timeout after 10 s'),
      failWith('retry', '503 Service Unavailable'),
    );

    const pending = await harness.worker.notifications.sendNotification({ userId: user.id, channel, message: 'Rappel' });
    const { state, job } = await finishedDeliveryJob(harness.queues, channel, pending.id);
    const row = await settledNotification(harness.env.db, pending.id);

    expect(row).toMatchObject({
      status: 'failed',
      attempts: DELIVERY_ATTEMPTS,
      errorMessage: `Gave up after ${DELIVERY_ATTEMPTS} attempts: scripted: 503 Service Unavailable`,
      sentAt: null,
    });
    expect(state).toBe('failed');
    expect(job.attemptsMade).toBe(DELIVERY_ATTEMPTS);
    expect(callsFor(channel, pending.id)).toHaveLength(DELIVERY_ATTEMPTS);
  });

  it('when the provider throttles, waits the time it asks and sends again without spending an attempt', async () => {
    const user = await reachableUser(channel);
    let throttledAt = 0;
    harness.providers[channel].script((): never => {
      throttledAt = Date.now();
      throw new ProviderError('throttle', '429 Too Many Requests', { retryAfterMs: 200 });
    });

    const pending = await harness.worker.notifications.sendNotification({ userId: user.id, channel, message: 'Rappel' });
    const { state, job } = await finishedDeliveryJob(harness.queues, channel, pending.id);
    const row = await settledNotification(harness.env.db, pending.id);

    expect(row).toMatchObject({ status: 'sent', attempts: 1, errorMessage: null });
    expect(callsFor(channel, pending.id)).toHaveLength(2);
    expect(state).toBe('completed');
    // Taken twice, yet one attempt spent: the throttled run did not count.
    expect(job).toMatchObject({ attemptsStarted: 2, attemptsMade: 1 });
    // processedOn is the start of the last run: the one after the wait.
    expect(job.processedOn! - throttledAt).toBeGreaterThanOrEqual(190);
  });

  it('when its job is delivered twice, the notification already sent is not sent again', async () => {
    const user = await reachableUser(channel);
    const pending = await harness.worker.notifications.sendNotification({ userId: user.id, channel, message: 'Rappel' });
    const sent = await settledNotification(harness.env.db, pending.id);

    const duplicateJobId = `notification-${pending.id}-duplicate`;
    await harness.queues.channel(channel).add(DELIVERY_JOB, { notificationId: pending.id }, { jobId: duplicateJobId });
    const { state, job } = await finishedDeliveryJob(harness.queues, channel, pending.id, duplicateJobId);

    expect(state).toBe('completed');
    expect(job.returnvalue).toBe('already-final');
    expect(callsFor(channel, pending.id)).toHaveLength(1);
    expect(await settledNotification(harness.env.db, pending.id)).toEqual(sent);
  });

  it('when its user was erased after it was queued, the job is dropped without calling the provider', async () => {
    const user = await reachableUser(channel);
    const notification = await insertPendingNotification(harness.env.db, user.id, channel);
    await harness.env.db.manager.delete(User, { id: user.id });

    await harness.queues.delivery.enqueue([notification]);
    const { state, job } = await finishedDeliveryJob(harness.queues, channel, notification.id);

    expect(state).toBe('completed');
    expect(job.returnvalue).toBe('missing');
    expect(callsFor(channel, notification.id)).toHaveLength(0);
  });
});

describe('throttling', () => {
  it('when a provider throttles, its whole queue waits, other notifications included, while other channels go on', async () => {
    const pauseMs = 1000;
    const user = await insertUser(harness.env.db);
    let throttledAt = 0;
    harness.providers.sms.script((): never => {
      throttledAt = Date.now();
      throw new ProviderError('throttle', '429 Too Many Requests', { retryAfterMs: pauseMs });
    });
    const throttled = await harness.worker.notifications.sendNotification({ userId: user.id, channel: 'sms', message: 'Premier' });
    // The provider's own answer first: a rate limit left by an earlier test would not do.
    await waitFor('the provider to throttle and the SMS queue to be rate limited', async () => throttledAt > 0 && (await harness.queues.channel('sms').getRateLimitTtl()) > 0);

    const held = await harness.worker.notifications.sendNotification({ userId: user.id, channel: 'sms', message: 'Second' });
    const email = await harness.worker.notifications.sendNotification({ userId: user.id, channel: 'email', message: 'Courriel' });
    const [heldJob, throttledJob, emailJob] = await Promise.all([
      finishedDeliveryJob(harness.queues, 'sms', held.id),
      finishedDeliveryJob(harness.queues, 'sms', throttled.id),
      finishedDeliveryJob(harness.queues, 'email', email.id),
    ]);

    expect(heldJob.state).toBe('completed');
    expect(heldJob.job.processedOn! - throttledAt).toBeGreaterThanOrEqual(pauseMs - 10);
    expect(throttledJob.job.processedOn! - throttledAt).toBeGreaterThanOrEqual(pauseMs - 10);
    expect(emailJob.job.processedOn! - throttledAt).toBeLessThan(pauseMs);
  });
});

describe('Retry-After on a failure', () => {
  it('when a provider answers 503 with a Retry-After, the attempt counts and nothing goes to it before then, other notifications included', async () => {
    const waitMs = 1000;
    const user = await insertUser(harness.env.db);
    let failedAt = 0;
    harness.providers.sms.script((): never => {
      failedAt = Date.now();
      throw new ProviderError('retry', 'HTTP 503: Service Unavailable', { retryAfterMs: waitMs });
    });
    const failing = await harness.worker.notifications.sendNotification({ userId: user.id, channel: 'sms', message: 'Premier' });
    // A queue paused has its limiter set past any count (a plain one only counts the jobs of the last second).
    await waitFor('the provider to fail and the SMS queue to wait', async () => failedAt > 0 && (await harness.queues.channel('sms').getRateLimitTtl(Number.MAX_SAFE_INTEGER)) > 0);

    const next = await harness.worker.notifications.sendNotification({ userId: user.id, channel: 'sms', message: 'Second' });
    const [failingJob, nextJob] = await Promise.all([finishedDeliveryJob(harness.queues, 'sms', failing.id), finishedDeliveryJob(harness.queues, 'sms', next.id)]);

    expect(await settledNotification(harness.env.db, failing.id)).toMatchObject({ status: 'sent', attempts: 2 });
    expect(failingJob.job.attemptsMade).toBe(2);
    expect(failingJob.job.processedOn! - failedAt).toBeGreaterThanOrEqual(waitMs - 10);
    expect(nextJob.job.processedOn! - failedAt).toBeGreaterThanOrEqual(waitMs - 10);
  });
});

describe('email delivery', () => {
  it('sends the row\'s subject and text to the user\'s address', async () => {
    const user = await insertUser(harness.env.db, { email: 'jean@example.com' });

    const pending = await harness.worker.notifications.sendNotification({ userId: user.id, channel: 'email', message: 'Votre contravention est due', subject: 'Rappel de paiement' });
    await settledNotification(harness.env.db, pending.id);

    expect(harness.providers.email.calls).toContainEqual({ notificationId: pending.id, to: 'jean@example.com', subject: 'Rappel de paiement', text: 'Votre contravention est due', lang: 'fr' });
  });

  it('when the provider throws an error it did not classify, retries it as a transient failure', async () => {
    const user = await insertUser(harness.env.db);
    harness.providers.email.script(() => {
      throw new TypeError('socket hang up');
    });

    const pending = await harness.worker.notifications.sendNotification({ userId: user.id, channel: 'email', message: 'Rappel' });
    const row = await settledNotification(harness.env.db, pending.id);

    expect(row).toMatchObject({ status: 'sent', attempts: 2, errorMessage: null });
    expect(callsFor('email', pending.id)).toHaveLength(2);
  });

  it('when the user\'s email was removed after the send was accepted, fails with "no email address" without calling the provider', async () => {
    const user = await insertUser(harness.env.db);
    const notification = await insertPendingNotification(harness.env.db, user.id, 'email');
    await harness.env.db.manager.update(User, { id: user.id }, { email: null });

    await harness.queues.delivery.enqueue([notification]);
    const { state } = await finishedDeliveryJob(harness.queues, 'email', notification.id);
    const row = await settledNotification(harness.env.db, notification.id);

    expect(row).toMatchObject({ status: 'failed', attempts: 0, provider: null });
    expect(row.errorMessage).toMatch(/no email address/);
    expect(state).toBe('failed');
    expect(callsFor('email', notification.id)).toHaveLength(0);
  });
});

describe('SMS delivery', () => {
  it('sends the row\'s text to the user\'s phone number', async () => {
    const user = await insertUser(harness.env.db, { phone: '+33698765432' });

    const pending = await harness.worker.notifications.sendNotification({ userId: user.id, channel: 'sms', message: 'Votre contravention #ABC123 est due' });
    await settledNotification(harness.env.db, pending.id);

    expect(harness.providers.sms.calls).toContainEqual({ notificationId: pending.id, to: '+33698765432', text: 'Votre contravention #ABC123 est due' });
  });

  it('when the provider reports the number invalid, fails at once without retrying', async () => {
    const user = await insertUser(harness.env.db, { phone: '+33600000000' });
    harness.providers.sms.script(failWith('invalid-address', 'Invalid destination number'));

    const pending = await harness.worker.notifications.sendNotification({ userId: user.id, channel: 'sms', message: 'Rappel' });
    const { state } = await finishedDeliveryJob(harness.queues, 'sms', pending.id);
    const row = await settledNotification(harness.env.db, pending.id);

    expect(row).toMatchObject({ status: 'failed', attempts: 1, errorMessage: 'scripted: Invalid destination number' });
    expect(state).toBe('failed');
    expect(callsFor('sms', pending.id)).toHaveLength(1);
  });

  it('when the user\'s phone number was removed after the send was accepted, fails with "no phone number" without calling the provider', async () => {
    const user = await insertUser(harness.env.db);
    const notification = await insertPendingNotification(harness.env.db, user.id, 'sms');
    await harness.env.db.manager.update(User, { id: user.id }, { phone: null });

    await harness.queues.delivery.enqueue([notification]);
    const { state } = await finishedDeliveryJob(harness.queues, 'sms', notification.id);
    const row = await settledNotification(harness.env.db, notification.id);

    expect(row).toMatchObject({ status: 'failed', attempts: 0, provider: null });
    expect(row.errorMessage).toMatch(/no phone number/);
    expect(state).toBe('failed');
    expect(callsFor('sms', notification.id)).toHaveLength(0);
  });
});
