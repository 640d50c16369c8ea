import { createHash } from 'node:crypto';
import { ContactVerification, insertPendingNotifications, type Contact, type Notification, type User } from '@notofine/db';
import { AppError, ServiceUnavailableError } from '@notofine/errors';
import type { Logger } from '@notofine/logger';
import { CONTACT_CHANNEL, VERIFICATION, VERIFICATION_TEMPLATE, verificationMessage } from '@notofine/notifications';
import type { DeliveryQueues } from '@notofine/queue';
import type { Redis } from 'ioredis';
import { RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import type { EntityManager } from 'typeorm';

/** An address a code is to be sent to, to prove it is the user's. */
export interface AddressToProve {
  readonly contact: Contact;
  readonly address: string;
}

/** How details name each contact. */
export const CONTACT_NAME: Readonly<Record<Contact, string>> = { email: 'email address', phone: 'phone number' };

/**
 * Sends verification codes: holds each send to its limits (one a minute to an address for a user,
 * `VERIFICATION.perUser` for a user, `VERIFICATION.perAddress` for an address whoever asks,
 * counted in Redis across API replicas), writes the verification and the notification that carries
 * its code, and queues it. The code itself is drawn by the worker as the message goes out.
 */
export class VerificationCodes {
  private readonly perResend: RateLimiterRedis;
  private readonly perUser: RateLimiterRedis;
  private readonly perAddress: RateLimiterRedis;

  constructor(
    redis: Redis,
    prefix: string,
    private readonly queues: DeliveryQueues,
    private readonly logger: Logger,
  ) {
    // No in-memory fallback: while Redis cannot count, no code goes out (SMS cost money).
    const limiter = (name: string, points: number, durationMs: number) =>
      new RateLimiterRedis({ storeClient: redis, keyPrefix: `${prefix}:verification:${name}`, points, duration: Math.ceil(durationMs / 1000), rejectIfRedisNotReady: true });
    this.perResend = limiter('resend', 1, VERIFICATION.resendAfterMs);
    this.perUser = limiter('user', VERIFICATION.perUser.max, VERIFICATION.perUser.durationMs);
    this.perAddress = limiter('address', VERIFICATION.perAddress.max, VERIFICATION.perAddress.durationMs);
  }

  /**
   * Counts the codes about to be sent against their limits, before anything is written.
   *
   * @throws {@link AppError} 429 `verification-rate-limited` with `Retry-After` past a limit (the
   *   codes counted before it stay counted), 503 when the counters cannot be reached
   */
  async reserve(userId: number, addresses: readonly AddressToProve[]): Promise<void> {
    for (const { contact, address } of addresses) {
      // Hashed: the counters' keys are no place for an address.
      const key = addressKey(address);
      await this.consume(this.perResend, `${userId}:${key}`, () => `A code was sent to this ${CONTACT_NAME[contact]} less than ${VERIFICATION.resendAfterMs / 1000} s ago`);
      await this.consume(this.perUser, String(userId), () => `User ${userId} was sent ${VERIFICATION.perUser.max} verification codes in the last hour, the most one user may get`);
      await this.consume(this.perAddress, key, () => `This ${CONTACT_NAME[contact]} was sent ${VERIFICATION.perAddress.max} verification codes in the last 24 hours, the most one address may get`);
    }
  }

  /**
   * Replaces the user's verification of each contact by one for the new address, and writes the
   * notification carrying its code, in the caller's transaction. Queue them with {@link queue}
   * once it is committed.
   */
  async write(tx: EntityManager, user: Pick<User, 'id' | 'locale' | 'timezone'>, addresses: readonly AddressToProve[]): Promise<Notification[]> {
    const notifications: Notification[] = [];
    for (const { contact, address } of addresses) {
      await tx.delete(ContactVerification, { userId: user.id, contact });
      const verification = await tx.save(tx.create(ContactVerification, { userId: user.id, contact, address }));
      notifications.push(...(await this.writeCode(tx, user, verification)));
    }
    return notifications;
  }

  /** Writes the notification carrying a new code for a verification already there (its failed attempts stay). */
  async writeCode(tx: EntityManager, user: Pick<User, 'id' | 'locale' | 'timezone'>, verification: ContactVerification): Promise<Notification[]> {
    const { message, subject, html } = verificationMessage(verification.contact, user);
    return insertPendingNotifications(tx, [
      {
        userId: user.id,
        channel: CONTACT_CHANNEL[verification.contact],
        message,
        subject,
        html,
        template: VERIFICATION_TEMPLATE,
        ticketId: null,
        reminderId: null,
        // The user is waiting for it: not held by quiet hours, and not by the choices they made
        // about their current address (unsubscribed, channel turned off).
        urgent: true,
        critical: true,
        contactVerificationId: verification.id,
      },
    ]);
  }

  /** Queues the notifications written; should Redis fail now, the sweeper queues them later. */
  async queue(notifications: readonly Notification[]): Promise<void> {
    if (notifications.length === 0) return;
    await this.queues.enqueue(notifications).catch((error: unknown) =>
      this.logger.warn('could not queue verification codes now: the sweeper will', { error, notification_ids: notifications.map((n) => n.id) }),
    );
  }

  private async consume(limiter: RateLimiterRedis, key: string, reason: () => string): Promise<void> {
    try {
      await limiter.consume(key);
    } catch (rejection) {
      if (!(rejection instanceof RateLimiterRes)) {
        throw new ServiceUnavailableError('Verification codes cannot be counted against their limits right now, so none is sent: retry in a few seconds.', { cause: rejection });
      }
      const seconds = Math.max(1, Math.ceil(rejection.msBeforeNext / 1000));
      throw new AppError(429, 'verification-rate-limited', 'Too many verification codes', `${reason()}: retry in ${seconds} s.`, { headers: { 'Retry-After': String(seconds) } });
    }
  }
}

function addressKey(address: string): string {
  return createHash('sha256').update(address.toLowerCase()).digest('hex');
}
