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

/**
 * Unsubscribes from SMS, or subscribes again, every user with this phone number (a STOP or START
 * reply comes from a number, not from a user).
 *
 * @returns how many users changed
 */
export async function setSmsOptOutByPhone(manager: EntityManager, phone: string, optedOut: boolean): Promise<number> {
  const [, count]: [unknown, number] = await manager.query(
    `UPDATE users SET sms_opted_out_at = CASE WHEN $2 THEN now() END, updated_at = now()
     WHERE phone = $1 AND (sms_opted_out_at IS NULL) = $2`,
    [phone, optedOut],
  );
  return count;
}
