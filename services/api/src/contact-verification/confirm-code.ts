import { ContactVerification, User, recordIdempotentResponse, type Contact, type IdempotentWrite } from '@notofine/db';
import { AppError, NotFoundError, UnprocessableError } from '@notofine/errors';
import { VERIFICATION, verificationCodeMatches } from '@notofine/notifications';
import type { EntityManager } from 'typeorm';
import { waitingVerifications } from '../users/use-cases';
import { CONTACT_NAME } from './codes';

export interface ConfirmCodeCommand {
  readonly userId: number;
  readonly contact: Contact;
  readonly code: string;
}

/** A user whose address was just proven, with the verifications still waiting (of their other contact). */
export interface ProvenUser {
  readonly user: User;
  readonly waiting: ContactVerification[];
}

/** How checking a code ended: the error to answer is thrown once what it changed is committed. */
type Outcome = { readonly proven: ProvenUser } | { readonly refusal: AppError };

/**
 * Checks the code a user received: right and in time, the address it was sent to becomes the
 * user's (`email` or `phone`), proven now, and the verification goes. A wrong one counts; at the
 * last attempt allowed the verification is dropped. With `idempotency`, the response of a code
 * accepted is recorded in the transaction that proves the address.
 *
 * @returns the user as changed, with the verifications still waiting
 * @throws {@link AppError} 409 when nothing waits for a code or none went out yet, 422 for an
 *   expired code, a wrong one (with the attempts left) or the last attempt spent
 */
export async function confirmVerificationCode(manager: EntityManager, command: ConfirmCodeCommand, idempotency?: IdempotentWrite<ProvenUser>): Promise<ProvenUser> {
  const { userId, contact, code } = command;
  const outcome = await manager.transaction(async (tx): Promise<Outcome> => {
    // The user's row first, then the verification, as PATCH /users takes them: attempts are counted one at a time.
    const user = await tx.findOne(User, { where: { id: userId }, lock: { mode: 'pessimistic_write' } });
    if (!user) throw new NotFoundError('User', userId);
    const verification = await tx.findOne(ContactVerification, { where: { userId, contact }, lock: { mode: 'pessimistic_write' } });
    const name = CONTACT_NAME[contact];
    if (!verification) {
      return {
        refusal: new AppError(
          409,
          'no-pending-verification',
          'Nothing waits for a code',
          `User ${userId} has no ${name} waiting for a code: send a new one with PATCH /users/${userId}, or ask for a code with POST /users/${userId}/verifications.`,
        ),
      };
    }
    if (verification.codeHash === null || verification.codeExpiresAt === null) {
      return {
        refusal: new AppError(409, 'verification-code-not-sent', 'No code went out yet', `The code for this ${name} has not been sent yet: wait for it, then send it here.`, {
          headers: { 'Retry-After': '5' },
        }),
      };
    }
    if (verification.codeExpiresAt.getTime() <= Date.now()) {
      return {
        refusal: new UnprocessableError(
          'verification-code-expired',
          'The code has expired',
          `The last code sent for this ${name} expired on ${verification.codeExpiresAt.toISOString()} (a code is good ${VERIFICATION.codeTtlMs / 60_000} minutes): ask for a new one with POST /users/${userId}/verifications.`,
          [{ field: 'code', message: 'has expired' }],
        ),
      };
    }
    if (!verificationCodeMatches(verification.id, code, verification.codeHash)) {
      verification.failedAttempts += 1;
      const left = VERIFICATION.maxFailedAttempts - verification.failedAttempts;
      if (left <= 0) {
        await tx.delete(ContactVerification, { id: verification.id });
        return {
          refusal: new UnprocessableError(
            'verification-attempts-exhausted',
            'Too many wrong codes',
            `${VERIFICATION.maxFailedAttempts} wrong codes were given for this ${name}: it is no longer waiting to be proven. Send it again with PATCH /users/${userId} (or ask for a code with POST /users/${userId}/verifications) to get a new code.`,
            [{ field: 'code', message: 'is wrong, and was the last attempt' }],
          ),
        };
      }
      await tx.update(ContactVerification, { id: verification.id }, { failedAttempts: verification.failedAttempts });
      return {
        refusal: new UnprocessableError(
          'verification-code-wrong',
          'The code is wrong',
          `This is not the code sent for this ${name}: ${left} attempt${left === 1 ? '' : 's'} left. Check the last code received.`,
          [{ field: 'code', message: `is wrong (${left} attempt${left === 1 ? '' : 's'} left)` }],
        ),
      };
    }
    const now = new Date();
    if (contact === 'email') Object.assign(user, { email: verification.address, emailVerifiedAt: now });
    else Object.assign(user, { phone: verification.address, phoneVerifiedAt: now });
    await tx.save(user);
    await tx.delete(ContactVerification, { id: verification.id });
    const proven = { user, waiting: await waitingVerifications(tx, userId) };
    await recordIdempotentResponse(tx, idempotency, proven);
    return { proven };
  });
  if ('refusal' in outcome) throw outcome.refusal;
  return outcome.proven;
}
