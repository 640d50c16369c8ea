import type { User } from '@notofine/db';
import { insertDevice, insertUser } from '@test/factories';
import type { DataSource } from 'typeorm';

/** A user reachable on every channel: an email address, a phone number and an active push device. */
export async function insertReachableUser(db: DataSource, overrides: Partial<User> = {}): Promise<User> {
  const user = await insertUser(db, overrides);
  await insertDevice(db, user.id);
  return user;
}

/** An id no row has (ids start at 1 in each test file's schema). */
export const UNKNOWN_ID = 987654321;

/** Path ids the API must refuse with 400, not look up (and never answer 500). */
export const MALFORMED_IDS = [
  ['a word', 'abc'],
  ['zero', '0'],
  ['a negative number', '-1'],
  ['a decimal', '1.5'],
  ['a 20-digit number', '12345678901234567890'],
] as const;
