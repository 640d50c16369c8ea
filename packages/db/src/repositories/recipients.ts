import type { EntityManager } from 'typeorm';
import type { Channel } from '../entities/channel';

/** What decides whether and how a user can be reached. */
export interface Recipient {
  readonly userId: number;
  readonly email: string | null;
  readonly phone: string | null;
  /** Whether the user proved their email address, their phone number (with a code sent there). */
  readonly emailVerified: boolean;
  readonly phoneVerified: boolean;
  readonly locale: string;
  readonly timezone: string;
  readonly hasActiveDevice: boolean;
  /** Channels the user set explicitly; a channel absent here is on. */
  readonly preferences: Readonly<Partial<Record<Channel, boolean>>>;
  /** `HH:MM` window in the user's time zone; null when the user has none. */
  readonly quietHours: { readonly start: string; readonly end: string; readonly email: boolean } | null;
  /** Channels the user unsubscribed from (email link, SMS STOP): only critical notices go there. */
  readonly optedOut: Readonly<Partial<Record<Channel, boolean>>>;
}

interface RecipientRow {
  id: number;
  email: string | null;
  phone: string | null;
  email_verified: boolean;
  phone_verified: boolean;
  locale: string;
  timezone: string;
  has_active_device: boolean;
  preferences: Partial<Record<Channel, boolean>>;
  quiet_hours_start: string | null;
  quiet_hours_end: string | null;
  quiet_hours_email: boolean;
  email_opted_out: boolean;
  sms_opted_out: boolean;
}

/** Loads a user's contact points and preferences in one query; null when the user does not exist. */
export async function loadRecipient(manager: EntityManager, userId: number): Promise<Recipient | null> {
  return (await loadRecipients(manager, [userId])).get(userId) ?? null;
}

/** Loads the recipients among `userIds` in one query, by user id; an unknown id is absent from the map. */
export async function loadRecipients(manager: EntityManager, userIds: readonly number[]): Promise<Map<number, Recipient>> {
  if (userIds.length === 0) return new Map();
  const rows: RecipientRow[] = await manager.query(
    `SELECT u.id, u.email, u.phone, u.email_verified_at IS NOT NULL AS email_verified, u.phone_verified_at IS NOT NULL AS phone_verified, u.locale, u.timezone, u.quiet_hours_start, u.quiet_hours_end, u.quiet_hours_email,
            u.email_opted_out_at IS NOT NULL AS email_opted_out, u.sms_opted_out_at IS NOT NULL AS sms_opted_out,
            EXISTS (SELECT 1 FROM devices d WHERE d.user_id = u.id AND d.disabled_at IS NULL) AS has_active_device,
            coalesce((SELECT json_object_agg(p.channel, p.enabled) FROM user_channel_preferences p WHERE p.user_id = u.id), '{}') AS preferences
     FROM users u WHERE u.id = ANY($1::bigint[])`,
    [[...new Set(userIds)]],
  );
  return new Map(rows.map((row) => [Number(row.id), recipientOf(row)]));
}

function recipientOf(row: RecipientRow): Recipient {
  return {
    userId: Number(row.id),
    email: row.email,
    phone: row.phone,
    emailVerified: row.email_verified,
    phoneVerified: row.phone_verified,
    locale: row.locale,
    timezone: row.timezone,
    hasActiveDevice: row.has_active_device,
    preferences: row.preferences,
    quietHours: row.quiet_hours_start && row.quiet_hours_end ? { start: row.quiet_hours_start, end: row.quiet_hours_end, email: row.quiet_hours_email } : null,
    optedOut: { email: row.email_opted_out, sms: row.sms_opted_out },
  };
}
