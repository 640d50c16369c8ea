import { createHmac, timingSafeEqual } from 'node:crypto';
import type { DeliveryReceipt } from '@notofine/db';
import { InvalidSignatureError, SIGNATURE_TOLERANCE_MS } from './signature-error';

/**
 * Checks a signed Vonage SMS webhook (signature method "SHA-256 HMAC" in the dashboard): `sig` is
 * the HMAC-SHA256, keyed by the signature secret, of `&key=value` for every other parameter sorted
 * by name, `&` and `=` in values replaced by `_` (as Vonage's SDKs compute it); `timestamp` (Unix
 * seconds) must be recent.
 *
 * @throws {@link InvalidSignatureError}
 */
export function verifyVonageSignature(params: Readonly<Record<string, string>>, secret: string, now = Date.now()): void {
  const { sig, ...signed } = params;
  if (!sig || !signed.timestamp) throw new InvalidSignatureError('The sig and timestamp parameters are required.');
  if (!/^\d+$/.test(signed.timestamp) || Math.abs(now - Number(signed.timestamp) * 1000) > SIGNATURE_TOLERANCE_MS) {
    throw new InvalidSignatureError('The webhook timestamp is missing or too old.');
  }
  const query = Object.keys(signed)
    .sort()
    .map((key) => `&${key}=${signed[key]!.replace(/[&=]/g, '_')}`)
    .join('');
  // Exactly the 64 hex digits of the HMAC: Buffer.from(…, 'hex') stops at the first other character, and would take `<sig>junk`.
  if (!/^[0-9a-fA-F]{64}$/.test(sig)) throw new InvalidSignatureError('The signature is not 64 hexadecimal digits (SHA-256 HMAC).');
  const expected = createHmac('sha256', secret).update(query).digest();
  if (!timingSafeEqual(Buffer.from(sig, 'hex'), expected)) throw new InvalidSignatureError('The signature does not match the parameters.');
}

/** The receipt of a Vonage delivery receipt (DLR), or null for intermediate statuses. */
export function vonageReceipt(params: Readonly<Record<string, string>>): DeliveryReceipt | null {
  const messageId = params.messageId;
  const state = params.status;
  const status = state === 'delivered' ? 'delivered' : state === 'expired' || state === 'failed' || state === 'rejected' ? 'undelivered' : null;
  if (!messageId || !status) return null;
  const errorCode = params['err-code'];
  return {
    provider: 'vonage',
    eventId: `${messageId}:${state}`,
    providerMessageId: messageId,
    status,
    occurredAt: vonageTime(params['message-timestamp']) ?? new Date(),
    error: status === 'undelivered' ? `${state}${errorCode && errorCode !== '0' ? ` (err-code ${errorCode})` : ''}` : null,
  };
}

/** Vonage writes `2026-11-23 10:15:00` (UTC). */
function vonageTime(value: string | undefined): Date | null {
  if (!value || !/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/.test(value)) return null;
  return new Date(`${value.replace(' ', 'T')}Z`);
}
