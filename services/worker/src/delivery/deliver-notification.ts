import {
  claimDigestMembers,
  countRecentSms,
  isDatabaseUnavailable,
  recordNotDelivered,
  recordVerificationCode,
  recordSentWithPendingDevices,
  releaseDelivery,
  SMS_CAP_WINDOW_MS,
  type Channel,
  type ClaimRefusal,
  type DeliveryTarget,
} from '@notofine/db';
import type { Logger } from '@notofine/logger';
import type { Metrics } from '@notofine/metrics';
import { ProviderError, toProviderError } from '@notofine/providers';
import { VERIFICATION, drawVerificationCode, quietUntil, verificationCodeHash, verificationMessage } from '@notofine/notifications';
import type { Delivery, DeliveryJobData } from '@notofine/queue';
import { DelayedError, UnrecoverableError, Worker, type Job } from 'bullmq';
import type { EntityManager } from 'typeorm';
import { UndeliverableError, type ChannelSender, type Sent } from './channel-sender';
import type { DeliveryStore } from './delivery-store';
import type { PushSender } from './push-sender';

export interface DeliveryDeps {
  readonly manager: EntityManager;
  /** Claims and `sent` records, batched across the jobs in hand. */
  readonly store: DeliveryStore;
  readonly metrics: Metrics;
  /** A provider call still running after this long is abandoned and retried. */
  readonly providerTimeoutMs: number;
  /** How long a claim on a notification holds: longer than any provider call. */
  readonly leaseMs: number;
  /** How many times a job may be put back because its provider throttled, before it fails. */
  readonly maxThrottles: number;
  /** Provider calls per notification (DELIVERY_ATTEMPTS, this worker's): the last failing, it is `failed`. */
  readonly attempts: number;
  /** SMS a user may be sent in any 24 hours (0: no cap), checked here for fallback SMS, which the API never saw. */
  readonly smsDailyCap: number;
  readonly senders: { readonly email: ChannelSender; readonly sms: ChannelSender; readonly push: PushSender };
  /** Holds back a channel's whole queue for a while (the provider asked us to slow down, or PostgreSQL is gone). */
  readonly pauseChannel: (channel: Channel, ms: number) => Promise<void>;
  /** Queues deliveries (a failed notification's stand-in on its fallback channel). */
  readonly enqueue: (deliveries: readonly Delivery[]) => Promise<void>;
  /** Queues the delivery of a sent push to its pending devices, not before `delayMs`. */
  readonly enqueuePendingDevices: (notificationId: number, delayMs: number) => Promise<void>;
  /** The first retry's delay (DELIVERY_BACKOFF_MS). */
  readonly backoffMs: number;
  readonly logger: Logger;
}

/** What a delivery job ended with, kept as the job's return value. */
export type DeliveryOutcome = 'sent' | 'already-final' | 'missing' | 'leased-elsewhere' | 'cancelled' | 'in-digest';

/** A job that runs this much ahead of its notification's planned time is put back, delayed. */
const EARLY_TOLERANCE_MS = 1000;

/** Longest pause a provider's throttling, or its Retry-After, may impose on a queue. */
const MAX_THROTTLE_MS = 10 * 60_000;
/** How long a queue waits before trying again while PostgreSQL cannot be reached. */
export const DATABASE_PAUSE_MS = 2000;

/**
 * Processes one delivery job: claims the notification, sends it through its channel's provider and
 * records the outcome on the row.
 *
 * - The claim (a lease on the row) comes before the provider call: two workers never send the same
 *   notification at once, even when BullMQ redelivers a job whose first worker still runs. A worker
 *   that dies before the call sends nothing twice; one that dies after it causes at most one extra
 *   send, once its lease has expired.
 * - A row already `sent` or `failed` is left alone, so a job delivered twice sends once.
 * - A retriable failure keeps the row `pending` with the error and rethrows, so that BullMQ retries
 *   with backoff; on the last attempt the row becomes `failed`.
 * - A permanent failure makes the row `failed` and ends the job with `UnrecoverableError`.
 * - Throttling, and PostgreSQL being away, pause the channel's queue and put the job back without
 *   spending an attempt; a throttle about one recipient's own rate (a device's) delays this job only.
 */
