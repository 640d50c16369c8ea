import type { EntityManager } from 'typeorm';
import type { Channel } from '../entities/channel';

/** A due reminder, claimed and rescheduled, with what is needed to write its notifications. */
export interface ClaimedReminder {
  readonly id: number;
  readonly userId: number;
  readonly message: string | null;
  readonly subject: string | null;
  /** Its message or subject was written with a user token: they go only to addresses the user proved. */
  readonly textFromUserToken: boolean;
  /** Its enabled channels, in the order email, sms, push. */
  readonly channels: readonly Channel[];
  readonly email: string | null;
  readonly phone: string | null;
  /** Whether the user proved their email address, their phone number. */
  readonly emailVerified: boolean;
  readonly phoneVerified: boolean;
  readonly locale: string;
  readonly timezone: string;
  readonly hasActiveDevice: boolean;
  /** The user's unpaid tickets (the reminder's own ticket, if it has one); only loaded for reminders without a message of their own. */
  readonly unpaid: UnpaidSummary | null;
  readonly ticketId: number | null;
  readonly quietHours: { readonly start: string; readonly end: string; readonly email: boolean } | null;
  /** Channels the user unsubscribed from: reminders never go there. */
  readonly optedOut: Readonly<Partial<Record<Channel, boolean>>>;
}

export interface UnpaidSummary {
  readonly count: number;
  readonly totalCents: number;
  /** `YYYY-MM-DD` of the earliest due date, null when nothing is unpaid. */
  readonly nextDueDate: string | null;
  readonly nextDueReference: string | null;
}

interface ClaimedRow {
  id: number;
  user_id: number;
  message: string | null;
  subject: string | null;
  text_from_user_token: boolean;
  channels: Channel[];
  email: string | null;
  phone: string | null;
  email_verified: boolean;
  phone_verified: boolean;
  locale: string;
  timezone: string;
  has_active_device: boolean;
  ticket_id: number | null;
  quiet_hours_start: string | null;
  quiet_hours_end: string | null;
  quiet_hours_email: boolean;
  email_opted_out: boolean;
  sms_opted_out: boolean;
  unpaid_count: number | null;
  unpaid_total_cents: number | null;
  next_due_date: string | null;
  next_due_reference: string | null;
}

/**
 * Claims up to `limit` due reminders and moves each to its next period, in one statement.
 *
 * `FOR UPDATE SKIP LOCKED` lets any number of processors run at once: each claims rows the others
 * have not locked, and once the caller's transaction commits the rows are no longer due. Call it
 * inside a transaction that also writes the notifications, so a rollback un-claims the batch.
 *
 * The next run keeps the reminder's rhythm: whole periods of `frequency_days` are added to the
 * previous due time until it lies after `now`, in the user's time zone so that a reminder due at
 * 18:00 stays at 18:00 across daylight-saving changes. Periods missed while nothing ran are not
 * sent late one by one: the reminder is sent once and resumes its rhythm.
 */
export async function claimDueReminders(manager: EntityManager, now: Date, limit: number): Promise<ClaimedReminder[]> {
  const rows: ClaimedRow[] = await manager.query(dueRemindersQuery('claim'), [now, limit]);
  return rows.map(claimedReminderOf);
}

/** Where a reading of due reminders stopped: the next reading starts after it. */
export interface DueReminderPosition {
  readonly dueAt: Date;
  readonly id: number;
}

/**
 * Reads the due reminders {@link claimDueReminders} would claim, in the order it would, up to
 * `limit` after `after`, without locking, claiming or changing anything: what a run would send.
 */
export async function peekDueReminders(manager: EntityManager, now: Date, limit: number, after?: DueReminderPosition): Promise<Array<ClaimedReminder & DueReminderPosition>> {
  const rows: Array<ClaimedRow & { due_at: Date }> = await manager.query(dueRemindersQuery('peek'), [now, limit, after?.dueAt ?? null, after?.id ?? null]);
  return rows.map((row) => ({ ...claimedReminderOf(row), dueAt: row.due_at }));
}

/**
 * The due reminders (`$1` now, `$2` how many) and what their notifications need. `claim`: locked,
 * skipping those others hold, and moved to their next period. `peek`: only read, in (next_run_at,
 * id) order after (`$3`, `$4`) when given.
 */
