import type { EntityManager } from 'typeorm';
import type { Channel, NotificationStatus } from '../entities/channel';

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
  /** Active devices' registration tokens; empty unless the channel is push. */
  readonly tokens: readonly string[];
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
  tokens: string[] | null;
}

/** Loads a notification with its recipient's address or device tokens; null when it no longer exists. */
export async function loadDeliveryTarget(manager: EntityManager, notificationId: number): Promise<DeliveryTarget | null> {
  const [row]: DeliveryRow[] = await manager.query(
    `SELECT n.id, n.user_id, n.channel, n.message, n.subject, n.status, n.attempts, n.created_at, u.email, u.phone, u.locale,
            CASE WHEN n.channel = 'push' THEN ARRAY(
              SELECT d.token FROM devices d WHERE d.user_id = n.user_id AND d.disabled_at IS NULL ORDER BY d.id
            ) END AS tokens
     FROM notifications n JOIN users u ON u.id = n.user_id
     WHERE n.id = $1`,
    [notificationId],
  );
  if (!row) return null;
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
    tokens: row.tokens ?? [],
  };
}

/**
 * Records a delivery the provider accepted. Only a pending row changes: a row already final stays
 * as it is.
 *
 * @returns whether the row changed
 */
export async function recordSent(
  manager: EntityManager,
  notificationId: number,
  accepted: { provider: string; providerMessageId: string | null },
): Promise<boolean> {
  const [, count]: [unknown, number] = await manager.query(
    `UPDATE notifications
     SET status = 'sent', sent_at = now(), attempts = attempts + 1, provider = $2, provider_message_id = $3,
         error_message = NULL, updated_at = now()
     WHERE id = $1 AND status = 'pending'`,
    [notificationId, accepted.provider, accepted.providerMessageId],
  );
  return count === 1;
}

/**
 * Records an attempt that did not deliver: the row keeps `pending` with the error when it will be
 * retried, or becomes `failed` when `final`.
 *
 * @param attempted - whether a provider was called (a throttled or never-made call is not an attempt)
 */
export async function recordNotDelivered(
  manager: EntityManager,
  notificationId: number,
  outcome: { errorMessage: string; final: boolean; attempted: boolean; provider: string | null },
): Promise<boolean> {
  const [, count]: [unknown, number] = await manager.query(
    `UPDATE notifications
     SET status = CASE WHEN $3 THEN 'failed' ELSE status END,
         error_message = $2,
         attempts = attempts + CASE WHEN $4 THEN 1 ELSE 0 END,
         provider = coalesce($5, provider),
         updated_at = now()
     WHERE id = $1 AND status = 'pending'`,
    [notificationId, outcome.errorMessage, outcome.final, outcome.attempted, outcome.provider],
  );
  return count === 1;
}

/** Disables the devices of tokens the push provider reported dead. */
export async function disableDeviceTokens(manager: EntityManager, tokens: readonly string[]): Promise<number> {
  if (tokens.length === 0) return 0;
  const [, count]: [unknown, number] = await manager.query(
    `UPDATE devices SET disabled_at = now() WHERE token = ANY($1::varchar[]) AND disabled_at IS NULL`,
    [tokens],
  );
  return count;
}
