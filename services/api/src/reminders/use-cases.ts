import { CHANNELS, LIMITS, Reminder, ReminderChannel, Ticket, User, loadRecipient, recordIdempotentResponse, type Channel, type IdempotentWrite } from '@notofine/db';
import { NotFoundError, UnprocessableError, ValidationError } from '@notofine/errors';
import { unprovenReason, unreachableReason } from '@notofine/notifications';
import type { EntityManager } from 'typeorm';
import type { CreateReminderBody, UpdateReminderBody } from './dto';

/** A reminder with its channels, ordered email, sms, push. */
export type ReminderWithChannels = Reminder & { channels: ReminderChannel[] };

/**
 * Creates a reminder, due at once (its first notifications go out at the next processing run).
 * With `ownerId` (a user token's user), a `ticket_id` of another user is not found, exactly as one
 * that does not exist, and a `message` or `subject` may only go to addresses the user proved. With
 * `idempotency`, its request's response is recorded in the same transaction.
 *
 * @throws {@link UnprocessableError} when a channel cannot reach the user (or, for a text written
 * with a user token, on an address they proved), or they have `LIMITS.remindersPerUser` reminders already
 */
export async function createReminder(
  manager: EntityManager,
  userId: number,
  body: CreateReminderBody,
  ownerId?: number,
  idempotency?: IdempotentWrite<ReminderWithChannels>,
): Promise<ReminderWithChannels> {
  const textFromUserToken = ownerId !== undefined && (body.message != null || subjectOrNull(body.subject) !== null);
  await assertReachable(manager, userId, body.channels, textFromUserToken);
  if (body.ticket_id != null) await assertOwnUnpaidTicket(manager, userId, body.ticket_id, ownerId !== undefined);
  return manager.transaction(async (tx) => {
    // The user's row, locked, serialises concurrent creations for them: the count holds.
    await tx.query('SELECT 1 FROM users WHERE id = $1 FOR UPDATE', [userId]);
    if ((await tx.countBy(Reminder, { userId })) >= LIMITS.remindersPerUser) {
      throw new UnprocessableError(
        'too-many-reminders',
        'The user has too many reminders',
        `User ${userId} already has ${LIMITS.remindersPerUser} reminders, the most one user may have: change or remove one instead.`,
      );
    }
    const reminder = await tx.save(
      tx.create(Reminder, {
        userId,
        frequencyDays: body.frequency_days,
        message: body.message ?? null,
        subject: subjectOrNull(body.subject),
        textFromUserToken,
        ...(body.active !== undefined && { active: body.active }),
        ticketId: body.ticket_id ?? null,
        endAt: body.end_at ? futureEndAt(body.end_at) : null,
      }),
    );
    await tx.insert(
      ReminderChannel,
      body.channels.map((channel) => ({ reminderId: reminder.id, channel, enabled: true })),
    );
    const created = await getReminder(tx, reminder.id);
    await recordIdempotentResponse(tx, idempotency, created);
    return created;
  });
}

/** A reminder; with `ownerId`, only if it is that user's (otherwise it is not found). */
export async function getReminder(manager: EntityManager, id: number, ownerId?: number): Promise<ReminderWithChannels> {
  const reminder = await manager.findOne(Reminder, { where: { id, ...(ownerId !== undefined && { userId: ownerId }) }, relations: { channels: true } });
  if (!reminder) throw new NotFoundError('Reminder', id);
  return withOrderedChannels(reminder);
}

/**
 * A user's reminders, all of them or only those on (or off) as {@link isActive} tells. A user has
 * at most `LIMITS.remindersPerUser`: they are read by `IDX_reminders_user_id` and filtered here.
 */
export async function listReminders(manager: EntityManager, userId: number, active?: boolean): Promise<ReminderWithChannels[]> {
  if (!(await manager.existsBy(User, { id: userId }))) throw new NotFoundError('User', userId);
  const reminders = await manager.find(Reminder, { where: { userId }, relations: { channels: true }, order: { id: 'ASC' } });
  const now = new Date();
  return reminders.filter((reminder) => active === undefined || isActive(reminder, now) === active).map(withOrderedChannels);
}

/**
 * Changes a reminder. New channels replace the old ones (those left out are disabled, not deleted);
 * a new frequency counts from the last run (a reminder whose new period has already passed is due now).
 * With `ownerId` (a user token), a text written, or channels given for a text written so, may only
 * go to addresses the user proved. What creation refuses, a change refuses too: switching on a
 * reminder whose ticket is settled, or one that has ended (unless the change also gives it a new
 * end). A reminder that has ended stays off whatever else changes.
 *
 * @throws {@link UnprocessableError} `ticket-settled`, `reminder-ended`, `channel-unreachable`, `address-not-proven`
 */
