import type { DeliveryReceipt } from '@notofine/db';
// The SDK's signature check alone: its main entry point loads the whole REST client (and axios).
import * as twilio from 'twilio/lib/webhooks/webhooks';
import { InvalidSignatureError } from './signature-error';

/**
 * The parameters of a Twilio webhook: those of its form body, and only those. Twilio signs the
 * URL it called, query string included, then the POST parameters: a query parameter is signed as
 * part of the URL, and counted again among the parameters it would make the signature mismatch.
 */
export type TwilioParams = Readonly<Record<string, string>>;

/**
 * Checks `X-Twilio-Signature`: base64 HMAC-SHA1, keyed by the account's auth token, of the full
 * URL Twilio called (its query string included) followed by every POST parameter (sorted by name,
 * name then value), with the SDK's own implementation.
 *
 * @throws {@link InvalidSignatureError}
 */
export function verifyTwilioSignature(authToken: string, signature: string | undefined, url: string, params: TwilioParams): void {
  if (!signature) throw new InvalidSignatureError('The X-Twilio-Signature header is required.');
  if (!twilio.validateRequest(authToken, signature, url, params)) throw new InvalidSignatureError('The signature does not match the URL and parameters.');
}

/** The receipt of a Twilio status callback, or null for intermediate statuses (queued, sent, ...). */
export function twilioReceipt(params: TwilioParams, now = new Date()): DeliveryReceipt | null {
  const { MessageSid: sid, MessageStatus: state, ErrorCode: errorCode } = params;
  const status = state === 'delivered' ? 'delivered' : state === 'undelivered' || state === 'failed' ? 'undelivered' : null;
  if (!sid || !status) return null;
  return {
    provider: 'twilio',
    eventId: `${sid}:${state}`,
    providerMessageId: sid,
    status,
    occurredAt: now,
    error: status === 'undelivered' ? `${state}${errorCode ? ` (Twilio error ${errorCode})` : ''}` : null,
  };
}
