import { ContactVerification, User, recordIdempotentResponse, type Contact, type IdempotentWrite } from '@notofine/db';
import { AppError, NotFoundError } from '@notofine/errors';
import type { EntityManager } from 'typeorm';
import { CONTACT_NAME, type VerificationCodes } from './codes';

export interface RequestCodeCommand {
  readonly userId: number;
  readonly contact: Contact;
}

/**
 * Sends a new code for a user's email or phone: to the address waiting to be proven (a change made
 * through a user token; its failed attempts stay counted), or else to the current address when the
 * user has not proven it yet.
 *
 * With `idempotency`, the request's response is recorded in the transaction that writes the code's
 * notification.
 *
 * @returns the verification the code is for
 * @throws {@link AppError} 409 when there is nothing to prove (no address, or proven already), 429
 *   past the limits of codes
 */
export async function requestVerificationCode(
  manager: EntityManager,
  codes: VerificationCodes,
  command: RequestCodeCommand,
  idempotency?: IdempotentWrite<ContactVerification>,
): Promise<ContactVerification> {
  const { userId, contact } = command;
  const user = await manager.findOneBy(User, { id: userId });
  if (!user) throw new NotFoundError('User', userId);
  const waiting = await manager.findOneBy(ContactVerification, { userId, contact });
  const address = waiting?.address ?? unprovenAddress(user, contact);

  await codes.reserve(userId, [{ contact, address }]);
  const { verification, notifications } = await manager.transaction(async (tx) => {
    // The user's row locked, as PATCH /users and the confirmation lock it: one change at a time.
    const locked = await tx.findOne(User, { where: { id: userId }, lock: { mode: 'pessimistic_write' } });
    if (!locked) throw new NotFoundError('User', userId);
    const current = await tx.findOneBy(ContactVerification, { userId, contact });
    const written = current
      ? { verification: current, notifications: await codes.writeCode(tx, locked, current) }
      : // What waited is gone meanwhile (proven, given up): the current address, if it still needs proving.
        { notifications: await codes.write(tx, locked, [{ contact, address: unprovenAddress(locked, contact) }]), verification: await tx.findOneByOrFail(ContactVerification, { userId, contact }) };
    await recordIdempotentResponse(tx, idempotency, written.verification);
    return written;
  });
  await codes.queue(notifications);
  return verification;
}

/** The user's current address of `contact`, when they have one they have not proven. */
function unprovenAddress(user: User, contact: Contact): string {
  const [address, verifiedAt] = contact === 'email' ? [user.email, user.emailVerifiedAt] : [user.phone, user.phoneVerifiedAt];
  if (address === null) {
    throw new AppError(
      409,
      'nothing-to-verify',
      'There is no address to verify',
      `User ${user.id} has no ${CONTACT_NAME[contact]}: set one with PATCH /users/${user.id} (through a user token, a code goes to it).`,
    );
  }
  if (verifiedAt !== null) {
    throw new AppError(
      409,
      'nothing-to-verify',
      'There is no address to verify',
      `User ${user.id} proved their ${CONTACT_NAME[contact]} already: to change it, send the new one with PATCH /users/${user.id} (through a user token, a code goes to it).`,
    );
  }
  return address;
}
