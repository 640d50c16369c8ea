import type { EntityManager } from 'typeorm';
import { NOTIFICATION_STATUSES, type Channel, type DeliveryStatus, type NotificationStatus } from '../entities/channel';
import { Notification, type ChannelVariants, type SkippedChannel } from '../entities/notification';

/** A notification to create, always `pending`. */
export interface NewNotification {
  readonly userId: number;
  readonly channel: Channel;
  readonly message: string;
  readonly subject: string | null;
  readonly ticketId: number | null;
  readonly reminderId: number | null;
  /** When it is to go out, if later than now. */
  readonly scheduledAt?: Date | null;
  readonly urgent?: boolean;
  readonly critical?: boolean;
  readonly fallbackChannels?: readonly Channel[] | null;
  readonly digestKey?: string | null;
  /** The template kind it was rendered from. */
  readonly template?: string | null;
  /** An email's HTML body, when its template wrote one. */
  readonly html?: string | null;
  /** What it would be on each of its fallback channels. */
  readonly variants?: ChannelVariants | null;
  /** Its text was written with a user token: it goes only to an address the user proved. */
  readonly textFromUserToken?: boolean;
  /** The verification whose code it carries, to that verification's address only. */
  readonly contactVerificationId?: number | null;
  /** The channels its send named that were left out, and why. */
  readonly skippedChannels?: readonly SkippedChannel[] | null;
}

interface NotificationRow {
  id: number;
  user_id: number;
  ticket_id: number | null;
  reminder_id: number | null;
  channel: Channel;
  message: string;
  subject: string | null;
  status: NotificationStatus;
  error_message: string | null;
  attempts: number;
  provider: string | null;
  provider_message_id: string | null;
  sent_at: Date | null;
  delivery_status: DeliveryStatus | null;
  delivery_status_at: Date | null;
  delivery_error: string | null;
  lease_token: string | null;
  lease_until: Date | null;
  scheduled_at: Date | null;
  urgent: boolean;
  critical: boolean;
  fallback_channels: Channel[] | null;
  fallback_from_id: number | null;
  fallback_to_id: number | null;
  digest_key: string | null;
  template: string | null;
  html: string | null;
  variants: ChannelVariants | null;
  text_from_user_token: boolean;
  contact_verification_id: number | null;
  skipped_channels: SkippedChannel[] | null;
  created_at: Date;
  updated_at: Date;
}

function notificationFromRow(row: NotificationRow): Notification {
  return Object.assign(new Notification(), {
    id: row.id,
    userId: row.user_id,
    ticketId: row.ticket_id,
    reminderId: row.reminder_id,
    channel: row.channel,
    message: row.message,
    subject: row.subject,
    status: row.status,
    errorMessage: row.error_message,
    attempts: row.attempts,
    provider: row.provider,
    providerMessageId: row.provider_message_id,
    sentAt: row.sent_at,
    deliveryStatus: row.delivery_status,
    deliveryStatusAt: row.delivery_status_at,
    deliveryError: row.delivery_error,
    leaseToken: row.lease_token,
    leaseUntil: row.lease_until,
    scheduledAt: row.scheduled_at,
    urgent: row.urgent,
    critical: row.critical,
    fallbackChannels: row.fallback_channels,
    fallbackFromId: row.fallback_from_id,
    fallbackToId: row.fallback_to_id,
    digestKey: row.digest_key,
    template: row.template,
    html: row.html,
    variants: row.variants,
    textFromUserToken: row.text_from_user_token,
    contactVerificationId: row.contact_verification_id === null ? null : Number(row.contact_verification_id),
    skippedChannels: row.skipped_channels,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  });
}

/**
 * Inserts pending notifications in one statement, whatever their number, and returns them in the
 * order given.
 */
