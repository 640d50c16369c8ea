import type { EntityManager } from 'typeorm';
import type { Contact } from '../entities/contact-verification';

/** Where a code just recorded goes, and until when it is good. */
export interface RecordedCode {
  readonly contact: Contact;
  /** The address being proven: the only one the code may be sent to. */
  readonly address: string;
  readonly expiresAt: Date;
}

/**
 * Records the code about to be sent for a verification (its hash, now as its sending time, its
 * expiry), in place of any earlier one: only the last code sent is good.
 *
 * @returns where to send it, or null when the verification is gone (proven, replaced or given
 *   up since the message was queued): nothing is to be sent
 */
export async function recordVerificationCode(manager: EntityManager, verificationId: number, codeHash: string, ttlMs: number): Promise<RecordedCode | null> {
  const [rows]: [Array<{ contact: Contact; address: string; code_expires_at: Date }>, number] = await manager.query(
    `UPDATE contact_verifications SET code_hash = $2, code_sent_at = now(), code_expires_at = now() + $3 * interval '1 millisecond'
     WHERE id = $1
     RETURNING contact, address, code_expires_at`,
    [verificationId, codeHash, ttlMs],
  );
  const [row] = rows;
  return row ? { contact: row.contact, address: row.address, expiresAt: row.code_expires_at } : null;
}
