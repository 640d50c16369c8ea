import { randomUUID } from 'node:crypto';
import {
  claimPendingPushDevices,
  deferPendingPushDevices,
  isDatabaseUnavailable,
  releasePendingPushDevices,
  settlePendingPushDevices,
  type DeliveryTarget,
} from '@notofine/db';
import { quietUntil } from '@notofine/notifications';
import { toProviderError } from '@notofine/providers';
import type { DeliveryJobData } from '@notofine/queue';
import { DelayedError, UnrecoverableError, Worker, type Job } from 'bullmq';
import { UndeliverableError } from './channel-sender';
import { DATABASE_PAUSE_MS, holdChannel, isLastAttempt, persistently, waitOutThrottle, withinTimeout, type DeliveryDeps, type DeliveryOutcome } from './deliver-notification';
import { pendingDevicesOf, type DeviceOutcomes } from './push-sender';

/**
 * Processes the job that sends a sent push to the devices of its user still pending: those that
 * refused it for now (FCM UNAVAILABLE, a device over its own rate) while another device took it.
 * The notification stays `sent`; only these devices are tried, never one that took it.
 *
 * - The claim is a lease on the notification's row, as a delivery's: one attempt at a time.
 * - A device that takes it, turns out dead (disabled) or refuses it for good is done with; one
 *   that is no longer active, or no longer its user's, is dropped; all of them when the user has
 *   turned push off since (unless the notice is critical).
 * - Quiet hours begun since hold the job until they end, as they hold a delivery.
 * - Devices that refuse it again are tried again as a delivery would be: a throttle waits without
 *   spending an attempt (the device's own: this job only; the provider's: the whole queue), a
 *   failure spends one of this job's `DELIVERY_ATTEMPTS`; past the last, they are given up on and
 *   the job fails, saying so.
 */
export async function deliverToPendingDevices(job: Job<DeliveryJobData>, deps: DeliveryDeps, token?: string): Promise<DeliveryOutcome> {
  const { notificationId } = job.data;
  let target: DeliveryTarget | null;
  try {
    target = await claimPendingPushDevices(deps.manager, notificationId, randomUUID(), deps.leaseMs);
  } catch (error) {
    if (!isDatabaseUnavailable(error)) throw error;
    deps.logger.warn('database unavailable, pausing the queue', { notification_id: notificationId, wait_ms: DATABASE_PAUSE_MS });
    await deps.pauseChannel('push', DATABASE_PAUSE_MS);
    throw Worker.RateLimitError();
  }
  // Nothing pending any more (every device done with, the user erased), or another attempt holds it.
  if (!target) return 'already-final';
  const claimed = target;
  try {
    return await sendToPendingDevices(job, deps, claimed, token);
  } finally {
    await persistently(() => releasePendingPushDevices(deps.manager, claimed)).catch(() => undefined);
  }
}

async function sendToPendingDevices(job: Job<DeliveryJobData>, deps: DeliveryDeps, target: DeliveryTarget, token: string | undefined): Promise<DeliveryOutcome> {
  const log = { notification_id: target.id, channel: target.channel };
  const giveUpAll = () => persistently(() => settlePendingPushDevices(deps.manager, target.id));

  if (target.devices.length === 0) {
    await giveUpAll();
    deps.logger.info('pending push devices are gone (removed, disabled, moved to another user)', log);
    return 'sent';
  }
  if (target.turnedOff && !target.critical) {
    await giveUpAll();
    deps.logger.info('pending push devices dropped: the user turned push off', log);
    return 'cancelled';
  }
  const notBefore = target.urgent ? null : quietUntil(target.channel, target.quietHours, target.timezone, new Date());
  if (notBefore && token !== undefined) {
    await job.moveToDelayed(notBefore.getTime(), token);
    deps.logger.info('pending push devices put back until the end of quiet hours', { ...log, until: notBefore.toISOString() });
    throw new DelayedError();
  }

  const sender = deps.senders.push;
  const outcome = await sendOnce(deps, target);
  await persistently(() => settlePendingPushDevices(deps.manager, target.id, [...outcome.accepted, ...outcome.refused].map(({ deviceId }) => deviceId)));
  const pending = pendingDevicesOf(sender.provider, outcome);
  const counts = { accepted: outcome.accepted.length, refused: outcome.refused.length, pending: outcome.pending.length };
  if (!pending) {
    deps.logger.info('push sent to its pending devices', { ...log, ...counts });
    return 'sent';
  }

  const { next } = pending;
  if (next.kind === 'throttle') {
    const throttles = (job.data.throttles ?? 0) + 1;
    if (throttles > deps.maxThrottles) {
      await giveUpAll();
      deps.logger.warn('pending push devices given up: throttled too often', { ...log, throttles, reason: pending.errorMessage });
      throw new UnrecoverableError(`Gave up on ${pending.deviceIds.length} device(s) after being throttled ${throttles} times: ${pending.errorMessage}`);
    }
    await persistently(() => deferPendingPushDevices(deps.manager, target.id, pending));
    await job.updateData({ ...job.data, throttles });
    return waitOutThrottle(job, deps, target.channel, next, token, log);
  }
  const attempt = job.attemptsMade + 1;
  if (isLastAttempt(job, deps)) {
    await giveUpAll();
    deps.logger.warn('pending push devices given up: no attempts left', { ...log, attempt, reason: pending.errorMessage });
    throw new UnrecoverableError(`Gave up on ${pending.deviceIds.length} device(s) after ${attempt} attempts: ${pending.errorMessage}`);
  }
  await persistently(() => deferPendingPushDevices(deps.manager, target.id, pending));
  deps.logger.warn('pending push devices refused it again, will retry', { ...log, ...counts, attempt, reason: pending.errorMessage });
  await holdChannel(deps, target.channel, next, log);
  throw next;
}

/** One provider call to the pending devices; a failure of the whole call counts as each device's refusal. */
async function sendOnce(deps: DeliveryDeps, target: DeliveryTarget): Promise<DeviceOutcomes> {
  const sender = deps.senders.push;
  const stopTimer = deps.metrics.providerCallDuration.startTimer({ provider: sender.provider });
  try {
    const outcome = await withinTimeout(sender.sendToDevices(target), deps.providerTimeoutMs);
    stopTimer({ outcome: 'ok' });
    return outcome;
  } catch (error) {
    const devices = target.devices.map(({ id }) => id);
    // No token can be opened any more (its key was removed): nothing to send them.
    if (error instanceof UndeliverableError) {
      stopTimer({ outcome: 'undeliverable' });
      return { accepted: [], pending: [], refused: devices.map((deviceId) => ({ deviceId, error: toProviderError(error) })) };
    }
    const failure = toProviderError(error);
    stopTimer({ outcome: failure.kind });
    deps.metrics.providerErrors.inc({ provider: sender.provider, kind: failure.kind });
    const mayStillTake = failure.kind === 'retry' || failure.kind === 'throttle';
    const each = devices.map((deviceId) => ({ deviceId, error: failure }));
    return { accepted: [], pending: mayStillTake ? each : [], refused: mayStillTake ? [] : each };
  }
}
