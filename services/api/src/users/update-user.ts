import { CONTACTS, ContactVerification, User, type Contact } from '@notofine/db';
import { NotFoundError, ValidationError } from '@notofine/errors';
import type { EntityManager } from 'typeorm';
import type { AddressToProve, VerificationCodes } from '../contact-verification/codes';
import { canonicalTimeZone, normalizeLocale, normalizePhone } from './contact';
import type { UpdateUserBody } from './dto';
import { getUser, quietHoursColumns } from './use-cases';

export interface UpdateUserCommand {
  readonly userId: number;
  readonly changes: UpdateUserBody;
  /**
   * Made through a user token: a new email or phone is not the user's until they prove it with
   * the code sent there; the current one stays in use meanwhile.
   */
  readonly byUserToken: boolean;
}

export interface UpdateUserDeps {
  readonly manager: EntityManager;
  /** Region of phone numbers written without their country code. */
  readonly phoneRegion: string;
  readonly codes: VerificationCodes;
}

/**
 * Changes a user: the fields sent, the others kept. An email or phone set by a backend key is the
 * user's at once, not proven; one set through a user token waits for its code (see
 * {@link UpdateUserCommand.byUserToken}). `null` removes an address at once, and setting the
 * current one again gives up the one waiting.
 *
 * @returns the user as changed
 * @throws {@link ValidationError} for nothing to change or a malformed value; {@link AppError} 429
 *   past the limits of verification codes, nothing changed then
 */
export async function updateUser(deps: UpdateUserDeps, command: UpdateUserCommand): Promise<User> {
  const { userId, changes, byUserToken } = command;
  if (Object.keys(changes).length === 0) {
    throw new ValidationError('Send at least one field to change: full_name, email, phone, locale, timezone, quiet_hours or opted_out.');
  }
  const before = await getUser(deps.manager, userId);
  const addresses = wantedAddresses(changes, deps.phoneRegion);
  applyProfile(before, changes);
  const waiting = await deps.manager.findBy(ContactVerification, { userId });
  const toProve: AddressToProve[] = byUserToken
    ? CONTACTS.flatMap((contact) => {
        const address = addresses[contact];
        const isNew = typeof address === 'string' && address !== addressOf(before, contact) && address !== waiting.find((v) => v.contact === contact)?.address;
        return isNew ? [{ contact, address }] : [];
      })
    : [];

  await deps.codes.reserve(userId, toProve);
  const { user, notifications } = await deps.manager.transaction(async (tx) => {
    const user = await tx.findOne(User, { where: { id: userId }, lock: { mode: 'pessimistic_write' } });
    if (!user) throw new NotFoundError('User', userId);
    applyProfile(user, changes);
    for (const contact of CONTACTS) {
      const address = addresses[contact];
      if (address === undefined) continue;
      // Through a user token, a new address waits for its code (the one already waiting stays).
      if (byUserToken && address !== null && address !== addressOf(user, contact)) continue;
      setAddress(user, contact, address);
      await tx.delete(ContactVerification, { userId, contact });
    }
    const saved = await tx.save(user);
    return { user: saved, notifications: await deps.codes.write(tx, saved, toProve) };
  });
  await deps.codes.queue(notifications);
  return user;
}

/** The email and phone the changes set (normalised; `null` removes), by contact; absent when not sent. */
function wantedAddresses(changes: UpdateUserBody, phoneRegion: string): Partial<Record<Contact, string | null>> {
  return {
    ...(changes.email !== undefined && { email: changes.email?.trim() || null }),
    ...(changes.phone !== undefined && { phone: changes.phone ? normalizePhone(changes.phone, phoneRegion) : null }),
  };
}

/** Sets the fields other than the addresses; throws a {@link ValidationError} for a malformed one. */
function applyProfile(user: User, changes: UpdateUserBody): void {
  if (changes.full_name !== undefined) user.fullName = changes.full_name.trim();
  if (changes.locale !== undefined) user.locale = normalizeLocale(changes.locale);
  if (changes.timezone !== undefined) user.timezone = canonicalTimeZone(changes.timezone);
  if (changes.quiet_hours !== undefined) Object.assign(user, quietHoursColumns(changes.quiet_hours));
  // The time of an opt-out is kept as it was: setting it again changes nothing.
  if (changes.opted_out?.email !== undefined) user.emailOptedOutAt = changes.opted_out.email ? (user.emailOptedOutAt ?? new Date()) : null;
  if (changes.opted_out?.sms !== undefined) user.smsOptedOutAt = changes.opted_out.sms ? (user.smsOptedOutAt ?? new Date()) : null;
}

function addressOf(user: User, contact: Contact): string | null {
  return contact === 'email' ? user.email : user.phone;
}

/** The user's address of `contact` from now on: a different one is not proven. */
function setAddress(user: User, contact: Contact, address: string | null): void {
  if (address === addressOf(user, contact)) return;
  if (contact === 'email') Object.assign(user, { email: address, emailVerifiedAt: null });
  else Object.assign(user, { phone: address, phoneVerifiedAt: null });
}
