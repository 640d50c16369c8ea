import type { EntityManager } from 'typeorm';
import type { Channel } from '../entities/channel';
import type { UnpaidSummary } from './reminders';

/** A pending notification of a summary reminder (one without a message or a ticket of its own), with what is needed to write it again. */
export interface PendingSummary {
  readonly id: number;
  readonly channel: Channel;
  /** The reminder's own subject, which the summary keeps. */
  readonly reminderSubject: string | null;
  readonly locale: string;
  readonly timezone: string;
}

/**
 * Locks a user's summary reminders and returns the pending notifications they wrote that no
 * attempt holds: what a change of the user's tickets may have made untrue. The lock makes a
 * reminder run that claimed them first finish (its notifications are then seen here), and one
 * that comes later skip them until the change is committed. Call it in the transaction that
 * changes the tickets.
 */
export async function lockPendingSummaries(manager: EntityManager, userId: number): Promise<PendingSummary[]> {
  await manager.query(`SELECT id FROM reminders WHERE user_id = $1 AND message IS NULL AND ticket_id IS NULL ORDER BY id FOR UPDATE`, [userId]);
  const rows: Array<{ id: number; channel: Channel; reminder_subject: string | null; locale: string; timezone: string }> = await manager.query(
    `SELECT n.id, n.channel, r.subject AS reminder_subject, u.locale, u.timezone
     FROM notifications n JOIN reminders r ON r.id = n.reminder_id JOIN users u ON u.id = n.user_id
     WHERE n.user_id = $1 AND n.status = 'pending' AND (n.lease_until IS NULL OR n.lease_until < now())
       AND r.message IS NULL AND r.ticket_id IS NULL
     ORDER BY n.id`,
    [userId],
  );
  return rows.map((row) => ({ id: Number(row.id), channel: row.channel, reminderSubject: row.reminder_subject, locale: row.locale, timezone: row.timezone }));
}

/** The user's unpaid tickets as a reminder summarises them. */
export async function unpaidSummaryOf(manager: EntityManager, userId: number): Promise<UnpaidSummary> {
  const [row]: Array<{ count: number; total_cents: string; next_due_date: string | null; next_due_reference: string | null }> = await manager.query(
    `SELECT count(*)::int AS count, coalesce(sum(amount_cents), 0)::bigint AS total_cents,
            to_char(min(due_date), 'YYYY-MM-DD') AS next_due_date,
            (array_agg(reference ORDER BY due_date, id))[1] AS next_due_reference
     FROM tickets WHERE user_id = $1 AND status = 'unpaid'`,
    [userId],
  );
  return { count: row?.count ?? 0, totalCents: Number(row?.total_cents ?? 0), nextDueDate: row?.next_due_date ?? null, nextDueReference: row?.next_due_reference ?? null };
}

/** Writes a pending notification's text again; false when it is no longer pending or an attempt holds it. */
export async function rewritePendingNotification(manager: EntityManager, id: number, message: string, subject: string | null): Promise<boolean> {
  const [, count]: [unknown, number] = await manager.query(
    `UPDATE notifications SET message = $2, subject = $3, updated_at = now()
     WHERE id = $1 AND status = 'pending' AND (lease_until IS NULL OR lease_until < now())`,
    [id, message, subject],
  );
  return count === 1;
}

/** Cancels pending notifications that no attempt holds, with the reason. */
export async function cancelPendingNotifications(manager: EntityManager, ids: readonly number[], reason: string): Promise<number> {
  if (ids.length === 0) return 0;
  const [, count]: [unknown, number] = await manager.query(
    `UPDATE notifications SET status = 'cancelled', error_message = $2, updated_at = now()
     WHERE id = ANY($1::bigint[]) AND status = 'pending' AND (lease_until IS NULL OR lease_until < now())`,
    [[...ids], reason],
  );
  return count;
}
