import { loadDeliveryTarget, recordNotDelivered, recordSent, type Channel, type DeliveryTarget } from '@notofine/db';
import type { Logger } from '@notofine/logger';
import type { Metrics } from '@notofine/metrics';
import { ProviderError, toProviderError } from '@notofine/providers';
import type { DeliveryJobData } from '@notofine/queue';
import { UnrecoverableError, Worker, type Job } from 'bullmq';
import type { EntityManager } from 'typeorm';
import { UndeliverableError, type ChannelSender } from './channel-sender';

export interface DeliveryDeps {
  readonly manager: EntityManager;
  readonly metrics: Metrics;
  /** A provider call still running after this long is abandoned and retried. */
  readonly providerTimeoutMs: number;
  /** How many times a job may be put back because its provider throttled, before it fails. */
  readonly maxThrottles: number;
  readonly senders: Readonly<Record<Channel, ChannelSender>>;
  /** Holds back a channel's whole queue for a while (the provider asked us to slow down). */
  readonly pauseChannel: (channel: Channel, ms: number) => Promise<void>;
  readonly logger: Logger;
}

/** What a delivery job ended with, kept as the job's return value. */
export type DeliveryOutcome = 'sent' | 'already-final' | 'missing';

/** Longest pause a provider's throttling may impose on a queue. */
const MAX_THROTTLE_MS = 10 * 60_000;

/**
 * Processes one delivery job: sends the notification through its channel's provider and records
 * the outcome on the row.
 *
 * - A row already `sent` or `failed` is left alone, so a job delivered twice sends once.
 * - A retriable failure keeps the row `pending` with the error and rethrows, so that BullMQ retries
 *   with backoff; on the last attempt the row becomes `failed`.
 * - A permanent failure makes the row `failed` and ends the job with `UnrecoverableError`.
 * - Throttling pauses the channel's queue for the time the provider asks and puts the job back
 *   without spending an attempt.
 */
export async function deliverNotification(job: Job<DeliveryJobData>, deps: DeliveryDeps): Promise<DeliveryOutcome> {
  const { notificationId } = job.data;
  const target = await loadDeliveryTarget(deps.manager, notificationId);
  if (!target) {
    // Its user was erased after it was queued.
    deps.logger.info('notification no longer exists, nothing to send', { notification_id: notificationId });
    return 'missing';
  }
  if (target.status !== 'pending') {
    deps.logger.info('notification already final, not sent again', { notification_id: notificationId, status: target.status });
    return 'already-final';
  }

  const sender = deps.senders[target.channel];
  const stopTimer = deps.metrics.providerCallDuration.startTimer({ provider: sender.provider });
  let accepted;
  try {
    accepted = await withinTimeout(sender.send(target), deps.providerTimeoutMs);
  } catch (error) {
    const outcome = error instanceof UndeliverableError ? 'undeliverable' : toProviderError(error).kind;
    stopTimer({ outcome });
    deps.metrics.providerErrors.inc({ provider: sender.provider, kind: outcome });
    return recordFailure(error, target, sender, job, deps);
  }
  stopTimer({ outcome: 'ok' });
  if (await recordSent(deps.manager, target.id, { provider: sender.provider, providerMessageId: accepted.providerMessageId })) {
    deps.metrics.notificationsFinished.inc({ channel: target.channel, status: 'sent' });
    deps.metrics.sendLatency.observe({ channel: target.channel }, (Date.now() - target.createdAt.getTime()) / 1000);
  }
  deps.logger.info('notification sent', { notification_id: target.id, channel: target.channel, provider: sender.provider });
  return 'sent';
}

async function recordFailure(
  error: unknown,
  target: DeliveryTarget,
  sender: ChannelSender,
  job: Job<DeliveryJobData>,
  deps: DeliveryDeps,
): Promise<never> {
  const log = { notification_id: target.id, channel: target.channel, provider: sender.provider };

  if (error instanceof UndeliverableError) {
    await recordOutcome(deps, target, { errorMessage: error.message, final: true, attempted: false, provider: null });
    deps.logger.warn('notification failed: nobody to send it to', { ...log, reason: error.message });
    throw new UnrecoverableError(error.message);
  }

  const failure = toProviderError(error);
  const reason = `${sender.provider}: ${failure.message}`;
  switch (failure.kind) {
    case 'throttle': {
      // The starts not counted as attempts are the throttled ones, this one included.
      const throttles = job.attemptsStarted - job.attemptsMade;
      if (throttles > deps.maxThrottles) {
        const errorMessage = `Gave up after being throttled ${throttles} times: ${reason}`;
        await recordOutcome(deps, target, { errorMessage, final: true, attempted: false, provider: sender.provider });
        deps.logger.warn('notification failed: throttled too often', { ...log, throttles });
        throw new UnrecoverableError(errorMessage);
      }
      const waitMs = Math.min(Math.max(failure.retryAfterMs ?? 1000, 100), MAX_THROTTLE_MS);
      await recordOutcome(deps, target, {
        errorMessage: `${reason} (throttled, retrying in ${Math.ceil(waitMs / 1000)} s)`,
        final: false,
        attempted: false,
        provider: sender.provider,
      });
      deps.logger.warn('provider throttled, pausing the queue', { ...log, wait_ms: waitMs });
      await deps.pauseChannel(target.channel, waitMs);
      throw Worker.RateLimitError();
    }
    case 'fail':
    case 'invalid-address':
      await recordOutcome(deps, target, { errorMessage: reason, final: true, attempted: true, provider: sender.provider });
      deps.logger.warn('notification failed permanently', { ...log, reason });
      throw new UnrecoverableError(reason);
    case 'retry': {
      const attempt = job.attemptsMade + 1;
      const final = attempt >= (job.opts.attempts ?? 1);
      const errorMessage = final ? `Gave up after ${attempt} attempts: ${reason}` : reason;
      await recordOutcome(deps, target, { errorMessage, final, attempted: true, provider: sender.provider });
      deps.logger.warn(final ? 'notification failed: no attempts left' : 'send failed, will retry', { ...log, attempt, reason });
      throw failure;
    }
  }
}

/** Records an attempt that did not deliver, and counts the notification when it becomes `failed`. */
async function recordOutcome(deps: DeliveryDeps, target: DeliveryTarget, outcome: Parameters<typeof recordNotDelivered>[2]): Promise<void> {
  if ((await recordNotDelivered(deps.manager, target.id, outcome)) && outcome.final) {
    deps.metrics.notificationsFinished.inc({ channel: target.channel, status: 'failed' });
  }
}

/**
 * The provider call, or a retriable error once `ms` have passed. Providers bound their own calls;
 * this is the backstop that keeps a hung SDK from holding a job (and its lock) for ever.
 */
async function withinTimeout<T>(call: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new ProviderError('retry', `no answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([call, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