export async function updateReminder(manager: EntityManager, id: number, body: UpdateReminderBody, ownerId?: number): Promise<ReminderWithChannels> {
  const existing = await getReminder(manager, id, ownerId);
  if (Object.keys(body).length === 0) {
    throw new ValidationError('Send at least one field to change: frequency_days, channels, active, message, subject or end_at.');
  }
  const textFromUserToken = authorshipAfter(existing, body, ownerId !== undefined);
  const checksProof = ownerId !== undefined && textFromUserToken && (body.channels !== undefined || body.message !== undefined || body.subject !== undefined);
  if (body.channels || checksProof) {
    const channels = body.channels ?? existing.channels.filter((c) => c.enabled).map((c) => c.channel);
    await assertReachable(manager, existing.userId, channels, checksProof);
  }
  const now = new Date();
  const endAt = body.end_at === undefined ? existing.endAt : body.end_at === null ? null : futureEndAt(body.end_at);
  if (body.active === true && endAt !== null && endAt <= now) {
    throw new UnprocessableError('reminder-ended', 'The reminder has ended', `Reminder ${id} has ended (its end_at, ${endAt.toISOString()}, is past): to switch it on again, give it a new end_at in the future, or null.`, [
      { field: 'active', message: `the reminder has ended: its end_at ${endAt.toISOString()} is past` },
    ]);
  }

  await manager.transaction(async (tx) => {
    // Locked until this commits: a ticket paid meanwhile waits, then switches the reminder off.
    if (body.active === true && existing.ticketId !== null) await assertTicketUnpaid(tx, existing.ticketId);
    const changes: Partial<Reminder> = {};
    if (body.frequency_days !== undefined && body.frequency_days !== existing.frequencyDays) {
      changes.frequencyDays = body.frequency_days;
      if (existing.lastRunAt) {
        const next = new Date(existing.lastRunAt.getTime() + body.frequency_days * 86_400_000);
        changes.nextRunAt = next > new Date() ? next : new Date();
      }
    }
    if (body.active !== undefined) changes.active = body.active;
    // Ended, and not switched on again with a new end: off, as the next run would have it.
    else if (existing.active && !isActive(existing, now) && !(endAt === null || endAt > now)) changes.active = false;
    if (body.end_at !== undefined) changes.endAt = endAt;
    if (body.message !== undefined) changes.message = body.message;
    if (body.subject !== undefined) changes.subject = subjectOrNull(body.subject);
    if (textFromUserToken !== existing.textFromUserToken) changes.textFromUserToken = textFromUserToken;
    if (Object.keys(changes).length > 0) await tx.update(Reminder, { id }, changes);

    if (body.channels) {
      const wanted = new Set<Channel>(body.channels);
      await tx.upsert(
        ReminderChannel,
        CHANNELS.filter((channel) => wanted.has(channel) || existing.channels.some((c) => c.channel === channel)).map((channel) => ({
          reminderId: id,
          channel,
          enabled: wanted.has(channel),
        })),
        ['reminderId', 'channel'],
      );
    }
  });
  return getReminder(manager, id);
}

export async function deleteReminder(manager: EntityManager, id: number, ownerId?: number): Promise<void> {
  const { affected } = await manager.delete(Reminder, { id, ...(ownerId !== undefined && { userId: ownerId }) });
  if (!affected) throw new NotFoundError('Reminder', id);
}

/** A blank subject is no subject: the channel's default applies. */
function subjectOrNull(subject: string | null | undefined): string | null {
  return subject?.trim() ? subject : null;
}

/**
 * Whether a reminder's text is (still) written with a user token once `body` is applied: a user
 * token writing its message or subject makes it so; the backend stops it only by writing, or
 * leaving empty, both in one request (a text of the user's it did not replace stays the user's);
 * no text at all is nobody's.
 */
function authorshipAfter(existing: Reminder, body: UpdateReminderBody, byUserToken: boolean): boolean {
  const message = body.message !== undefined ? body.message : existing.message;
  const subject = body.subject !== undefined ? subjectOrNull(body.subject) : existing.subject;
  if (message === null && subject === null) return false;
  if (byUserToken && (body.message !== undefined || body.subject !== undefined)) return true;
  if (!byUserToken && (body.message !== undefined || message === null) && (body.subject !== undefined || subject === null)) return false;
  return existing.textFromUserToken;
}

