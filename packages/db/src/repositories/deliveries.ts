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
  /** An email's HTML body as its template wrote it; null: written from the message. */
  readonly html: string | null;
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
  readonly timezone: string;
  /** Not before then. */
  readonly scheduledAt: Date | null;
  readonly urgent: boolean;
  readonly critical: boolean;
  readonly digestKey: string | null;
  readonly quietHours: { readonly start: string; readonly end: string; readonly email: boolean } | null;
  /** Whether the user unsubscribed from this notification's channel. */
  readonly optedOut: boolean;
  /**
   * Whether the user has turned this notification's channel off in their preferences (never for a
   * reminder's notification: reminders carry their own channels).
   */
  readonly turnedOff: boolean;
  /** The failed notification this one stands in for, on the next channel of its fallback chain. */
  readonly fallbackFromId: number | null;
  /**
   * Whether its text was written with a user token and the user has not proven the address of its
   * channel (a backend changed it since): it must not go there.
   */
  readonly unprovenAddress: boolean;
  /**
   * The verification whose code it carries. Such a notification goes to the verification's address
   * only: `email` and `phone` are null in it, never the user's.
   */
  readonly contactVerificationId: number | null;
}

/** A claimed notification as the claims' statements return it. */
export interface DeliveryRow {
  id: number;
  user_id: number;
  channel: Channel;
  message: string;
  subject: string | null;
  html: string | null;
  status: NotificationStatus;
  attempts: number;
  created_at: Date;
  email: string | null;
  phone: string | null;
  locale: string;
  timezone: string;
  devices: StoredPushToken[] | null;
  scheduled_at: Date | null;
  urgent: boolean;
  critical: boolean;
  digest_key: string | null;
  quiet_hours_start: string | null;
  quiet_hours_end: string | null;
  quiet_hours_email: boolean;
  opted_out: boolean;
  turned_off: boolean;
  fallback_from_id: number | null;
  unproven_address: boolean;
  contact_verification_id: number | null;
}

/** A device's push token as the table holds it: sealed, or in clear on a row not sealed yet. */
export interface StoredPushToken {
  /** The device's id. */
  readonly id: number;
  readonly hash: string;
  readonly ciphertext: string | null;
  readonly keyId: string | null;
  /** Only on rows written before tokens were encrypted. */
  readonly legacyToken: string | null;
}

/**
 * Whether the row `notifications` of the enclosing statement (its `id = $1`) follows another pending
 * notification of its digest: the first one of the group sends them all. A first one being sent
 * right now took its members already: one that came too late goes on its own.
 */
const DIGEST_LEADER_BEFORE = `SELECT 1 FROM notifications leader
  WHERE notifications.digest_key IS NOT NULL AND leader.user_id = notifications.user_id AND leader.channel = notifications.channel
    AND leader.digest_key = notifications.digest_key AND leader.status = 'pending' AND leader.id < notifications.id
    AND (leader.lease_until IS NULL OR leader.lease_until < now())`;

/** A device row `d` as a {@link StoredPushToken}, in JSON. */
export const STORED_PUSH_TOKEN = `json_build_object('id', d.id, 'hash', d.token_hash, 'ciphertext', d.token_ciphertext, 'keyId', d.token_key_id, 'legacyToken', d.token)`;

/** Why a delivery could not be claimed. */
export type ClaimRefusal = 'missing' | 'final' | 'leased' | 'in-digest';

/**
 * Claims pending notifications for one delivery attempt each, and loads them with their
 * recipients' addresses or device tokens, in one statement: sets a lease (`token`, valid
 * `leaseMs`) on each one that no other attempt holds a lease on still running. Only the holder of
 * a lease records the outcome. The attempts of one call share the token: each row is claimed once
 * (an id given twice is `leased` the second time).
 *
 * @returns for each id, in order, the notification to send or why there is none to send now:
 *   `missing` (its user was erased), `final` (already sent, failed or cancelled), `leased` (another
 *   attempt is on it), `in-digest` (a member of a digest whose first pending notification, the
 *   group's leader, will send it)
 */