function dueRemindersQuery(mode: 'claim' | 'peek'): string {
  const claimed =
    mode === 'claim'
      ? `UPDATE reminders r
       SET last_run_at = $1::timestamptz,
           updated_at = $1::timestamptz,
           -- A daylight-saving change can leave the candidate an hour short of now: one more period.
           next_run_at = CASE WHEN due.candidate > $1::timestamptz THEN due.candidate
                              ELSE ((due.candidate AT TIME ZONE due.timezone) + make_interval(days => due.frequency_days)) AT TIME ZONE due.timezone
                         END
       FROM due WHERE r.id = due.id
       RETURNING r.id, r.user_id, r.message, r.subject, r.text_from_user_token, r.ticket_id, due.due_at`
      : `SELECT r.id, r.user_id, r.message, r.subject, r.text_from_user_token, r.ticket_id, due.due_at FROM reminders r JOIN due ON due.id = r.id`;
  return `WITH due AS (
       SELECT r.id, r.frequency_days, u.timezone, r.next_run_at AS due_at,
              ((r.next_run_at AT TIME ZONE u.timezone)
                + make_interval(days => r.frequency_days
                    * (1 + floor(extract(epoch FROM $1::timestamptz - r.next_run_at) / (r.frequency_days * 86400))::int))
              ) AT TIME ZONE u.timezone AS candidate
       FROM reminders r JOIN users u ON u.id = r.user_id
       WHERE r.active AND r.next_run_at <= $1::timestamptz
         -- Finished reminders are retired by retireFinishedReminders; these lines keep the claim right meanwhile.
         AND (r.end_at IS NULL OR r.end_at > $1::timestamptz)
         AND (r.ticket_id IS NULL OR EXISTS (SELECT 1 FROM tickets t WHERE t.id = r.ticket_id AND t.status = 'unpaid'))
         ${mode === 'claim' ? '' : 'AND ($3::timestamptz IS NULL OR (r.next_run_at, r.id) > ($3::timestamptz, $4::bigint))'}
       ORDER BY r.next_run_at${mode === 'claim' ? '' : ', r.id'}
       LIMIT $2
       ${mode === 'claim' ? 'FOR UPDATE OF r SKIP LOCKED' : ''}
     ), claimed AS (
       ${claimed}
     )
     SELECT c.id, c.user_id, c.message, c.subject, c.text_from_user_token, c.ticket_id, c.due_at, u.email, u.phone, u.locale, u.timezone,
            u.email_verified_at IS NOT NULL AS email_verified, u.phone_verified_at IS NOT NULL AS phone_verified,
            u.quiet_hours_start, u.quiet_hours_end, u.quiet_hours_email,
            u.email_opted_out_at IS NOT NULL AS email_opted_out, u.sms_opted_out_at IS NOT NULL AS sms_opted_out,
            ARRAY(SELECT rc.channel FROM reminder_channels rc
                  WHERE rc.reminder_id = c.id AND rc.enabled
                  ORDER BY array_position(ARRAY['email', 'sms', 'push']::varchar[], rc.channel)) AS channels,
            EXISTS (SELECT 1 FROM devices d WHERE d.user_id = c.user_id AND d.disabled_at IS NULL) AS has_active_device,
            s.unpaid_count, s.unpaid_total_cents, s.next_due_date, s.next_due_reference
     FROM claimed c
     JOIN users u ON u.id = c.user_id
     LEFT JOIN LATERAL (
       SELECT count(*)::int AS unpaid_count,
              coalesce(sum(t.amount_cents), 0)::bigint AS unpaid_total_cents,
              to_char(min(t.due_date), 'YYYY-MM-DD') AS next_due_date,
              (array_agg(t.reference ORDER BY t.due_date, t.id))[1] AS next_due_reference
       FROM tickets t WHERE t.user_id = c.user_id AND t.status = 'unpaid' AND (c.ticket_id IS NULL OR t.id = c.ticket_id)
     ) s ON c.message IS NULL
     ORDER BY ${mode === 'claim' ? 'c.id' : 'c.due_at, c.id'}`;
}

function claimedReminderOf(row: ClaimedRow): ClaimedReminder {
  return {
    id: row.id,
    userId: row.user_id,
    message: row.message,
    subject: row.subject,
    textFromUserToken: row.text_from_user_token,
    channels: row.channels,
    email: row.email,
    phone: row.phone,
    emailVerified: row.email_verified,
    phoneVerified: row.phone_verified,
    locale: row.locale,
    timezone: row.timezone,
    hasActiveDevice: row.has_active_device,
    ticketId: row.ticket_id,
    quietHours: row.quiet_hours_start && row.quiet_hours_end ? { start: row.quiet_hours_start, end: row.quiet_hours_end, email: row.quiet_hours_email } : null,
    optedOut: { email: row.email_opted_out, sms: row.sms_opted_out },
    unpaid:
      row.message === null
        ? {
            count: row.unpaid_count ?? 0,
            totalCents: row.unpaid_total_cents ?? 0,
            nextDueDate: row.next_due_date,
            nextDueReference: row.next_due_reference,
          }
        : null,
  };
}

/**
 * Switches off the reminders that are over: past their `end_at`, or tied to a ticket now paid or
 * cancelled. Due ones only, so that the scan stays on the due index.
 *
 * @returns how many were switched off
 */
export async function retireFinishedReminders(manager: EntityManager, now: Date): Promise<number> {
  const [, count]: [unknown, number] = await manager.query(
    `UPDATE reminders r SET active = false, updated_at = now()
     WHERE r.active AND r.next_run_at <= $1::timestamptz
       AND (r.end_at <= $1::timestamptz OR EXISTS (SELECT 1 FROM tickets t WHERE t.id = r.ticket_id AND t.status <> 'unpaid'))`,
    [now],
  );
  return count;
}

/**
 * A ticket was paid or cancelled: its reminders stop, and what is still pending about it (its
 * reminders' notifications, notices tied to it) is cancelled, critical notices and payment
 * confirmations (the `ticket_paid` template) excepted. A notification an attempt holds right now
 * is left to finish.
 *
 * @returns how many reminders were switched off and notifications cancelled
 */
export async function settleTicket(manager: EntityManager, ticketId: number, reason: string): Promise<{ reminders: number; notifications: number }> {
  const [, reminders]: [unknown, number] = await manager.query(`UPDATE reminders SET active = false, updated_at = now() WHERE ticket_id = $1 AND active`, [ticketId]);
  const [, notifications]: [unknown, number] = await manager.query(
    `UPDATE notifications SET status = 'cancelled', error_message = $2, updated_at = now()
     WHERE status = 'pending' AND NOT critical AND template IS DISTINCT FROM 'ticket_paid' AND (lease_until IS NULL OR lease_until < now())
       AND (ticket_id = $1 OR reminder_id IN (SELECT id FROM reminders WHERE ticket_id = $1))`,
    [ticketId, reason],
  );
  return { reminders, notifications };
}