export async function insertPendingNotifications(
  manager: EntityManager,
  notifications: readonly NewNotification[],
): Promise<Notification[]> {
  if (notifications.length === 0) return [];
  // Arrays of arrays do not unnest row by row: the fallback chains travel as comma-joined text.
  const rows: NotificationRow[] = await manager.query(
    `INSERT INTO notifications (user_id, channel, message, subject, ticket_id, reminder_id, scheduled_at, urgent, critical, fallback_channels, digest_key, template, html, variants,
                                text_from_user_token, contact_verification_id, skipped_channels)
     SELECT user_id, channel, message, subject, ticket_id, reminder_id, scheduled_at, urgent, critical,
            CASE WHEN fallback = '' THEN NULL ELSE string_to_array(fallback, ',')::varchar[] END, digest_key, template, html, variants,
            text_from_user_token, contact_verification_id, skipped_channels
     FROM unnest($1::bigint[], $2::varchar[], $3::varchar[], $4::varchar[], $5::bigint[], $6::bigint[], $7::timestamptz[], $8::boolean[], $9::boolean[], $10::text[], $11::varchar[],
                 $12::varchar[], $13::text[], $14::jsonb[], $15::boolean[], $16::bigint[], $17::jsonb[])
       AS t(user_id, channel, message, subject, ticket_id, reminder_id, scheduled_at, urgent, critical, fallback, digest_key, template, html, variants,
            text_from_user_token, contact_verification_id, skipped_channels)
     RETURNING *`,
    [
      notifications.map((n) => n.userId),
      notifications.map((n) => n.channel),
      notifications.map((n) => n.message),
      notifications.map((n) => n.subject),
      notifications.map((n) => n.ticketId),
      notifications.map((n) => n.reminderId),
      notifications.map((n) => n.scheduledAt ?? null),
      notifications.map((n) => n.urgent ?? false),
      notifications.map((n) => n.critical ?? false),
      notifications.map((n) => (n.fallbackChannels ?? []).join(',')),
      notifications.map((n) => n.digestKey ?? null),
      notifications.map((n) => n.template ?? null),
      notifications.map((n) => n.html ?? null),
      notifications.map((n) => (n.variants ? JSON.stringify(n.variants) : null)),
      notifications.map((n) => n.textFromUserToken ?? false),
      notifications.map((n) => n.contactVerificationId ?? null),
      notifications.map((n) => (n.skippedChannels?.length ? JSON.stringify(n.skippedChannels) : null)),
    ],
  );
  // INSERT ... SELECT FROM unnest keeps the input order in practice, but that is not a promise
  // of SQL: sort by id, which follows insertion order within one statement.
  return rows.sort((a, b) => a.id - b.id).map(notificationFromRow);
}

/** A page of a user's notifications, newest first. */
export interface NotificationPage {
  readonly items: Notification[];
  /** Pass as `before` to get the next page; null on the last page. */
  readonly next: NotificationCursor | null;
}

/** Position after which the next page starts: the last item's creation time and id. */
export interface NotificationCursor {
  readonly createdAt: Date;
  readonly id: number;
}

/** What a listing of notifications keeps. */
export interface NotificationFilters {
  readonly status?: NotificationStatus | undefined;
  readonly channel?: Channel | undefined;
  /** Created at or after then. */
  readonly since?: Date | undefined;
  /** Created before then. */
  readonly until?: Date | undefined;
}

/**
 * Notifications newest first, a user's or everyone's, optionally filtered, by keyset pagination
 * over (created_at, id). Each reading follows an index backwards and stops at the page's end:
 * a user's, `IDX_notifications_user_created` (user_id, created_at, id), `since` and `until`
 * bounding it, status and channel filtering it; everyone's, `IDX_notifications_status_created`
 * (status, created_at), once per status unless one is asked, the readings merged.
 */