export async function claimDeliveries(
  manager: EntityManager,
  notificationIds: readonly number[],
  token: string,
  leaseMs: number,
): Promise<Array<DeliveryTarget | ClaimRefusal>> {
  // The index scan takes the row locks in id order, whatever the order given: no deadlock between batches.
  const rows: DeliveryRow[] = await manager.query(
    `WITH claimed AS (
       UPDATE notifications
       SET lease_token = $2, lease_until = now() + $3 * interval '1 millisecond'
       WHERE id = ANY($1::bigint[]) AND status = 'pending' AND (lease_until IS NULL OR lease_until < now())
         AND NOT EXISTS (${DIGEST_LEADER_BEFORE})
       RETURNING id, user_id, channel, message, subject, html, status, attempts, created_at, scheduled_at, urgent, critical, digest_key, reminder_id, fallback_from_id,
                 text_from_user_token, contact_verification_id
     )
     -- A code goes to the address it proves, which the worker reads with the code: never to the user's.
     SELECT c.*, CASE WHEN c.contact_verification_id IS NULL THEN u.email END AS email, CASE WHEN c.contact_verification_id IS NULL THEN u.phone END AS phone,
            u.locale, u.timezone, u.quiet_hours_start, u.quiet_hours_end, u.quiet_hours_email,
            c.text_from_user_token AND CASE c.channel WHEN 'email' THEN u.email_verified_at IS NULL WHEN 'sms' THEN u.phone_verified_at IS NULL ELSE false END AS unproven_address,
            CASE c.channel WHEN 'email' THEN u.email_opted_out_at IS NOT NULL WHEN 'sms' THEN u.sms_opted_out_at IS NOT NULL ELSE false END AS opted_out,
            c.reminder_id IS NULL AND EXISTS (
              SELECT 1 FROM user_channel_preferences p WHERE p.user_id = c.user_id AND p.channel = c.channel AND NOT p.enabled
            ) AS turned_off,
            CASE WHEN c.channel = 'push' THEN (
              SELECT json_agg(${STORED_PUSH_TOKEN} ORDER BY d.id)
              FROM devices d WHERE d.user_id = c.user_id AND d.disabled_at IS NULL
            ) END AS devices
     FROM claimed c JOIN users u ON u.id = c.user_id`,
    [notificationIds, token, leaseMs],
  );
  const claimed = new Map(rows.map((row) => [Number(row.id), targetFromRow(row, token)]));
  const refusals = claimed.size < new Set(notificationIds).size ? await claimRefusals(manager, notificationIds.filter((id) => !claimed.has(id))) : new Map<number, ClaimRefusal>();
  return notificationIds.map((id) => {
    const target = claimed.get(id);
    if (!target) return refusals.get(id) ?? 'missing';
    claimed.delete(id);
    return target;
  });
}

/** Claims one pending notification: {@link claimDeliveries} for a single id. */
export async function claimDelivery(manager: EntityManager, notificationId: number, token: string, leaseMs: number): Promise<DeliveryTarget | ClaimRefusal> {
  const [result] = await claimDeliveries(manager, [notificationId], token, leaseMs);
  return result!;
}

/** Why notifications were not claimed; an id not in the map no longer exists. */
async function claimRefusals(manager: EntityManager, notificationIds: readonly number[]): Promise<Map<number, ClaimRefusal>> {
  const rows: Array<{ id: number; status: NotificationStatus; follower: boolean }> = await manager.query(
    `SELECT id, status, EXISTS (${DIGEST_LEADER_BEFORE}) AS follower FROM notifications WHERE id = ANY($1::bigint[])`,
    [notificationIds],
  );
  return new Map(rows.map((row) => [Number(row.id), row.status !== 'pending' ? 'final' : row.follower ? 'in-digest' : 'leased']));
}

/** The target of a claimed row, under the lease `token`. */
export function targetFromRow(row: DeliveryRow, token: string): DeliveryTarget {
  return {
    id: row.id,
    userId: row.user_id,
    channel: row.channel,
    message: row.message,
    subject: row.subject,
    html: row.html,
    status: row.status,
    attempts: row.attempts,
    createdAt: row.created_at,
    email: row.email,
    phone: row.phone,
    locale: row.locale,
    devices: row.devices ?? [],
    leaseToken: token,
    timezone: row.timezone,
    scheduledAt: row.scheduled_at,
    urgent: row.urgent,
    critical: row.critical,
    digestKey: row.digest_key,
    quietHours: row.quiet_hours_start && row.quiet_hours_end ? { start: row.quiet_hours_start, end: row.quiet_hours_end, email: row.quiet_hours_email } : null,
    optedOut: row.opted_out,
    turnedOff: row.turned_off,
    fallbackFromId: row.fallback_from_id,
    unprovenAddress: row.unproven_address,
    contactVerificationId: row.contact_verification_id,
  };
}

