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
    created_at: user.createdAt,
    updated_at: user.updatedAt,
  };
}
