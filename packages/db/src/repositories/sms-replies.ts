import type { EntityManager } from 'typeorm';

/** An SMS reply that asks to stop SMS, or to have them again. */
export interface SmsReplyCommand {
  /** `vonage`, `twilio`. */
  readonly provider: string;
  /** The provider's id of the inbound message. */
  readonly messageId: string;
  /** The sender, in E.164. */
  readonly phone: string;
  /** STOP (true) or START (false). */
  readonly optOut: boolean;
}

/** What became of a reply: how many users it changed, or `replayed` when its message was applied before. */
export type SmsReplyOutcome = { readonly replayed: false; readonly users: number } | { readonly replayed: true };

/**
 * Unsubscribes from SMS, or subscribes again, every user with the sender's number (a STOP or START
 * reply comes from a number, not from a user), once per inbound message: the message id is
 * recorded in the same statement, so that a copy of the request, a provider's retry or a captured
 * request sent again later, changes nothing, even a START replayed after a later STOP.
 */
export async function applySmsReply(manager: EntityManager, reply: SmsReplyCommand): Promise<SmsReplyOutcome> {
  const [row]: Array<{ recorded: boolean; users: number }> = await manager.query(
    `WITH reply AS (
       INSERT INTO sms_replies (provider, message_id) VALUES ($1, $2)
       ON CONFLICT (provider, message_id) DO NOTHING
       RETURNING 1
     ), changed AS (
       UPDATE users SET sms_opted_out_at = CASE WHEN $4 THEN now() END, updated_at = now()
       WHERE phone = $3 AND (sms_opted_out_at IS NULL) = $4 AND EXISTS (SELECT 1 FROM reply)
       RETURNING id
     )
     SELECT EXISTS (SELECT 1 FROM reply) AS recorded, (SELECT count(*) FROM changed)::int AS users`,
    [reply.provider, reply.messageId, reply.phone, reply.optOut],
  );
  return row?.recorded ? { replayed: false, users: row.users } : { replayed: true };
}