/** A delivery the provider accepted, to record. */
export interface SentDelivery {
  readonly id: number;
  readonly leaseToken: string;
  readonly provider: string;
  readonly providerMessageId: string | null;
}

/**
 * Records deliveries the provider accepted, and releases their leases, in one statement. Only the
 * lease's holder can: an attempt whose lease was taken over (it ran past its deadline) changes
 * nothing.
 *
 * @returns for each delivery, in order, whether its row changed
 */
export async function recordSentDeliveries(manager: EntityManager, deliveries: readonly SentDelivery[]): Promise<boolean[]> {
  if (deliveries.length === 0) return [];
  // Rows locked in id order: batches running at once never deadlock.
  const sorted = [...deliveries].sort((a, b) => a.id - b.id);
  const [rows]: [Array<{ id: number }>, number] = await manager.query(
    `UPDATE notifications n
     SET status = 'sent', sent_at = now(), attempts = n.attempts + 1, provider = v.provider, provider_message_id = v.provider_message_id,
         error_message = NULL, lease_token = NULL, lease_until = NULL, updated_at = now()
     FROM (SELECT * FROM unnest($1::bigint[], $2::uuid[], $3::varchar[], $4::varchar[]) AS v(id, lease_token, provider, provider_message_id) ORDER BY id) v
     WHERE n.id = v.id AND n.status = 'pending' AND n.lease_token = v.lease_token
     RETURNING n.id`,
    [sorted.map((d) => d.id), sorted.map((d) => d.leaseToken), sorted.map((d) => d.provider), sorted.map((d) => d.providerMessageId)],
  );
  const changed = new Set(rows.map((row) => Number(row.id)));
  // An id recorded twice in one call changed its row once.
  return deliveries.map((delivery) => changed.delete(delivery.id));
}

/**
 * Records a delivery the provider accepted, and releases the lease: {@link recordSentDeliveries}
 * for one.
 *
 * @returns whether the row changed
 */
export async function recordSent(
  manager: EntityManager,
  target: Pick<DeliveryTarget, 'id' | 'leaseToken'>,
  accepted: { provider: string; providerMessageId: string | null },
): Promise<boolean> {
  const [changed] = await recordSentDeliveries(manager, [{ id: target.id, leaseToken: target.leaseToken, ...accepted }]);
  return changed!;
}

/**
 * Records an attempt that did not deliver, and releases the lease: the row keeps `pending` with
 * the error when it will be retried, or becomes `failed` when `final` (`cancelled` with
 * `cancelled`: the user declined its channel since it was accepted).
 *
 * @param attempted - whether a provider was called (a throttled or never-made call is not an attempt)
 */