export async function deliverNotification(job: Job<DeliveryJobData>, deps: DeliveryDeps, channel: Channel, token?: string): Promise<DeliveryOutcome> {
  const { notificationId } = job.data;
  let claim;
  try {
    claim = await deps.store.claim(notificationId);
  } catch (error) {
    if (!isDatabaseUnavailable(error)) throw error;
    deps.logger.warn('database unavailable, pausing the queue', { notification_id: notificationId, wait_ms: DATABASE_PAUSE_MS });
    await deps.pauseChannel(channel, DATABASE_PAUSE_MS);
    throw Worker.RateLimitError();
  }
  if (typeof claim === 'string') return notClaimed(claim, notificationId, deps);
  let target = claim;

  // Unsubscribed, or the channel turned off, since it was accepted: it is not sent (a critical
  // notice is). One with a fallback chain hands over to its next channel, as a failure would.
  const declined = declinedReason(target);
  if (declined) {
    deps.logger.info('notification cancelled: the user no longer takes this channel', { notification_id: target.id, channel: target.channel, reason: declined });
    await recordOutcome(deps, target, { errorMessage: declined, final: true, attempted: false, provider: null, cancelled: true });
    return 'cancelled';
  }
  // Not its time: a job run early (queued again without its delay), or quiet hours begun since.
  const now = new Date();
  const planned = target.scheduledAt && target.scheduledAt.getTime() > now.getTime() + EARLY_TOLERANCE_MS ? target.scheduledAt : null;
  const notBefore = planned ?? (target.urgent ? null : quietUntil(target.channel, target.quietHours, target.timezone, now));
  if (notBefore && token !== undefined) {
    await persistently(() => releaseDelivery(deps.manager, target, notBefore));
    await job.moveToDelayed(notBefore.getTime(), token);
    deps.logger.info('notification put back until its time', { notification_id: target.id, until: notBefore.toISOString() });
    throw new DelayedError();
  }
  // A fallback SMS comes after the send was accepted: the daily cap is checked now; past it, the chain goes on.
  if (target.channel === 'sms' && target.fallbackFromId !== null && (await pastSmsCap(deps, target))) {
    const errorMessage = `The user reached the daily cap of ${deps.smsDailyCap} SMS.`;
    await recordOutcome(deps, target, { errorMessage, final: true, attempted: false, provider: null });
    deps.logger.warn('fallback SMS not sent: the user reached the daily cap', { notification_id: target.id, cap: deps.smsDailyCap });
    throw new UnrecoverableError(errorMessage);
  }
  // A verification code is drawn now, as it goes out, and goes to the address it proves only.
  if (target.contactVerificationId !== null) {
    const withCode = await withVerificationCode(deps, target, target.contactVerificationId);
    if (!withCode) {
      const reason = 'The address this code was to prove is no longer waiting for one (proven, replaced or given up).';
      deps.logger.info('verification code not sent: nothing waits for it', { notification_id: target.id });
      await recordOutcome(deps, target, { errorMessage: reason, final: true, attempted: false, provider: null, cancelled: true });
      return 'cancelled';
    }
    target = withCode;
  }
  // A digest goes out as one message with every member of its group that is due.
  const members = target.digestKey ? await claimDigestMembers(deps.manager, target, deps.leaseMs) : [];
  // The HTML part of a digest is written from the texts put together.
  if (members.length > 0) target = { ...target, message: [target.message, ...members.map((member) => member.message)].join('\n\n'), html: null };

  const sender = deps.senders[target.channel];
  const stopTimer = deps.metrics.providerCallDuration.startTimer({ provider: sender.provider });
  let accepted: Sent;
  try {
    accepted = await withinTimeout(sender.send(target), deps.providerTimeoutMs);
  } catch (error) {
    const outcome = error instanceof UndeliverableError ? 'undeliverable' : toProviderError(error).kind;
    stopTimer({ outcome });
    deps.metrics.providerErrors.inc({ provider: sender.provider, kind: outcome });
    // The digest's other members go back to their own jobs (or, theirs done, to the sweeper).
    await Promise.all(members.map((member) => releaseDelivery(deps.manager, member, new Date()).catch(() => undefined)));
    return recordFailure(error, target, sender, job, deps, token);
  }
  stopTimer({ outcome: 'ok' });
  // The provider took it: the rows must say so, even if PostgreSQL hiccups right now. A push some
  // devices refused for now is recorded with those devices, in the same statement.
  const { pending } = accepted;
  await Promise.all(
    [target, ...members].map(async (sent) => {
      const delivery = { id: sent.id, leaseToken: sent.leaseToken, provider: sender.provider, providerMessageId: accepted.providerMessageId };
      const record = pending && sent === target ? () => recordSentWithPendingDevices(deps.manager, delivery, pending) : () => deps.store.recordSent(delivery);
      if (await persistently(record)) {
        deps.metrics.notificationsFinished.inc({ channel: target.channel, status: 'sent' });
        deps.metrics.sendLatency.observe({ channel: target.channel }, (Date.now() - sent.createdAt.getTime()) / 1000);
      }
    }),
  );
  deps.logger.info('notification sent', { notification_id: target.id, channel: target.channel, provider: sender.provider });
  if (pending) await schedulePendingDevices(deps, target, pending.next, pending.deviceIds.length);
  return 'sent';
}

