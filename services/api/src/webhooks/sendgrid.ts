import { createPublicKey, verify, type KeyObject } from 'node:crypto';
import type { DeliveryReceipt } from '@notofine/db';
import { parseCheckedJson } from '../http/strict-json';
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
  // Exactly the signature's base64: Buffer.from(…, 'base64') skips stray characters and stops at the padding.
  const bytes = Buffer.from(signature, 'base64');
  if (bytes.toString('base64') !== signature) throw new InvalidSignatureError('The signature is not in base64.');
  const valid = verify('sha256', Buffer.concat([Buffer.from(timestamp), rawBody]), { key, dsaEncoding: 'der' }, bytes);
  if (!valid) throw new InvalidSignatureError('The signature does not match the body.');
}

/**
 * The receipts among SendGrid's events: delivered, and bounced/dropped. Other events are ignored.
 * The body is read as strictly as the API's own (NUL, lone surrogates, nesting: 400).
 */
export function sendGridReceipts(rawBody: Buffer): DeliveryReceipt[] {
  const events = parseCheckedJson(rawBody);
  if (events === undefined) throw unreadableReceipt('SendGrid', 'the body is not JSON');
  if (!Array.isArray(events)) throw unreadableReceipt('SendGrid', 'the body is not a list of events');
  return (events as Array<SendGridEvent | null>).flatMap((event) => {
    if (typeof event !== 'object' || event === null) return [];
    const status = event.event === 'delivered' ? 'delivered' : event.event === 'bounce' || event.event === 'dropped' ? 'bounced' : null;
    if (!status || !isText(event.sg_event_id, 255) || !isText(event.sg_message_id, 255)) return [];
    const reason = [event.reason, event.response].find((text) => isText(text, 1000));
    return [
      {
        provider: 'sendgrid',
        eventId: event.sg_event_id,
        // sg_message_id is the X-Message-Id of the send, then a dot and a per-recipient suffix.
        providerMessageId: event.sg_message_id.split('.')[0]!,
        status,
        occurredAt: eventTime(event.timestamp),
        error: status === 'bounced' ? (reason ?? event.event!) : null,
      } satisfies DeliveryReceipt,
    ];
  });
}

/** A string of 1 to `max` characters, as SendGrid's ids (kept in a varchar(255)) and reasons are; anything else in their place is ignored. */
function isText(value: unknown, max: number): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= max;
}

/** An event's Unix time, or now when it is missing or not a plausible date. */
function eventTime(seconds: unknown): Date {
  const date = typeof seconds === 'number' ? new Date(seconds * 1000) : null;
  return date && date.getUTCFullYear() >= 2000 && date.getUTCFullYear() <= 9999 ? date : new Date();
}