export async function recordNotDelivered(
  manager: EntityManager,
  target: Pick<DeliveryTarget, 'id' | 'leaseToken'>,
  outcome: { errorMessage: string; final: boolean; attempted: boolean; provider: string | null; cancelled?: boolean },
): Promise<{ recorded: boolean; fallback: FallbackDelivery | null }> {
  // A notification that fails for good (or is cancelled) with a fallback chain hands over to the
  // next channel, in the same statement: no crash can leave it failed without its stand-in. Once
  // only: a notification retried after its chain went on (its stand-in failed too) fails alone.
  const rows: Array<{ id: number | null; fallback_id: number | null; fallback_channel: Channel | null }> = await manager.query(
    `WITH before AS (
       SELECT id, fallback_to_id AS handed_over_to FROM notifications WHERE id = $1
     ), failed AS (
       UPDATE notifications
       SET status = CASE WHEN $4 THEN (CASE WHEN $7 THEN 'cancelled' ELSE 'failed' END) ELSE status END,
           error_message = $3,
           attempts = attempts + CASE WHEN $5 THEN 1 ELSE 0 END,
           provider = coalesce($6, provider),
           -- The stand-in's id is drawn here, so that one update links both ways.
           fallback_to_id = CASE WHEN $4 AND cardinality(fallback_channels) > 0 AND fallback_to_id IS NULL
                                 THEN nextval(pg_get_serial_sequence('notifications', 'id')) ELSE fallback_to_id END,
           lease_token = NULL, lease_until = NULL,
           updated_at = now()
       WHERE id = $1 AND status = 'pending' AND lease_token = $2
       RETURNING *
     ), stand_in AS (
       -- A template's notification takes over with the text its template writes for the next channel.
       INSERT INTO notifications (id, user_id, channel, message, subject, html, template, variants, ticket_id, reminder_id, urgent, critical, fallback_channels, fallback_from_id,
                                  text_from_user_token)
       SELECT fallback_to_id, user_id, fallback_channels[1],
              coalesce(variants -> fallback_channels[1] ->> 'message', message),
              CASE WHEN variants ? fallback_channels[1] THEN variants -> fallback_channels[1] ->> 'subject' ELSE subject END,
              variants -> fallback_channels[1] ->> 'html', template, variants, ticket_id, reminder_id, urgent, critical,
              CASE WHEN cardinality(fallback_channels) > 1 THEN fallback_channels[2:] END, id, text_from_user_token
       FROM failed JOIN before USING (id) WHERE fallback_to_id IS NOT NULL AND handed_over_to IS NULL
       RETURNING id, channel
     )
     SELECT f.id, s.id AS fallback_id, s.channel AS fallback_channel FROM failed f LEFT JOIN stand_in s ON true`,
    [target.id, target.leaseToken, outcome.errorMessage, outcome.final, outcome.attempted, outcome.provider, outcome.cancelled ?? false],
  );
  const [row] = rows;
  return {
    recorded: row !== undefined,
    fallback: row?.fallback_id != null ? { id: Number(row.fallback_id), channel: row.fallback_channel!, fallbackFromId: target.id } : null,
  };
}

/** The notification that takes over on the next channel of a failed (or cancelled) one's fallback chain. */
export interface FallbackDelivery {
  readonly id: number;
  readonly channel: Channel;
  readonly fallbackFromId: number;
}

/**
 * Claims, under the lease of `target`, the other due pending notifications of its digest (same
 * user, channel and key), oldest first, for them to go out in one message with it.
 */
export async function claimDigestMembers(
  manager: EntityManager,
  target: Pick<DeliveryTarget, 'id' | 'userId' | 'channel' | 'digestKey' | 'leaseToken'>,
  leaseMs: number,
): Promise<Array<Pick<DeliveryTarget, 'id' | 'leaseToken' | 'message' | 'createdAt'>>> {
  const [rows]: [Array<{ id: number; message: string; created_at: Date }>, number] = await manager.query(
    `UPDATE notifications SET lease_token = $5, lease_until = now() + $6 * interval '1 millisecond'
     WHERE id IN (
       SELECT id FROM notifications
       WHERE user_id = $2 AND channel = $3 AND digest_key = $4 AND status = 'pending' AND id <> $1
         AND (lease_until IS NULL OR lease_until < now()) AND (scheduled_at IS NULL OR scheduled_at <= now() + interval '1 second')
       ORDER BY id FOR UPDATE SKIP LOCKED
     )
     RETURNING id, message, created_at`,
    [target.id, target.userId, target.channel, target.digestKey, target.leaseToken, leaseMs],
  );
  return rows.sort((a, b) => a.id - b.id).map((row) => ({ id: row.id, message: row.message, createdAt: row.created_at, leaseToken: target.leaseToken }));
}

/** Gives a claimed notification back untouched (it is not its time yet): the lease is released. */
export async function releaseDelivery(manager: EntityManager, target: Pick<DeliveryTarget, 'id' | 'leaseToken'>, scheduledAt: Date): Promise<void> {
  await manager.query(`UPDATE notifications SET lease_token = NULL, lease_until = NULL, scheduled_at = $3, updated_at = now() WHERE id = $1 AND lease_token = $2`, [
    target.id,
    target.leaseToken,
    scheduledAt,
  ]);
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
): Promise<Array<{ id: number; channel: Channel; scheduledAt: Date | null }>> {
  return manager.query(
    `SELECT id, channel, scheduled_at AS "scheduledAt" FROM notifications
     WHERE status = 'pending' AND id > $3
       AND updated_at < now() - $1 * interval '1 millisecond'
       AND (lease_until IS NULL OR lease_until < now())
     ORDER BY id
     LIMIT $2`,
    [options.graceMs, options.limit, options.afterId],
  );
}