export async function listNotifications(
  manager: EntityManager,
  options: { userId?: number | undefined; limit: number; before?: NotificationCursor | undefined } & NotificationFilters,
): Promise<NotificationPage> {
  const params: unknown[] = [options.limit + 1];
  const conditions: string[] = [];
  const where = (condition: (param: string) => string, value: unknown): void => {
    params.push(value);
    conditions.push(condition(`$${params.length}`));
  };
  if (options.userId !== undefined) where((p) => `user_id = ${p}`, options.userId);
  if (options.before) {
    params.push(options.before.createdAt, options.before.id);
    conditions.push(`(created_at, id) < ($${params.length - 1}, $${params.length})`);
  }
  if (options.channel) where((p) => `channel = ${p}`, options.channel);
  if (options.since) where((p) => `created_at >= ${p}`, options.since);
  if (options.until) where((p) => `created_at < ${p}`, options.until);
  const pageOf = (conditionsOfPage: readonly string[]) =>
    `SELECT * FROM notifications ${conditionsOfPage.length > 0 ? `WHERE ${conditionsOfPage.join(' AND ')}` : ''} ORDER BY created_at DESC, id DESC LIMIT $1`;
  let sql: string;
  if (options.status || options.userId !== undefined) {
    if (options.status) where((p) => `status = ${p}`, options.status);
    sql = pageOf(conditions);
  } else {
    // Everyone's, of any status: the newest page of each status, merged. The status index serves
    // each; no index on creation time alone, which every write would pay for.
    sql = `SELECT * FROM (${NOTIFICATION_STATUSES.map((status) => `(${pageOf([...conditions, `status = '${status}'`])})`).join(' UNION ALL ')}) AS page
           ORDER BY created_at DESC, id DESC LIMIT $1`;
  }
  const rows: NotificationRow[] = await manager.query(sql, params);
  const items = rows.slice(0, options.limit).map(notificationFromRow);
  const last = items.at(-1);
  return { items, next: rows.length > options.limit && last ? { createdAt: last.createdAt, id: last.id } : null };
}

/**
 * Another notification of a failed one's fallback chain that keeps it from being sent again: one
 * that was sent (the chain delivered the message), or one still pending (the chain is still trying).
 */
export interface ChainBlocker {
  readonly id: number;
  readonly channel: Channel;
  readonly status: 'sent' | 'pending';
}

/** Every notification linked to `$1` by fallback, both ways (each link names the one before and after it). */
const FALLBACK_CHAIN = `WITH RECURSIVE chain(id) AS (
    SELECT $1::bigint
    UNION
    SELECT linked FROM chain c JOIN notifications n ON n.id = c.id, unnest(ARRAY[n.fallback_from_id, n.fallback_to_id]) AS linked
    WHERE linked IS NOT NULL
  )`;

/**
 * Puts a failed notification back to pending, for another round of attempts: its error and any
 * delivery outcome cleared, its attempt count kept as history. Not one whose fallback chain
 * another notification delivered or is still trying: sending it again would send the message
 * twice. The chain's rows are locked first, so that two retries of one chain do not both pass.
 *
 * @returns the notification; its current status when it is not `failed` (null: no such
 *   notification); or the notification of its chain that stands in the way
 */
export async function resetFailedNotification(manager: EntityManager, id: number): Promise<Notification | NotificationStatus | { blockedBy: ChainBlocker } | null> {
  if (!manager.queryRunner?.isTransactionActive) return manager.transaction((transaction) => resetFailedNotification(transaction, id));
  // Locked, then read in a statement of its own: a link added before the lock is seen.
  await manager.query(`${FALLBACK_CHAIN} SELECT id FROM notifications WHERE id IN (SELECT id FROM chain) ORDER BY id FOR UPDATE`, [id]);
  const chain: Array<{ id: string; channel: Channel; status: NotificationStatus }> = await manager.query(
    `${FALLBACK_CHAIN} SELECT id, channel, status FROM notifications WHERE id IN (SELECT id FROM chain) ORDER BY id`,
    [id],
  );
  const others = chain.filter((link) => Number(link.id) !== id);
  const blocker = others.find((link) => link.status === 'sent') ?? others.find((link) => link.status === 'pending');
  if (blocker) return { blockedBy: { id: Number(blocker.id), channel: blocker.channel, status: blocker.status as ChainBlocker['status'] } };

  const [rows]: [NotificationRow[], number] = await manager.query(
    `UPDATE notifications
     SET status = 'pending', error_message = NULL, lease_token = NULL, lease_until = NULL,
         delivery_status = NULL, delivery_status_at = NULL, delivery_error = NULL, updated_at = now()
     WHERE id = $1 AND status = 'failed'
     RETURNING *`,
    [id],
  );
  if (rows[0]) return notificationFromRow(rows[0]);
  return chain.find((link) => Number(link.id) === id)?.status ?? null;
}

/** The window of the daily SMS cap: a user may be sent so many SMS in any such span. */
export const SMS_CAP_WINDOW_MS = 86_400_000;