/**
 * Queues the delivery of a push to the devices that refused it for now while another took it: after
 * the wait their refusal asks for (a throttle's, a Retry-After), else after the first backoff. A
 * wait the provider asked of every call holds the channel too, as it does after a failure.
 */
async function schedulePendingDevices(deps: DeliveryDeps, target: DeliveryTarget, next: ProviderError, devices: number): Promise<void> {
  const log = { notification_id: target.id, channel: target.channel, devices };
  const waitMs = next.kind === 'throttle' ? throttleWaitMs(next) : Math.max(deps.backoffMs, Math.min(next.retryAfterMs ?? 0, MAX_THROTTLE_MS));
  await holdChannel(deps, target.channel, next, log);
  deps.logger.info('push not taken by every device yet, the others will be tried again', { ...log, wait_ms: waitMs, reason: next.message });
  await deps
    .enqueuePendingDevices(target.id, waitMs)
    .catch((error: unknown) => deps.logger.warn('could not queue the pending devices now: the sweeper will', { ...log, error }));
}

function notClaimed(refusal: ClaimRefusal, notificationId: number, deps: DeliveryDeps): DeliveryOutcome {
  switch (refusal) {
    case 'in-digest':
      // The first pending notification of its digest sends it along (or, failing, leaves it to the sweeper).
      deps.logger.info('notification goes out with its digest', { notification_id: notificationId });
      return 'in-digest';
    case 'missing':
      // Its user was erased after it was queued.
      deps.logger.info('notification no longer exists, nothing to send', { notification_id: notificationId });
      return 'missing';
    case 'final':
      deps.logger.info('notification already final, not sent again', { notification_id: notificationId });
      return 'already-final';
    case 'leased':
      // Another attempt holds it (a redelivered job while the first still runs). If that attempt
      // dies, its lease expires and the sweeper queues the notification again.
      deps.logger.info('notification held by another attempt, not sent twice', { notification_id: notificationId });
      return 'leased-elsewhere';
  }
}

/**
 * Why this notification may not go out on its channel: text written with a user token to an
 * address the user has not proven (critical or not), or a channel the user no longer takes (not
 * for a critical notice). Null when it may.
 */
