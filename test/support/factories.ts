import { DEVELOPMENT_PUSH_TOKEN_KEY } from '@notofine/config';
import { ContactVerification, Device, PushTokenCipher, Reminder, ReminderChannel, Ticket, User, type Channel, type Contact } from '@notofine/db';
import { VERIFICATION, verificationCodeHash } from '@notofine/notifications';
import type { DataSource } from 'typeorm';

let sequence = 0;
const next = (): number => ++sequence;

/** A `POST /users` body. */
export function buildUserBody(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return { full_name: 'Jean Dupont', email: `jean.dupont${next()}@example.com`, phone: '+33612345678', ...overrides };
}

/** A `POST /users/{id}/tickets` body. */
export function buildTicketBody(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return { reference: `ABC${100 + next()}`, amount_cents: 13500, due_date: '2026-12-15', ...overrides };
}

/** A `POST /users/{id}/reminders` body, as in the seed. */
export function buildReminderBody(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return { frequency_days: 7, channels: ['email', 'sms', 'push'], ...overrides };
}

/** Inserts a user straight into the database. */
export async function insertUser(db: DataSource, overrides: Partial<User> = {}): Promise<User> {
  return db.manager.save(
    db.manager.create(User, { fullName: 'Jean Dupont', email: `jean.dupont${next()}@example.com`, phone: '+33612345678', ...overrides }),
  );
}

/** Seals push tokens as a test API and worker do (no PUSH_TOKEN_KEYS: the development key). */
const testCipher = new PushTokenCipher([DEVELOPMENT_PUSH_TOKEN_KEY]);

/** Inserts a device, its token sealed; returns it with the token in clear, as the app registered it. */
export async function insertDevice(
  db: DataSource,
  userId: number,
  overrides: Partial<Pick<Device, 'platform' | 'disabledAt'>> & { token?: string } = {},
): Promise<Device & { token: string }> {
  const { token = `fcm-token-${next()}-${'x'.repeat(40)}`, ...rest } = overrides;
  const sealed = testCipher.seal(token);
  const device = await db.manager.save(
    db.manager.create(Device, { userId, tokenHash: sealed.hash, tokenCiphertext: sealed.ciphertext, tokenKeyId: sealed.keyId, tokenPreview: sealed.preview, platform: 'android', ...rest }),
  );
  return Object.assign(device, { token });
}

export async function insertTicket(db: DataSource, userId: number, overrides: Partial<Ticket> = {}): Promise<Ticket> {
  return db.manager.save(
    db.manager.create(Ticket, { userId, reference: `ABC${100 + next()}`, amountCents: 13500, dueDate: '2026-12-15', ...overrides }),
  );
}

/** Inserts a reminder with its channels (all enabled unless listed in `disabled`). */
export async function insertReminder(
  db: DataSource,
  userId: number,
  channels: readonly Channel[],
  overrides: Partial<Reminder> = {},
  disabled: readonly Channel[] = [],
): Promise<Reminder> {
  const reminder = await db.manager.save(db.manager.create(Reminder, { userId, frequencyDays: 7, ...overrides }));
  await db.manager.insert(
    ReminderChannel,
    [...channels.map((channel) => ({ reminderId: reminder.id, channel, enabled: true })), ...disabled.map((channel) => ({ reminderId: reminder.id, channel, enabled: false }))],
  );
  return reminder;
}

/**
 * Inserts an address waiting for its code, as if the code had just gone out (unless `code` is
 * null: not sent yet); returns it with the code in clear, as its owner received it.
 */
export async function insertVerification(
  db: DataSource,
  userId: number,
  contact: Contact,
  overrides: { address?: string; code?: string | null; expiresAt?: Date; failedAttempts?: number } = {},
): Promise<ContactVerification & { code: string | null }> {
  const { address = contact === 'email' ? `new.address${next()}@example.com` : '+33698765432', code = '246810', failedAttempts = 0 } = overrides;
  const verification = await db.manager.save(db.manager.create(ContactVerification, { userId, contact, address, failedAttempts }));
  if (code !== null) {
    Object.assign(verification, {
      codeHash: verificationCodeHash(verification.id, code),
      codeSentAt: new Date(),
      codeExpiresAt: overrides.expiresAt ?? new Date(Date.now() + VERIFICATION.codeTtlMs),
    });
    await db.manager.save(verification);
  }
  return Object.assign(verification, { code });
}
