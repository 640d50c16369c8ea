import type { EntityManager } from 'typeorm';
import type { Channel, NotificationStatus } from '../entities/channel';
import { pushTokenHash } from '../push-tokens';

/** A notification as its worker needs it: the row, and where to send it. */
export interface DeliveryTarget {
  readonly id: number;
  readonly userId: number;
  readonly channel: Channel;
  readonly message: string;
  readonly subject: string | null;
  readonly status: NotificationStatus;
  readonly attempts: number;
  readonly createdAt: Date;
  readonly email: string | null;
  readonly phone: string | null;
  readonly locale: string;
  /** Active devices' registration tokens, as stored (sealed); empty unless the channel is push. */
  readonly devices: readonly StoredPushToken[];
  /** The lease this attempt holds on the row. */
  readonly leaseToken: string;
}

interface DeliveryRow {
  id: number;
  user_id: number;
  channel: Channel;
  message: string;
  subject: string | null;
  status: NotificationStatus;
  attempts: number;
  created_at: Date;
  email: string | null;
  phone: string | null;
  locale: string;
  devices: StoredPushToken[] | null;
}

/** A device's push token as the table holds it: sealed, or in clear on a row not sealed yet. */
export interface StoredPushToken {
  readonly hash: string;
  readonly ciphertext: string | null;
  readonly keyId: string | null;
  /** Only on rows written before tokens were encrypted. */
  readonly legacyToken: string | null;
}

/** Why a delivery could not be claimed. */
export type ClaimRefusal = 'missing' | 'final' | 'leased';

/**
 * Claims a pending notification for one delivery attempt, and loads it with its recipient's
 * address or device tokens: sets a lease (`token`, valid `leaseMs`) unless another attempt holds a
 * lease still running. Only the holder of the lease records the outcome.
 *
 * @returns the notification to send, or why there is none to send now: `missing` (its user was
 *   erased), `final` (already sent or failed), `leased` (another attempt is on it)
 */
export async function claimDelivery(
  manager: EntityManager,
  notificationId: number,
  token: string,
  leaseMs: number,
): Promise<DeliveryTarget | ClaimRefusal> {
  const [row]: DeliveryRow[] = await manager.query(
    `WITH claimed AS (
       UPDATE notifications
       SET lease_token = $2, lease_until = now() + $3 * interval '1 millisecond'
       WHERE id = $1 AND status = 'pending' AND (lease_until IS NULL OR lease_until < now())
       RETURNING id, user_id, channel, message, subject, status, attempts, created_at
     )
     SELECT c.*, u.email, u.phone, u.locale,
            CASE WHEN c.channel = 'push' THEN (
              SELECT json_agg(json_build_object('hash', d.token_hash, 'ciphertext', d.token_ciphertext, 'keyId', d.token_key_id, 'legacyToken', d.token) ORDER BY d.id)
              FROM devices d WHERE d.user_id = c.user_id AND d.disabled_at IS NULL
            ) END AS devices
     FROM claimed c JOIN users u ON u.id = c.user_id`,
    [notificationId, token, leaseMs],
  );
  if (!row) {
    const [current]: Array<{ status: NotificationStatus }> = await manager.query(`SELECT status FROM notifications WHERE id = $1`, [notificationId]);
    return !current ? 'missing' : current.status === 'pending' ? 'leased' : 'final';
  }
  return {
    id: row.id,
    userId: row.user_id,
    channel: row.channel,
    message: row.message,
    subject: row.subject,
    status: row.status,
    attempts: row.attempts,
    createdAt: row.created_at,
    email: row.email,
    phone: row.phone,
    locale: row.locale,
    devices: row.devices ?? [],
    leaseToken: token,
  };
}

/**
 * Records a delivery the provider accepted, and releases the lease. Only the lease's holder can:
 * an attempt whose lease was taken over (it ran past its deadline) changes nothing.
 *
 * @returns whether the row changed
 */
export async function recordSent(
  manager: EntityManager,
  target: Pick<DeliveryTarget, 'id' | 'leaseToken'>,
  accepted: { provider: string; providerMessageId: string | null },
): Promise<boolean> {
  const [, count]: [unknown, number] = await manager.query(
    `UPDATE notifications
     SET status = 'sent', sent_at = now(), attempts = attempts + 1, provider = $3, provider_message_id = $4,
         error_message = NULL, lease_token = NULL, lease_until = NULL, updated_at = now()
     WHERE id = $1 AND status = 'pending' AND lease_token = $2`,
    [target.id, target.leaseToken, accepted.provider, accepted.providerMessageId],
  );
  return count === 1;
}

/**
 * Records an attempt that did not deliver, and releases the lease: the row keeps `pending` with
 * the error when it will be retried, or becomes `failed` when `final`.
 *
 * @param attempted - whether a provider was called (a throttled or never-made call is not an attempt)
 */
export async function recordNotDelivered(
  manager: EntityManager,
  target: Pick<DeliveryTarget, 'id' | 'leaseToken'>,
  outcome: { errorMessage: string; final: boolean; attempted: boolean; provider: string | null },
): Promise<boolean> {
  const [, count]: [unknown, number] = await manager.query(
    `UPDATE notifications
     SET status = CASE WHEN $4 THEN 'failed' ELSE status END,
         error_message = $3,
         attempts = attempts + CASE WHEN $5 THEN 1 ELSE 0 END,
         provider = coalesce($6, provider),
         lease_token = NULL, lease_until = NULL,
         updated_at = now()
     WHERE id = $1 AND status = 'pending' AND lease_token = $2`,
    [target.id, target.leaseToken, outcome.errorMessage, outcome.final, outcome.attempted, outcome.provider],
  );
  return count === 1;
}

/** Disables the devices of tokens the push provider reported dead. */
export async function disableDeviceTokens(manager: EntityManager, tokens: readonly string[]): Promise<number> {
  if (tokens.length === 0) return 0;
  const [, count]: [unknown, number] = await manager.query(
    `UPDATE devices SET disabled_at = now() WHERE token_hash = ANY($1::char(64)[]) AND disabled_at IS NULL`,
    [tokens.map(pushTokenHash)],
  );
  return count;
}

/**
 * Pending notifications that may have no job on its way: untouched for `graceMs` and not held by a
 * live lease (an attempt that died leaves an expired one). The sweeper checks each in Redis.
 * Pages by id: pass the last id seen as `afterId`.
 */
export async function findStalePending(
  manager: EntityManager,
  options: { graceMs: number; limit: number; afterId: number },
): Promise<Array<{ id: number; channel: Channel }>> {
  return manager.query(
    `SELECT id, channel FROM notifications
     WHERE status = 'pending' AND id > $3
       AND updated_at < now() - $1 * interval '1 millisecond'
       AND (lease_until IS NULL OR lease_until < now())
     ORDER BY id
     LIMIT $2`,
    [options.graceMs, options.limit, options.afterId],
  );
}