function declinedReason(target: DeliveryTarget): string | null {
  if (target.unprovenAddress) return `Its text was written with a user token, and the user has not proven the address of ${target.channel}.`;
  if (target.critical) return null;
  if (target.optedOut) return `The user unsubscribed from ${target.channel}.`;
  if (target.turnedOff) return `The user turned ${target.channel} off in their preferences.`;
  return null;
}

/**
 * The notification of a verification with a fresh code: the code's hash recorded on the
 * verification (the code itself is never stored), its message written with the code, and the
 * verification's address as its only recipient. Null when the verification is gone.
 */
async function withVerificationCode(deps: DeliveryDeps, target: DeliveryTarget, verificationId: number): Promise<DeliveryTarget | null> {
  const code = drawVerificationCode();
  const recorded = await persistently(() => recordVerificationCode(deps.manager, verificationId, verificationCodeHash(verificationId, code), VERIFICATION.codeTtlMs));
  if (!recorded) return null;
  const { message, subject, html } = verificationMessage(recorded.contact, target, code);
  const to = recorded.contact === 'email' ? { email: recorded.address, phone: null } : { email: null, phone: recorded.address };
  return { ...target, ...to, message, subject, html };
}

/** Whether the SMS cap leaves no room for this one: the user's other SMS of the last 24 hours fill it. */
async function pastSmsCap(deps: DeliveryDeps, target: DeliveryTarget): Promise<boolean> {
  if (deps.smsDailyCap <= 0) return false;
  const recent = await persistently(() => countRecentSms(deps.manager, [target.userId], new Date(Date.now() - SMS_CAP_WINDOW_MS)));
  // The count includes this notification.
  return (recent.get(target.userId)?.count ?? 0) > deps.smsDailyCap;
}

async function recordFailure(
  error: unknown,
  target: DeliveryTarget,
  sender: ChannelSender,
  job: Job<DeliveryJobData>,
  deps: DeliveryDeps,
  token: string | undefined,
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
      const throttles = (job.data.throttles ?? 0) + 1;
      if (throttles > deps.maxThrottles) {
        const errorMessage = `Gave up after being throttled ${throttles} times: ${reason}`;
        await recordOutcome(deps, target, { errorMessage, final: true, attempted: false, provider: sender.provider });
        deps.logger.warn('notification failed: throttled too often', { ...log, throttles });
        throw new UnrecoverableError(errorMessage);
      }
      await recordOutcome(deps, target, {
        errorMessage: `${reason} (throttled, retrying in ${Math.ceil(throttleWaitMs(failure) / 1000)} s)`,
        final: false,
        attempted: false,
        provider: sender.provider,
      });
      await job.updateData({ ...job.data, throttles });
      return waitOutThrottle(job, deps, target.channel, failure, token, log);
    }
    case 'fail':
    case 'invalid-address':
      await recordOutcome(deps, target, { errorMessage: reason, final: true, attempted: true, provider: sender.provider });
      deps.logger.warn('notification failed permanently', { ...log, reason });
      throw new UnrecoverableError(reason);
    case 'retry': {
      const attempt = job.attemptsMade + 1;
      const final = isLastAttempt(job, deps);
      const errorMessage = final ? `Gave up after ${attempt} attempts: ${reason}` : reason;
      await recordOutcome(deps, target, { errorMessage, final, attempted: true, provider: sender.provider });
      deps.logger.warn(final ? 'notification failed: no attempts left' : 'send failed, will retry', { ...log, attempt, reason });
      await holdChannel(deps, target.channel, failure, log);
      // Queued with more attempts than this worker gives it: BullMQ is told this one is the last.
      if (final) throw new UnrecoverableError(errorMessage);
      throw failure;
    }
  }
}

/**
 * Whether the job's attempt now running is its last: this worker's DELIVERY_ATTEMPTS, or fewer for a
 * job queued with fewer (by an earlier version). Jobs are queued with more than any worker gives.
 */
export function isLastAttempt(job: Job, deps: Pick<DeliveryDeps, 'attempts'>): boolean {
  return job.attemptsMade + 1 >= Math.min(deps.attempts, job.opts.attempts ?? 1);
}

