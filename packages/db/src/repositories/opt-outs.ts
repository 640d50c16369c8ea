import type { EntityManager } from 'typeorm';

/** Channels a user can unsubscribe from. */
export type OptOutChannel = 'email' | 'sms';

const COLUMN: Readonly<Record<OptOutChannel, string>> = { email: 'email_opted_out_at', sms: 'sms_opted_out_at' };

/**
 * Unsubscribes a user from a channel (their email's link), or subscribes them again. Idempotent.
 *
 * @returns whether the user exists
 */
export async function setOptOut(manager: EntityManager, userId: number, channel: OptOutChannel, optedOut: boolean): Promise<boolean> {
  const column = COLUMN[channel];
  const [rows]: [unknown[], number] = await manager.query(
    `UPDATE users SET ${column} = CASE WHEN $2 THEN coalesce(${column}, now()) END, updated_at = now() WHERE id = $1 RETURNING id`,
    [userId, optedOut],
  );
  return rows.length > 0;
}
