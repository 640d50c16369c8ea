import { CHANNELS, ChannelPreference, ContactVerification, User, recordIdempotentResponse, type Channel, type IdempotentWrite } from '@notofine/db';
import { NotFoundError, ValidationError } from '@notofine/errors';
import type { Delivery } from '@notofine/queue';
import type { EntityManager } from 'typeorm';
import { canonicalTimeZone, normalizeLocale, normalizePhone } from './contact';
import type { ChannelSwitches, CreateUserBody, QuietHoursBody } from './dto';

export type ChannelPreferences = Record<Channel, boolean>;

/** Creates a user; with `idempotency`, its request's response is recorded in the same transaction. */
export async function createUser(
  manager: EntityManager,
  body: CreateUserBody,
  phoneRegion: string,
  defaultQuietHours: { readonly start: string; readonly end: string } | null,
  idempotency?: IdempotentWrite<User>,
): Promise<User> {
  const user = manager.create(User, {
    fullName: body.full_name.trim(),
    email: body.email?.trim() || null,
    phone: body.phone ? normalizePhone(body.phone, phoneRegion) : null,
    ...(body.locale !== undefined && { locale: normalizeLocale(body.locale) }),
    ...(body.timezone !== undefined && { timezone: canonicalTimeZone(body.timezone) }),
    ...quietHoursColumns(body.quiet_hours !== undefined ? body.quiet_hours : defaultQuietHours),
  });
  if (!idempotency) return manager.save(user);
  return manager.transaction(async (transaction) => {
    const saved = await transaction.save(user);
    await recordIdempotentResponse(transaction, idempotency, saved);
    return saved;
  });
}

export function quietHoursColumns(quiet: Pick<QuietHoursBody, 'start' | 'end' | 'email'> | null): Pick<User, 'quietHoursStart' | 'quietHoursEnd' | 'quietHoursEmail'> {
  // A window of no length could mean none or the whole day: the caller says which.
  if (quiet && quiet.start === quiet.end) throw ValidationError.forField('quiet_hours.end', 'must differ from start: send "quiet_hours": null for no quiet hours');
  return { quietHoursStart: quiet?.start ?? null, quietHoursEnd: quiet?.end ?? null, quietHoursEmail: quiet?.email ?? false };
}

export async function getUser(manager: EntityManager, id: number): Promise<User> {
  const user = await manager.findOneBy(User, { id });
  if (!user) throw new NotFoundError('User', id);
  return user;
}

/** The user's addresses waiting for their code (at most an email and a phone). */
export async function waitingVerifications(manager: EntityManager, userId: number): Promise<ContactVerification[]> {
  return manager.find(ContactVerification, { where: { userId }, order: { contact: 'ASC' } });
}

/**
 * Erases a user and, by cascade, everything that belongs to them.
 *
 * @returns their notifications that were still to be sent, whose jobs may now be removed (a job
 * left behind, or running now, finds no row and sends nothing)
 */
export async function deleteUser(manager: EntityManager, id: number): Promise<Delivery[]> {
  return manager.transaction(async (tx) => {
    const [pending]: [Array<{ id: string; channel: Channel }>, number] = await tx.query(
      `DELETE FROM notifications WHERE user_id = $1 AND status = 'pending' RETURNING id, channel`,
      [id],
    );
    const { affected } = await tx.delete(User, { id });
    if (!affected) throw new NotFoundError('User', id);
    return pending.map((row) => ({ id: Number(row.id), channel: row.channel }));
  });
}

/** Every channel's switch; a channel the user never set is on. */
export async function getPreferences(manager: EntityManager, userId: number): Promise<ChannelPreferences> {
  await getUser(manager, userId);
  return preferencesOf(manager, userId);
}

/** Sets the channels named; the others keep their setting. */
export async function setPreferences(manager: EntityManager, userId: number, switches: ChannelSwitches): Promise<ChannelPreferences> {
  await getUser(manager, userId);
  const rows = CHANNELS.filter((channel) => switches[channel] !== undefined).map((channel) =>
    manager.create(ChannelPreference, { userId, channel, enabled: switches[channel]! }),
  );
  if (rows.length === 0) throw ValidationError.forField('channels', `must set at least one of ${CHANNELS.join(', ')}`);
  await manager.upsert(ChannelPreference, rows, ['userId', 'channel']);
  return preferencesOf(manager, userId);
}

async function preferencesOf(manager: EntityManager, userId: number): Promise<ChannelPreferences> {
  const rows = await manager.findBy(ChannelPreference, { userId });
  const preferences: ChannelPreferences = { email: true, sms: true, push: true };
  for (const row of rows) preferences[row.channel] = row.enabled;
  return preferences;
}
