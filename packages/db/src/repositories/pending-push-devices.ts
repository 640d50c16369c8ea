import type { EntityManager } from 'typeorm';
import { STORED_PUSH_TOKEN, targetFromRow, type DeliveryRow, type DeliveryTarget, type SentDelivery } from './deliveries';

// A push goes to every active device of its user and is `sent` once one of them took it. A device
// that refused it for now (FCM UNAVAILABLE, the device over its own rate) is still owed it: these
// functions keep such devices in pending_push_devices until each took it, turned out dead, or was
// given up on. The rows are written only in that case, never on the path of a push every device took.

/** The devices a push is still to reach, and why each did not take it (for the row's reason). */
export interface PendingDevices {
  readonly deviceIds: readonly number[];
  readonly errorMessage: string;
}

/**
 * Records a push that some devices took (`sent`, as {@link recordSentDeliveries} does) and the
 * devices still to reach, in one statement: no crash can leave it sent with those devices forgotten.
 *
 * @returns whether the row changed (only the lease's holder records)
 */
export async function recordSentWithPendingDevices(manager: EntityManager, delivery: SentDelivery, pending: PendingDevices): Promise<boolean> {
  const rows: Array<{ id: number }> = await manager.query(
    `WITH sent AS (
       UPDATE notifications
       SET status = 'sent', sent_at = now(), attempts = attempts + 1, provider = $3, provider_message_id = $4,
           error_message = NULL, lease_token = NULL, lease_until = NULL, updated_at = now()
       WHERE id = $1 AND status = 'pending' AND lease_token = $2
       RETURNING id
     ), owed AS (
       INSERT INTO pending_push_devices (notification_id, device_id, error_message)
       SELECT sent.id, device_id, $6 FROM sent, unnest($5::bigint[]) AS device_id
       ON CONFLICT (notification_id, device_id) DO UPDATE SET error_message = EXCLUDED.error_message, updated_at = now()
     )
     SELECT id FROM sent`,
    [delivery.id, delivery.leaseToken, delivery.provider, delivery.providerMessageId, pending.deviceIds, pending.errorMessage],
  );
  return rows.length > 0;
}

/**
 * Claims a sent push that still has devices to reach (a lease on the row, as a delivery's claim
 * takes), with those of them that are still active and still its user's, and the text the other
 * devices got: for a digest, the texts of every notification sent with it.
 *
 * @returns the push to send to those devices, or null: nothing pending, or another attempt holds it
 */
export async function claimPendingPushDevices(manager: EntityManager, notificationId: number, token: string, leaseMs: number): Promise<DeliveryTarget | null> {
  const rows: DeliveryRow[] = await manager.query(
    `WITH claimed AS (
       UPDATE notifications
       SET lease_token = $2, lease_until = now() + $3 * interval '1 millisecond'
       WHERE id = $1 AND status = 'sent' AND channel = 'push' AND (lease_until IS NULL OR lease_until < now())
         AND EXISTS (SELECT 1 FROM pending_push_devices p WHERE p.notification_id = notifications.id)
       RETURNING id, user_id, channel, message, subject, html, status, attempts, created_at, scheduled_at, urgent, critical, digest_key, reminder_id,
                 fallback_from_id, provider_message_id
     )
     SELECT c.id, c.user_id, c.channel, c.subject, c.html, c.status, c.attempts, c.created_at, c.scheduled_at, c.urgent, c.critical, c.digest_key, c.fallback_from_id,
            coalesce((
              SELECT string_agg(m.message, E'\\n\\n' ORDER BY m.id) FROM notifications m
              WHERE c.digest_key IS NOT NULL AND m.user_id = c.user_id AND m.channel = 'push' AND m.digest_key = c.digest_key
                AND m.provider_message_id = c.provider_message_id AND m.status = 'sent'
            ), c.message) AS message,
            u.email, u.phone, u.locale, u.timezone, u.quiet_hours_start, u.quiet_hours_end, u.quiet_hours_email, false AS opted_out,
            c.reminder_id IS NULL AND EXISTS (
              SELECT 1 FROM user_channel_preferences pref WHERE pref.user_id = c.user_id AND pref.channel = 'push' AND NOT pref.enabled
            ) AS turned_off,
            (
              SELECT json_agg(${STORED_PUSH_TOKEN} ORDER BY d.id)
              FROM pending_push_devices p JOIN devices d ON d.id = p.device_id
              WHERE p.notification_id = c.id AND d.user_id = c.user_id AND d.disabled_at IS NULL
            ) AS devices
     FROM claimed c JOIN users u ON u.id = c.user_id`,
    [notificationId, token, leaseMs],
  );
  const [row] = rows;
  return row ? targetFromRow(row, token) : null;
}

/** Forgets devices of a push: they took it, turned out dead, or were given up on (all of them when `deviceIds` is omitted). */
export async function settlePendingPushDevices(manager: EntityManager, notificationId: number, deviceIds?: readonly number[]): Promise<void> {
  if (deviceIds?.length === 0) return;
  await manager.query(
    `DELETE FROM pending_push_devices WHERE notification_id = $1 ${deviceIds ? 'AND device_id = ANY($2::bigint[])' : ''}`,
    deviceIds ? [notificationId, deviceIds] : [notificationId],
  );
}

/** Notes why devices of a push did not take it this time either; they stay pending. */
export async function deferPendingPushDevices(manager: EntityManager, notificationId: number, pending: PendingDevices): Promise<void> {
  await manager.query(`UPDATE pending_push_devices SET error_message = $3, updated_at = now() WHERE notification_id = $1 AND device_id = ANY($2::bigint[])`, [
    notificationId,
    pending.deviceIds,
    pending.errorMessage,
  ]);
}

/** Releases the lease taken by {@link claimPendingPushDevices}. */
export async function releasePendingPushDevices(manager: EntityManager, target: Pick<DeliveryTarget, 'id' | 'leaseToken'>): Promise<void> {
  await manager.query(`UPDATE notifications SET lease_token = NULL, lease_until = NULL WHERE id = $1 AND lease_token = $2`, [target.id, target.leaseToken]);
}

/**
 * Sent pushes with devices still pending that may have no job on its way: untouched for `graceMs`
 * and not held by a live lease. The sweeper checks each in Redis. Pages by id: pass the last id
 * seen as `afterId`.
 */
export async function findStalePendingPushDevices(manager: EntityManager, options: { graceMs: number; limit: number; afterId: number }): Promise<Array<{ id: number }>> {
  const rows: Array<{ id: number }> = await manager.query(
    `SELECT n.id FROM notifications n
     WHERE n.id IN (
         SELECT notification_id FROM pending_push_devices GROUP BY notification_id
         HAVING max(updated_at) < now() - $1 * interval '1 millisecond'
       )
       AND n.id > $3 AND (n.lease_until IS NULL OR n.lease_until < now())
     ORDER BY n.id
     LIMIT $2`,
    [options.graceMs, options.limit, options.afterId],
  );
  return rows.map((row) => ({ id: Number(row.id) }));
}