/** How many SMS notifications each user was given since `since`, and when the oldest of them was. */
export interface SmsCount {
  readonly count: number;
  readonly oldest: Date;
}

/**
 * SMS created for each of `userIds` since `since` that were or may still be sent: not those
 * cancelled, nor those failed before any provider call (a fallback SMS refused by the cap among
 * them); the notifications of a digest, sent as one message, count once. With `lock`, first
 * takes a transaction-scoped lock per user, so that concurrent senders to one user count one after
 * the other: call it inside the transaction that inserts.
 */
export async function countRecentSms(manager: EntityManager, userIds: readonly number[], since: Date, options: { lock?: boolean } = {}): Promise<Map<number, SmsCount>> {
  if (userIds.length === 0) return new Map();
  if (options.lock) {
    await manager.query(`SELECT pg_advisory_xact_lock(hashtextextended('notofine:sms-cap:' || id, 0)) FROM unnest($1::bigint[]) AS id ORDER BY id`, [[...userIds]]);
  }
  const rows: Array<{ user_id: string; count: string; oldest: Date }> = await manager.query(
    // A digest's notifications are recorded with the one provider message they went out as.
    `SELECT user_id, count(DISTINCT CASE WHEN provider_message_id IS NULL THEN id::text ELSE coalesce(provider, '') || ':' || provider_message_id END) AS count,
            min(created_at) AS oldest
     FROM notifications
     WHERE user_id = ANY($1::bigint[]) AND created_at > $2 AND channel = 'sms'
       AND status <> 'cancelled' AND NOT (status = 'failed' AND attempts = 0)
     GROUP BY user_id`,
    [[...userIds], since],
  );
  return new Map(rows.map((row) => [Number(row.user_id), { count: Number(row.count), oldest: row.oldest }]));
}

/**
 * Cancels a pending notification that no attempt holds right now: it will never be sent.
 *
 * @returns the cancelled notification, its status when it could not be (`sent`, `failed`,
 *   `cancelled`, or `sending` while an attempt holds it), or null when it does not exist
 */
export async function cancelNotification(
  manager: EntityManager,
  id: number,
  reason: string,
  ownerId?: number,
): Promise<Notification | NotificationStatus | 'sending' | null> {
  const [[row]]: [NotificationRow[], number] = await manager.query(
    `UPDATE notifications SET status = 'cancelled', error_message = $2, updated_at = now()
     WHERE id = $1 AND status = 'pending' AND (lease_until IS NULL OR lease_until < now()) AND ($3::bigint IS NULL OR user_id = $3)
     RETURNING *`,
    [id, reason, ownerId ?? null],
  );
  if (row) return notificationFromRow(row);
  const [current]: Array<{ status: NotificationStatus; leased: boolean }> = await manager.query(
    `SELECT status, lease_until > now() AS leased FROM notifications WHERE id = $1 AND ($2::bigint IS NULL OR user_id = $2)`,
    [id, ownerId ?? null],
  );
  if (!current) return null;
  return current.status === 'pending' && current.leased ? 'sending' : current.status;
}

/**
 * When a new notification joining a digest goes out: with the pending notification of the same
 * user, channel and key, if there is one not being sent right now (they go out together);
 * undefined when there is none, and the new one starts a digest of its own. Call it in the
 * transaction that inserts, after {@link lockDigest}.
 */
export async function pendingDigestTime(manager: EntityManager, userId: number, channel: Channel, digestKey: string): Promise<Date | null | undefined> {
  const [row]: Array<{ scheduled_at: Date | null }> = await manager.query(
    `SELECT scheduled_at FROM notifications
     WHERE user_id = $1 AND channel = $2 AND digest_key = $3 AND status = 'pending' AND (lease_until IS NULL OR lease_until < now())
     ORDER BY id LIMIT 1`,
    [userId, channel, digestKey],
  );
  return row ? row.scheduled_at : undefined;
}

/** Serialises the creation of one user's digest notifications, for the transaction's duration. */
export async function lockDigest(manager: EntityManager, userId: number): Promise<void> {
  await manager.query(`SELECT pg_advisory_xact_lock(hashtextextended('notofine:digest:' || $1::text, 0))`, [userId]);
}
