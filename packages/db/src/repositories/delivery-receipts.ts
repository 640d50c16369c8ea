import type { EntityManager } from 'typeorm';
import type { DeliveryStatus } from '../entities/channel';

/** A delivery receipt, as a provider's webhook reports it. */
export interface DeliveryReceipt {
  /** The provider that sent the notification: `sendgrid`, `vonage`, `twilio`. */
  readonly provider: string;
  /** The provider's id of this event, to apply it once. */
  readonly eventId: string;
  /** The message id the provider gave when it accepted the notification. */
  readonly providerMessageId: string;
  readonly status: DeliveryStatus;
  readonly occurredAt: Date;
  /** The provider's reason, for a bounce or a failed delivery. */
  readonly error: string | null;
}

/** What became of a receipt. */
export type ReceiptOutcome = 'applied' | 'duplicate' | 'unknown' | 'superseded';

/**
 * Applies a delivery receipt to the `sent` notification it names, once: the event is recorded
 * under a unique (provider, event_id) in the same statement, so a copy received twice, even at the
 * same instant, changes nothing the second time.
 *
 * Outcomes only move forward: a failure (bounced, undelivered) outranks `delivered`, because a
 * bounce can come after the receiving server first accepted the message; `delivered` never
 * replaces a failure.
 */
export async function applyDeliveryReceipt(manager: EntityManager, receipt: DeliveryReceipt): Promise<ReceiptOutcome> {
  const [row]: Array<{ matched: boolean; recorded: boolean; updated: boolean }> = await manager.query(
    `WITH target AS (
       SELECT id FROM notifications
       WHERE provider = $1 AND provider_message_id = $2 AND status = 'sent'
       FOR UPDATE
     ), event AS (
       INSERT INTO delivery_events (provider, event_id, notification_id)
       SELECT $1, $3, id FROM target
       ON CONFLICT (provider, event_id) DO NOTHING
       RETURNING notification_id
     ), updated AS (
       UPDATE notifications n
       SET delivery_status = $4, delivery_status_at = $5, delivery_error = $6, updated_at = now()
       FROM event
       WHERE n.id = event.notification_id
         AND (CASE $4::text WHEN 'delivered' THEN 1 ELSE 2 END)
             > (CASE n.delivery_status WHEN 'delivered' THEN 1 WHEN 'bounced' THEN 2 WHEN 'undelivered' THEN 2 ELSE 0 END)
       RETURNING n.id
     )
     SELECT EXISTS (SELECT 1 FROM target) AS matched,
            EXISTS (SELECT 1 FROM event) AS recorded,
            EXISTS (SELECT 1 FROM updated) AS updated`,
    [receipt.provider, receipt.providerMessageId, receipt.eventId, receipt.status, receipt.occurredAt, receipt.error],
  );
  if (!row?.matched) return 'unknown';
  if (!row.recorded) return 'duplicate';
  return row.updated ? 'applied' : 'superseded';
}
