import type { User } from '@notofine/db';

/** A user as the API shows it. */
export function userJson(user: User) {
  return {
    id: user.id,
    full_name: user.fullName,
    email: user.email,
    phone: user.phone,
    locale: user.locale,
    timezone: user.timezone,
    quiet_hours: user.quietHoursStart && user.quietHoursEnd ? { start: user.quietHoursStart, end: user.quietHoursEnd, email: user.quietHoursEmail } : null,
    // When the user unsubscribed (email link, SMS STOP); only critical notices reach them there.
    opted_out: { email: user.emailOptedOutAt, sms: user.smsOptedOutAt },
    created_at: user.createdAt,
    updated_at: user.updatedAt,
  };
}
