import type { ContactVerification, User } from '@notofine/db';
import { pendingVerificationsJson } from '../contact-verification/json';

/** A user as the API shows it, with the addresses waiting for their code (masked). */
export function userJson(user: User, waiting: readonly ContactVerification[] = []) {
  return {
    id: user.id,
    full_name: user.fullName,
    email: user.email,
    phone: user.phone,
    // Whether the user proved the address with a code sent there: text written with a user token goes only there.
    email_verified: user.emailVerifiedAt !== null,
    phone_verified: user.phoneVerifiedAt !== null,
    pending_verification: pendingVerificationsJson(waiting),
    locale: user.locale,
    timezone: user.timezone,
    quiet_hours: user.quietHoursStart && user.quietHoursEnd ? { start: user.quietHoursStart, end: user.quietHoursEnd, email: user.quietHoursEmail } : null,
    // When the user unsubscribed (email link, SMS STOP); only critical notices reach them there.
    opted_out: { email: user.emailOptedOutAt, sms: user.smsOptedOutAt },
    created_at: user.createdAt,
    updated_at: user.updatedAt,
  };
}