/** How long a throttled job waits: the provider's Retry-After, else a second, within bounds. */
export function throttleWaitMs(failure: ProviderError): number {
  return Math.min(Math.max(failure.retryAfterMs ?? 1000, 100), MAX_THROTTLE_MS);
}

/**
 * Puts a throttled job back without spending an attempt. A throttle of the provider's own limits
 * pauses the channel's queue for every worker; one about a recipient's own rate (a device over its
 * quota) delays this job only, and the queue goes on.
 */
export async function waitOutThrottle(
  job: Job<DeliveryJobData>,
  deps: DeliveryDeps,
  channel: Channel,
  failure: ProviderError,
  token: string | undefined,
  log: Record<string, unknown>,
): Promise<never> {
  const waitMs = throttleWaitMs(failure);
  if (failure.scope === 'recipient' && token !== undefined) {
    deps.logger.warn('recipient throttled, the notification waits', { ...log, wait_ms: waitMs });
    await job.moveToDelayed(Date.now() + waitMs, token);
    throw new DelayedError();
  }
  deps.logger.warn('provider throttled, pausing the queue', { ...log, wait_ms: waitMs });
  await deps.pauseChannel(channel, waitMs);
  throw Worker.RateLimitError();
}

/**
 * A provider that asked every caller to wait is not called before then, by any notification: its
 * channel's queue waits that long. That is a throttle of its own limits, and a failure that said
 * when to come back (a 503's Retry-After: the attempt still counts, and the job retries after its
 * own backoff or the wait, whichever ends later). A recipient's own limit holds nothing else.
 */
export async function holdChannel(deps: DeliveryDeps, channel: Channel, failure: ProviderError, log: Record<string, unknown>): Promise<void> {
  if (failure.scope !== 'provider') return;
  const waitMs = failure.kind === 'throttle' ? throttleWaitMs(failure) : failure.kind === 'retry' && failure.retryAfterMs ? Math.min(failure.retryAfterMs, MAX_THROTTLE_MS) : 0;
  if (waitMs === 0) return;
  deps.logger.warn('provider asked to wait before the next call, pausing the queue', { ...log, wait_ms: waitMs });
  await deps.pauseChannel(channel, waitMs);
}

/**
 * Records an attempt that did not deliver, and counts the notification when it becomes `failed` (or `cancelled`);
 * queues its stand-in when it has a fallback channel (the sweeper does if Redis cannot now).
 */
async function recordOutcome(deps: DeliveryDeps, target: DeliveryTarget, outcome: Parameters<typeof recordNotDelivered>[2]): Promise<void> {
  const { recorded, fallback } = await persistently(() => recordNotDelivered(deps.manager, target, outcome));
  if (recorded && outcome.final) deps.metrics.notificationsFinished.inc({ channel: target.channel, status: outcome.cancelled ? 'cancelled' : 'failed' });
  if (fallback) {
    deps.logger.info('notification not delivered, trying its fallback channel', { notification_id: target.id, fallback_id: fallback.id, channel: fallback.channel });
    await deps.enqueue([fallback]).catch((error: unknown) => deps.logger.warn('could not queue the fallback now: the sweeper will', { error, notification_id: fallback.id }));
  }
}

/**
 * Runs a write again while PostgreSQL is unavailable (about 15 s in all): an outcome lost after
 * the provider call would make the notification be sent again once its lease expires.
 */
export async function persistently<T>(write: () => Promise<T>): Promise<T> {
  for (let delay = 250; ; delay *= 2) {
    try {
      return await write();
    } catch (error) {
      if (!isDatabaseUnavailable(error) || delay > 8000) throw error;
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}

/**
 * The provider call, or a retriable error once `ms` have passed. Providers bound their own calls;
 * this is the backstop that keeps a hung SDK from holding a job (and its lease) for ever.
 */
export async function withinTimeout<T>(call: Promise<T>, ms: number): Promise<T> {
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
