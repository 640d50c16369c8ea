import type { Contact, ContactVerification } from '@notofine/db';
import { maskEmail, maskPhone } from '@notofine/logger';
import { VERIFICATION } from '@notofine/notifications';

/** An address waiting for its code, as the API shows it: masked, whoever asks. */
export function verificationJson(verification: ContactVerification) {
  return {
    contact: verification.contact,
    address: verification.contact === 'email' ? maskEmail(verification.address) : maskPhone(verification.address),
    code_sent_at: verification.codeSentAt?.toISOString() ?? null,
    code_expires_at: verification.codeExpiresAt?.toISOString() ?? null,
    attempts_left: Math.max(0, VERIFICATION.maxFailedAttempts - verification.failedAttempts),
  };
}

/** A user's verifications by contact, null where none waits. */
export function pendingVerificationsJson(verifications: readonly ContactVerification[]) {
  const of = (contact: Contact) => {
    const verification = verifications.find((v) => v.contact === contact);
    return verification ? verificationJson(verification) : null;
  };
  return { email: of('email'), phone: of('phone') };
}