/** When a reminder stops: a moment still to come (one already past would stop it without a word). */
function futureEndAt(value: string): Date {
  const endAt = new Date(value);
  if (endAt.getTime() <= Date.now()) throw ValidationError.forField('end_at', 'must be in the future: to stop the reminder now, send "active": false');
  return endAt;
}

/**
 * Whether a reminder is on: switched on, and not past its end (a run switches such a one off; until
 * then it is already off for everyone who reads it).
 */
export function isActive(reminder: Pick<Reminder, 'active' | 'endAt'>, now: Date = new Date()): boolean {
  return reminder.active && (reminder.endAt === null || reminder.endAt > now);
}

/** A settled ticket's reminder cannot be switched on again; the ticket row is locked until the transaction ends. */
async function assertTicketUnpaid(manager: EntityManager, ticketId: number): Promise<void> {
  const [ticket]: Array<{ status: string }> = await manager.query('SELECT status FROM tickets WHERE id = $1 FOR SHARE', [ticketId]);
  if (ticket && ticket.status !== 'unpaid') {
    throw new UnprocessableError('ticket-settled', 'The ticket is already settled', `Ticket ${ticketId} is ${ticket.status}: there is nothing to remind of, the reminder stays off.`, [
      { field: 'active', message: `ticket ${ticketId} is ${ticket.status}` },
    ]);
  }
}

/**
 * A reminder tied to a ticket must be about one of the user's own tickets, still unpaid. For a
 * user token (`hideOthers`), another user's ticket answers the 404 of a ticket that does not exist.
 */
async function assertOwnUnpaidTicket(manager: EntityManager, userId: number, ticketId: number, hideOthers: boolean): Promise<void> {
  const ticket = await manager.findOneBy(Ticket, { id: ticketId, userId });
  if (!ticket && hideOthers) throw new NotFoundError('Ticket', ticketId);
  if (!ticket) {
    throw new UnprocessableError('ticket-of-another-user', 'The ticket is not this user\'s', `User ${userId} has no ticket ${ticketId}.`, [
      { field: 'ticket_id', message: `user ${userId} has no ticket ${ticketId}` },
    ]);
  }
  if (ticket.status !== 'unpaid') {
    throw new UnprocessableError('ticket-settled', 'The ticket is already settled', `Ticket ${ticketId} is ${ticket.status}: there is nothing to remind of.`, [
      { field: 'ticket_id', message: `ticket ${ticketId} is ${ticket.status}` },
    ]);
  }
}

/**
 * Refuses channels the user has no address for, and, for a text written with a user token
 * (`userText`), channels whose address the user has not proven; 404 for an unknown user.
 */
async function assertReachable(manager: EntityManager, userId: number, channels: readonly Channel[], userText: boolean): Promise<void> {
  const recipient = await loadRecipient(manager, userId);
  if (!recipient) throw new NotFoundError('User', userId);
  const errorsOf = (reasonOf: (channel: Channel) => string | null) =>
    channels.flatMap((channel, index) => {
      const reason = reasonOf(channel);
      return reason ? [{ field: `channels[${index}]`, message: `${channel}: the user ${reason}` }] : [];
    });
  const unreachable = errorsOf((channel) => unreachableReason(recipient, channel));
  if (unreachable.length > 0) {
    throw new UnprocessableError(
      'channel-unreachable',
      'The user cannot be reached on this channel',
      `User ${userId} cannot be reached on ${unreachable.map((e) => e.message).join('; ')}. Add the missing contact point or leave the channel out.`,
      unreachable,
    );
  }
  const unproven = userText ? errorsOf((channel) => unprovenReason(recipient, channel)) : [];
  if (unproven.length > 0) {
    throw new UnprocessableError(
      'address-not-proven',
      'The user has not proven this address',
      `A reminder's message or subject written with a user token goes only to addresses the user proved, and on ${unproven.map((e) => e.message).join('; ')}. ` +
        `Prove it with the code POST /users/${userId}/verifications sends there, leave the channel out, or leave message and subject out (the summary of unpaid tickets goes to any address).`,
      unproven,
    );
  }
}

function withOrderedChannels(reminder: Reminder): ReminderWithChannels {
  const channels = [...(reminder.channels ?? [])].sort((a, b) => CHANNELS.indexOf(a.channel) - CHANNELS.indexOf(b.channel));
  return Object.assign(reminder, { channels });
}
