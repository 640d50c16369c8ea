import { createPublicKey, verify, type KeyObject } from 'node:crypto';
import type { DeliveryReceipt } from '@notofine/db';
import { InvalidSignatureError, SIGNATURE_TOLERANCE_MS, unreadableReceipt } from './signature-error';

/** One event of SendGrid's Event Webhook (the fields read here). */
interface SendGridEvent {
  readonly event?: string;
  readonly sg_event_id?: string;
  readonly sg_message_id?: string;
  readonly timestamp?: number;
  readonly reason?: string;
  readonly response?: string;
}

/** SendGrid shows the verification key as base64 of the DER-encoded (SPKI) P-256 public key. */
export function sendGridPublicKey(base64: string): KeyObject {
  return createPublicKey({ key: Buffer.from(base64, 'base64'), format: 'der', type: 'spki' });
}

/**
 * Checks the Event Webhook's signature: ECDSA P-256 / SHA-256, base64 DER, over the timestamp
 * header followed by the raw body, and refuses a timestamp outside the tolerance.
 *
 * @throws {@link InvalidSignatureError}
 */
export function verifySendGridSignature(key: KeyObject, signature: string | undefined, timestamp: string | undefined, rawBody: Buffer, now = Date.now()): void {
  if (!signature || !timestamp) throw new InvalidSignatureError('The X-Twilio-Email-Event-Webhook-Signature and -Timestamp headers are required.');
  if (!/^\d+$/.test(timestamp) || Math.abs(now - Number(timestamp) * 1000) > SIGNATURE_TOLERANCE_MS) {
    throw new InvalidSignatureError('The webhook timestamp is missing or too old.');
  }
  const valid = verify('sha256', Buffer.concat([Buffer.from(timestamp), rawBody]), { key, dsaEncoding: 'der' }, Buffer.from(signature, 'base64'));
  if (!valid) throw new InvalidSignatureError('The signature does not match the body.');
}

/** The receipts among SendGrid's events: delivered, and bounced/dropped. Other events are ignored. */
export function sendGridReceipts(rawBody: Buffer): DeliveryReceipt[] {
  let events: unknown;
  try {
    events = JSON.parse(rawBody.toString('utf8'));
  } catch {
    throw unreadableReceipt('SendGrid', 'the body is not JSON');
  }
  if (!Array.isArray(events)) throw unreadableReceipt('SendGrid', 'the body is not a list of events');
  return (events as SendGridEvent[]).flatMap((event) => {
    const status = event.event === 'delivered' ? 'delivered' : event.event === 'bounce' || event.event === 'dropped' ? 'bounced' : null;
    if (!status || !event.sg_event_id || !event.sg_message_id) return [];
    return [
      {
        provider: 'sendgrid',
        eventId: event.sg_event_id,
        // sg_message_id is the X-Message-Id of the send, then a dot and a per-recipient suffix.
        providerMessageId: event.sg_message_id.split('.')[0]!,
        status,
        occurredAt: typeof event.timestamp === 'number' ? new Date(event.timestamp * 1000) : new Date(),
        error: status === 'bounced' ? (event.reason ?? event.response ?? event.event ?? null) : null,
      } satisfies DeliveryReceipt,
    ];
  });
}
