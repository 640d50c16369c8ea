import {
  CHANNELS,
  LIMITS,
  MicroBatcher,
  Ticket,
  cancelNotification,
  claimDueReminders,
  countRecentSms,
  peekDueReminders,
  SMS_CAP_WINDOW_MS,
  lockDigest,
  pendingDigestTime,
  retireFinishedReminders,
  insertPendingNotifications,
  loadRecipient,
  loadRecipients,
  recordIdempotentResponse,
  recordIdempotentResponses,
  resetFailedNotification,
  type Channel,
  type ChainBlocker,
  type IdempotentWrite,
  type ClaimedReminder,
  type DueReminderPosition,
  type NewNotification,
  type Notification,
  type MicroBatcherOptions,
  type Recipient,
  type SkippedChannel,
} from '@notofine/db';
import { AppError, ConflictError, NotFoundError, UnprocessableError, ValidationError } from '@notofine/errors';
import type { Logger } from '@notofine/logger';
import { isRedisConnectionError, type DeliveryQueues } from '@notofine/queue';
import { In, type DataSource, type EntityManager } from 'typeorm';
import { quietUntil } from './quiet-hours';
import { HOW_TO_REACH, unprovenReason, unreachableReason } from './reachability';
import { renderUnpaidSummary } from './reminder-summary';
import { messageOn, type SmsAuthor } from './sms-text';
import { renderTemplate } from './templates';

export interface SendNotificationInput {
  readonly userId: number;
  /** The text; or, instead, a template rendered in the user's language for the channel. */
  readonly message?: string | undefined;
  readonly template?: { readonly kind: string; readonly data: unknown } | undefined;
  /** The channel to send on; when it cannot take the notification, the first of `fallback` that can. */
  readonly channel: Channel;
  /** Email subject, push title; a default is used when absent. */
  readonly subject?: string | null | undefined;
  /** The ticket the notification is about; it must belong to the user. */
  readonly ticketId?: number | null | undefined;
  /** Not before then (a scheduled send). */
  readonly sendAt?: Date | null | undefined;
  /** Goes out even in the user's quiet hours. */
  readonly urgent?: boolean | undefined;
  /** A transactional notice: goes out even on a channel the user opted out of or turned off. */
  readonly critical?: boolean | undefined;
  /**
   * Channels to try next, in order, should this one end `failed`; those that cannot take it
   * (unreachable, turned off, unsubscribed) are left out, and the notification starts on the first
   * of `channel` and these that can.
   */
  readonly fallback?: readonly Channel[] | undefined;
  /** Pending notifications of the user on the channel with this key go out as one message. */
  readonly digestKey?: string | null | undefined;
}

export interface TicketNotificationInput {
  readonly ticketId: number;
  readonly message: string;
  readonly subject?: string | null | undefined;
}

/** What became of one channel of a ticket notification. */
export type ChannelResult =
  | { readonly status: 'pending'; readonly notification: Notification }
  | { readonly status: 'skipped'; readonly reason: string };

export interface TicketNotificationResult {
  readonly ticketId: number;
  readonly userId: number;
  readonly channels: Readonly<Record<Channel, ChannelResult>>;
  /** The notifications created, one per channel not skipped. */
  readonly notifications: readonly Notification[];
}

export interface ReminderRunSummary {
  /** Due reminders that produced at least one notification. */
  processed: number;
  /** Due reminders that produced none (nothing unpaid, no reachable channel); rescheduled all the same. */
  skipped: number;
  /** Notifications queued, per channel. */
  channels: Record<Channel, number>;
}

/** A due reminder, and the notifications a run would write for it now (none: it would be skipped). */
export interface PlannedReminder {
  readonly reminderId: number;
  readonly userId: number;
  readonly notifications: readonly NewNotification[];
}

export interface NotificationServiceDeps {
  readonly dataSource: DataSource;
  readonly queues: DeliveryQueues;
  readonly logger: Logger;
  /** Reminders claimed per transaction. */
  readonly reminderBatchSize: number;
  /** SMS a user may be sent in any 24 hours (SMS cost money); 0 means no cap. */
  readonly smsDailyCap?: number;
  /** How long a digest gathers notifications before it goes out. */
  readonly digestWindowMs?: number;
  /** How concurrent single sends are gathered ({@link DEFAULT_SEND_BATCHING} by default). */
  readonly sendBatching?: MicroBatcherOptions;
  /**
   * Called with the notifications just committed, before their jobs are queued: the fault
   * injection tests kill the process there.
   */
  readonly onCommitted?: (notifications: readonly Notification[]) => void;
}

/**
 * Concurrent sends gathered into one set: at most this many, and this many sets being written at
 * once (each holds a connection of the pool while the next set gathers).
 */
export const DEFAULT_SEND_BATCHING: MicroBatcherOptions = { maxBatch: 250, maxInFlight: 4 };

/** Batches of reminders claimed and written at the same time by one `processReminders()`. */
const REMINDER_LOOPS = 2;

/**
 * Everything that creates notifications: one-off sends, ticket notices, reminder runs. The HTTP API
 * calls it, the worker's scheduler and the CLI too, and so can any other Node code.
 *
 * Each notification is written `pending` to PostgreSQL, then its delivery job is queued; the
 * workers take it from there.
 */
export class NotificationService {
  /** Single sends made at the same time go to the database together: one INSERT, one commit. */
  private readonly sends: MicroBatcher<KeyedSend, SendOutcome>;
  /** Notifications written since queueing them last failed, whose jobs the sweeper will queue. */
  private leftToSweeper = 0;

  constructor(private readonly deps: NotificationServiceDeps) {
    this.sends = new MicroBatcher((sends) => this.createEach(sends), deps.sendBatching ?? DEFAULT_SEND_BATCHING);
  }

  /**
   * Sends one notification to a user on one channel: at once, or at `sendAt`, at the end of the
   * user's quiet hours, or with its digest (the row's `scheduledAt`, the job delayed till then).
   * When the channel cannot take it (the user cannot be reached there, turned it off, unsubscribed,
   * or an SMS past the daily cap), it goes on the first of its `fallback` channels that can: the
   * notification's `channel` says which, its `skippedChannels` why the others were left out.
   *
   * @throws {@link NotFoundError} for an unknown user or ticket
   * @throws {@link UnprocessableError} for a ticket of another user, or when neither the channel
   *   nor any fallback can take it: the user cannot be reached there, has turned it off or
   *   unsubscribed from it (the last two unless `critical`)
   * @throws {@link AppError} 429 when an SMS with no fallback that can take it would pass the user's daily cap
   * @param options.idempotency - the idempotent request this send carries out: its response is
   *   recorded with the notification, in the same transaction
   */
  async sendNotification(input: SendNotificationInput, options: { idempotency?: IdempotentWrite<Notification> | undefined } = {}): Promise<Notification> {
    const outcome = await this.sends.submit({ input, idempotency: options.idempotency });
    if ('error' in outcome) throw outcome.error;
    return outcome.notification;
  }

  /**
   * Sends many notifications, all or none: each is checked as {@link sendNotification} checks
   * one, and when any is refused nothing is written or queued. The rows are written by one
   * statement and the jobs queued by one `addBulk`.
   *
   * @returns the notifications, in the order of `inputs`
   * @throws {@link BatchRefusedError} naming each refused input and why
   * @param options.idempotency - the idempotent request these sends carry out: its response is
   *   recorded with the notifications, in the same transaction
   */
  async sendNotifications(inputs: readonly SendNotificationInput[], options: { idempotency?: IdempotentWrite<Notification[]> | undefined } = {}): Promise<Notification[]> {
    const { idempotency } = options;
    const outcomes = await this.create(inputs, 'all', idempotency && ((transaction, written) => recordIdempotentResponse(transaction, idempotency, written.map((w) => w.notification))));
    const refused = outcomes.flatMap((outcome, index) => ('error' in outcome ? [{ index, error: outcome.error as AppError }] : []));
    if (refused.length > 0) throw new BatchRefusedError(refused, inputs.length);
    return outcomes.map((outcome) => (outcome as { notification: Notification }).notification);
  }

  /**
   * Single sends made at the same time, gathered by {@link sends}: each is accepted or refused on
   * its own, as if alone. Should the set fail as a whole (a user erased between its read and its
   * write breaks the INSERT), each is tried alone, so that one cannot fail the others.
   */
  private async createEach(sends: readonly KeyedSend[]): Promise<SendOutcome[]> {
    // The responses of the keyed ones are recorded with their notifications.
    const record = sends.some((send) => send.idempotency)
      ? (transaction: EntityManager, written: readonly Written[]) =>
          recordIdempotentResponses(
            transaction,
            written.flatMap(({ index, notification }) => {
              const idempotency = sends[index]!.idempotency;
              return idempotency ? [{ claimId: idempotency.claimId, response: idempotency.response(notification) }] : [];
            }),
          )
      : undefined;
    try {
      return await this.create(sends.map((send) => send.input), 'each', record);
    } catch (error) {
      if (sends.length === 1) return [{ error }];
      return Promise.all(sends.map(async (send) => (await this.createEach([send]))[0]!));
    }
  }

  /**
   * Checks, writes and queues the notifications of sends, with one query of their recipients, one
   * of their tickets, one INSERT and one `addBulk` for them all. `all`: when any is refused, none
   * is written. `each`: the refused ones are left out. `record`, given the notifications written,
   * runs in the transaction that writes them.
   *
   * @returns each input's notification, or the error its refusal would get alone, in the order of `inputs`
   */
  private async create(
    inputs: readonly SendNotificationInput[],
    mode: 'all' | 'each',
    record?: (transaction: EntityManager, written: readonly Written[]) => Promise<void>,
  ): Promise<SendOutcome[]> {
    const { manager } = this.deps.dataSource;
    const recipients = await loadRecipients(manager, inputs.map((input) => input.userId));
    const ticketIds = [...new Set(inputs.flatMap((input) => (input.ticketId == null ? [] : [input.ticketId])))];
    const ticketOwners = new Map(
      ticketIds.length === 0 ? [] : (await manager.find(Ticket, { where: { id: In(ticketIds) }, select: { id: true, userId: true } })).map((t) => [t.id, t.userId]),
    );

    // Filled in as each send is refused, then with the notifications written.
    const outcomes: SendOutcome[] = new Array<SendOutcome>(inputs.length);
    const accepted: Accepted[] = [];
    inputs.forEach((input, index) => {
      try {
        accepted.push(acceptedSend(index, input, recipients.get(input.userId), ticketOwners));
      } catch (error) {
        if (!(error instanceof AppError)) throw error;
        outcomes[index] = { error };
      }
    });
    if (accepted.length === 0 || (mode === 'all' && accepted.length < inputs.length)) return outcomes;

    const insert = async (transaction: EntityManager): Promise<{ kept: Accepted[]; written: Notification[] }> => {
      // An SMS past the cap is refused, or passed over for the next channel of its chain.
      const capped = new Map((await this.smsCapRefusals(transaction, accepted)).map(({ index, error }) => [index, error]));
      const kept: Accepted[] = [];
      for (const item of accepted) {
        const error = capped.get(item.index);
        if (error === undefined) kept.push(item);
        else if (item.chain.length > 1) kept.push(passedOver(item, `the user reached the daily cap of ${this.deps.smsDailyCap} SMS`));
        else outcomes[item.index] = { error };
      }
      if (mode === 'all' && kept.length < accepted.length) return { kept: [], written: [] };
      // In user order, as every transaction takes them: two sets of sends never wait on each other.
      for (const userId of [...new Set(kept.filter((item) => item.wanted.digestKey).map((item) => item.recipient.userId))].sort((a, b) => a - b)) {
        await lockDigest(transaction, userId);
      }
      const now = new Date();
      const digests = new Map<string, Date | null>();
      const rows: NewNotification[] = [];
      for (const item of kept) rows.push({ ...item.wanted, scheduledAt: await this.scheduledAt(transaction, item, now, digests) });
      const written = await insertPendingNotifications(transaction, rows);
      await record?.(transaction, kept.map((item, i) => ({ index: item.index, notification: written[i]! })));
      return { kept, written };
    };
    // Checks that count or join other rows run in a transaction, under per-user locks; responses
    // are recorded in the one that writes what they answer for.
    const locks = accepted.some((item) => this.capsSms(item.wanted.channel) || item.wanted.digestKey);
    const { kept, written } = locks || record ? await this.deps.dataSource.transaction(insert) : await insert(manager);
    await this.enqueue(written);
    kept.forEach((item, i) => {
      outcomes[item.index] = { notification: written[i]! };
    });
    return outcomes;
  }

  /**
   * Notifies a ticket's owner on every channel they can be reached on and have not turned off.
   *
   * @throws {@link NotFoundError} for an unknown ticket
   * @throws {@link UnprocessableError} when no channel can reach the user
   * @param options.idempotency - the idempotent request this notice carries out: its response is
   *   recorded with the notifications, in the same transaction
   */
  async sendTicketNotification(input: TicketNotificationInput, options: { idempotency?: IdempotentWrite<TicketNotificationResult> | undefined } = {}): Promise<TicketNotificationResult> {
    assertMessage(input.message, input.subject);
    const { manager } = this.deps.dataSource;
    const ticket = await manager.findOne(Ticket, { where: { id: input.ticketId }, select: { id: true, userId: true } });
    if (!ticket) throw new NotFoundError('Ticket', input.ticketId);
    const recipient = await loadRecipient(manager, ticket.userId);
    if (!recipient) throw new NotFoundError('Ticket', input.ticketId);

    const skipped = new Map<Channel, string>();
    const wanted: NewNotification[] = [];
    const subject = subjectOrNull(input.subject);
    for (const channel of CHANNELS) {
      const refusal = channelRefusal(recipient, channel, false);
      if (refusal) skipped.set(channel, refusal.reason);
      else {
        const scheduledAt = quietUntil(channel, recipient.quietHours, recipient.timezone, new Date());
        const message = messageOn(channel, input.message, 'caller');
        wanted.push({ userId: recipient.userId, channel, message, subject, ticketId: ticket.id, reminderId: null, scheduledAt });
      }
    }
    const noChannel = () =>
      new UnprocessableError(
        'no-reachable-channel',
        'The user cannot be reached',
        `User ${recipient.userId} cannot be reached on any channel (${[...skipped].map(([channel, reason]) => `${channel}: ${reason}`).join('; ')}).`,
      );
    if (wanted.length === 0) throw noChannel();

    const write = async (transaction: EntityManager): Promise<TicketNotificationResult> => {
      if (wanted.some((n) => this.capsSms(n.channel)) && (await this.overSmsCap(transaction, [recipient.userId], true)).has(recipient.userId)) {
        skipped.set('sms', `the user reached the daily cap of ${this.deps.smsDailyCap} SMS`);
        wanted.splice(wanted.findIndex((n) => n.channel === 'sms'), 1);
        if (wanted.length === 0) throw noChannel();
      }
      const notifications = await insertPendingNotifications(transaction, wanted);
      const channels = Object.fromEntries(
        CHANNELS.map((channel): [Channel, ChannelResult] => {
          const notification = notifications.find((n) => n.channel === channel);
          return [channel, notification ? { status: 'pending', notification } : { status: 'skipped', reason: skipped.get(channel)! }];
        }),
      ) as Record<Channel, ChannelResult>;
      const result = { ticketId: ticket.id, userId: recipient.userId, channels, notifications };
      await recordIdempotentResponse(transaction, options.idempotency, result);
      return result;
    };
    // The SMS cap counts under a per-user lock; a response is recorded with the rows it answers for.
    const inTransaction = wanted.some((n) => this.capsSms(n.channel)) || options.idempotency !== undefined;
    const result = inTransaction ? await this.deps.dataSource.transaction(write) : await write(manager);
    await this.enqueue(result.notifications);
    return result;
  }

  /**
   * Processes every reminder due now, batch after batch: claims it, writes one notification per
   * enabled channel the user can be reached on, queues them and schedules the next run. Any number
   * of processors may run at once; each reminder is sent once per period.
   */
  async processReminders(options: { now?: Date } = {}): Promise<ReminderRunSummary> {
    const now = options.now ?? new Date();
    const summary: ReminderRunSummary = { processed: 0, skipped: 0, channels: { email: 0, sms: 0, push: 0 } };
    const batchSize = this.deps.reminderBatchSize;

    await retireFinishedReminders(this.deps.dataSource.manager, now);
    // Batch after batch, each claimed, written and queued; a batch's jobs are queued while the next
    // batch is claimed.
    const drain = async () => {
      let queuing: Promise<void> = Promise.resolve();
      try {
        for (;;) {
          const { claimed, notifications } = await this.deps.dataSource.transaction(async (manager) => {
            const claimed = await claimDueReminders(manager, now, batchSize);
            const wanted = await this.withoutSmsPastCap(manager, claimed.flatMap((r) => reminderNotifications(r, now)));
            const notifications = await insertPendingNotifications(manager, wanted);
            return { claimed, notifications };
          });
          if (claimed.length === 0) return;

          await queuing;
          queuing = this.enqueue(notifications);
          const notified = new Set(notifications.map((n) => n.reminderId));
          summary.processed += notified.size;
          summary.skipped += claimed.length - notified.size;
          for (const notification of notifications) summary.channels[notification.channel] += 1;

          // Fewer than asked: the rest are due later or being claimed by someone else.
          if (claimed.length < batchSize) return;
        }
      } finally {
        await queuing;
      }
    };
    // Two such loops at once (their claims skip each other's rows): while PostgreSQL claims and
    // writes one batch, this process renders and queues the other's.
    const loops = await Promise.allSettled(Array.from({ length: REMINDER_LOOPS }, drain));
    const failed = loops.find((loop) => loop.status === 'rejected');
    if (failed) throw failed.reason;
    this.deps.logger.info('reminders processed', { ...summary });
    return summary;
  }

  /**
   * What {@link processReminders} would do now, without doing any of it: the due reminders are read,
   * not claimed (nor locked, nor moved to their next period), and no notification is written or
   * queued. Each due reminder is handed to `onReminder` with the notifications it would write, as
   * it is read.
   */
  async previewReminders(options: { now?: Date; onReminder?: (planned: PlannedReminder) => void } = {}): Promise<ReminderRunSummary> {
    const now = options.now ?? new Date();
    const { manager } = this.deps.dataSource;
    const summary: ReminderRunSummary = { processed: 0, skipped: 0, channels: { email: 0, sms: 0, push: 0 } };
    let after: DueReminderPosition | undefined;
    for (;;) {
      const due = await peekDueReminders(manager, now, this.deps.reminderBatchSize, after);
      const byReminder = new Map<number | null, NewNotification[]>();
      for (const notification of await this.withoutSmsPastCap(manager, due.flatMap((r) => reminderNotifications(r, now)))) {
        byReminder.set(notification.reminderId, [...(byReminder.get(notification.reminderId) ?? []), notification]);
      }
      for (const reminder of due) {
        const notifications = byReminder.get(reminder.id) ?? [];
        if (notifications.length > 0) summary.processed += 1;
        else summary.skipped += 1;
        for (const notification of notifications) summary.channels[notification.channel] += 1;
        options.onReminder?.({ reminderId: reminder.id, userId: reminder.userId, notifications });
      }
      if (due.length < this.deps.reminderBatchSize) return summary;
      after = due.at(-1);
    }
  }

  /** Reminders' notifications but the SMS of users past the daily cap, who get none from reminders. */
  private async withoutSmsPastCap(manager: EntityManager, wanted: NewNotification[]): Promise<NewNotification[]> {
    if (!wanted.some((n) => this.capsSms(n.channel))) return wanted;
    // Without per-user locks: concurrent runs may each add one SMS past the cap.
    const over = await this.overSmsCap(manager, [...new Set(wanted.filter((n) => n.channel === 'sms').map((n) => n.userId))], false);
    return wanted.filter((n) => n.channel !== 'sms' || !over.has(n.userId));
  }

  /**
   * Sends a failed notification again (an operator's decision, once the cause is fixed): back to
   * pending with a fresh set of attempts. That notification only: a chain that went on from it
   * does not go on again, and one that another of its notifications delivered is not sent twice.
   *
   * @throws {@link NotFoundError} for an unknown notification
   * @throws {@link ConflictError} when it is not failed, or its fallback chain was delivered or is still being tried
   * @param options.idempotency - the idempotent request this retry carries out: its response is
   *   recorded with the row, in the same transaction
   */
  async retryNotification(id: number, options: { idempotency?: IdempotentWrite<Notification> | undefined } = {}): Promise<Notification> {
    const reset = await this.deps.dataSource.transaction(async (transaction) => {
      const outcome = await resetFailedNotification(transaction, id);
      if (outcome === null) throw new NotFoundError('Notification', id);
      if (typeof outcome === 'string') throw new ConflictError(`Notification ${id} is ${outcome}: only a failed notification can be retried.`);
      if ('blockedBy' in outcome) throw new ConflictError(chainBlockedRetry(id, outcome.blockedBy));
      await recordIdempotentResponse(transaction, options.idempotency, outcome);
      return outcome;
    });
    try {
      await this.deps.queues.requeue([reset]);
    } catch (error) {
      this.deps.logger.warn('could not queue the retried notification now: the sweeper will', { error, notification_id: id });
    }
    return reset;
  }

  /**
   * When a new notification goes out: at `sendAt` or now; with the pending members of its digest
   * (`digests` holds those decided in this batch), or at the end of a new digest's window; and
   * never in the user's quiet hours unless urgent. Null means at once.
   */
  private async scheduledAt(manager: EntityManager, { recipient, wanted, sendAt }: Accepted, now: Date, digests: Map<string, Date | null>): Promise<Date | null> {
    let at = sendAt && sendAt > now ? sendAt : now;
    const digest = wanted.digestKey ? `${recipient.userId}\n${wanted.channel}\n${wanted.digestKey}` : undefined;
    if (digest !== undefined) {
      // Its members in this set go when the first went; before that, with those already pending.
      const decided = digests.has(digest) ? digests.get(digest) : await pendingDigestTime(manager, recipient.userId, wanted.channel, wanted.digestKey!);
      if (decided !== undefined) {
        digests.set(digest, decided);
        return decided;
      }
      at = new Date(Math.max(at.getTime(), now.getTime() + (this.deps.digestWindowMs ?? 0)));
    }
    if (!wanted.urgent) at = quietUntil(wanted.channel, recipient.quietHours, recipient.timezone, at) ?? at;
    const when = at > now ? at : null;
    if (digest !== undefined) digests.set(digest, when);
    return when;
  }

  private capsSms(channel: Channel): boolean {
    return channel === 'sms' && (this.deps.smsDailyCap ?? 0) > 0;
  }

  /**
   * The accepted SMS that would pass their user's daily cap, counting those sent in the last 24
   * hours and those before them in the batch; under per-user locks until the transaction ends.
   */
  private async smsCapRefusals(manager: EntityManager, accepted: readonly Accepted[]): Promise<RefusedInput[]> {
    const sms = accepted.flatMap((item) => (this.capsSms(item.wanted.channel) ? [{ userId: item.recipient.userId, index: item.index }] : []));
    if (sms.length === 0) return [];
    const cap = this.deps.smsDailyCap!;
    const recent = await countRecentSms(manager, [...new Set(sms.map((item) => item.userId))], new Date(Date.now() - SMS_CAP_WINDOW_MS), { lock: true });
    const added = new Map<number, number>();
    const refused: RefusedInput[] = [];
    for (const { userId, index } of sms) {
      const sent = recent.get(userId);
      const count = (sent?.count ?? 0) + (added.get(userId) ?? 0);
      if (count >= cap) refused.push({ index, error: smsCapReached(userId, cap, new Date((sent?.oldest ?? new Date()).getTime() + SMS_CAP_WINDOW_MS)) });
      else added.set(userId, (added.get(userId) ?? 0) + 1);
    }
    return refused;
  }

  /** The users among `userIds` who reached the SMS cap, each with when they may be sent one again. */
  private async overSmsCap(manager: EntityManager, userIds: readonly number[], lock: boolean): Promise<Map<number, Date>> {
    const cap = this.deps.smsDailyCap ?? 0;
    const counts = await countRecentSms(manager, userIds, new Date(Date.now() - SMS_CAP_WINDOW_MS), { lock });
    const over = new Map<number, Date>();
    for (const [userId, { count, oldest }] of counts) {
      if (count >= cap) over.set(userId, new Date(oldest.getTime() + SMS_CAP_WINDOW_MS));
    }
    return over;
  }

  /**
   * Cancels a notification before it is sent: it becomes `cancelled` and its job, if still
   * waiting, is removed (one already running finds it cancelled and sends nothing).
   *
   * @throws {@link NotFoundError} for an unknown notification
   * @throws {@link ConflictError} when it is sent, failed, cancelled, or being sent right now
   * @param options.idempotency - the idempotent request this cancellation carries out: its
   *   response is recorded with the row, in the same transaction
   */
  async cancelNotification(id: number, reason = 'Cancelled by the caller.', options: { idempotency?: IdempotentWrite<Notification> | undefined } = {}): Promise<Notification> {
    const cancel = async (manager: EntityManager) => {
      const outcome = await cancelNotification(manager, id, reason);
      if (outcome === null) throw new NotFoundError('Notification', id);
      if (outcome === 'sending') throw new ConflictError(`Notification ${id} is being sent right now: it can no longer be cancelled.`);
      if (typeof outcome === 'string') throw new ConflictError(`Notification ${id} is ${outcome}: only a pending notification can be cancelled.`);
      await recordIdempotentResponse(manager, options.idempotency, outcome);
      return outcome;
    };
    const cancelled = options.idempotency ? await this.deps.dataSource.transaction(cancel) : await cancel(this.deps.dataSource.manager);
    await this.deps.queues.remove([cancelled]).catch((error: unknown) => this.deps.logger.warn('could not remove a cancelled notification\'s job: it will find it cancelled', { error, notification_id: id }));
    return cancelled;
  }

  /**
   * Queues the deliveries of freshly committed notifications. The rows are already the truth: when
   * Redis cannot take the jobs, the notifications stay accepted and pending, and the workers'
   * sweeper queues them once Redis is back. Nothing accepted is lost, and the caller need not retry
   * (which would send twice).
   */
  private async enqueue(notifications: readonly Notification[]): Promise<void> {
    if (notifications.length === 0) return;
    this.deps.onCommitted?.(notifications);
    try {
      await this.deps.queues.enqueue(notifications);
      if (this.leftToSweeper > 0) this.deps.logger.info('notifications queued again', { left_to_sweeper: this.leftToSweeper });
      this.leftToSweeper = 0;
    } catch (error) {
      const ids = notifications.map((n) => n.id);
      const fields = { error, notification_ids: ids.slice(0, 20), count: ids.length };
      // Redis away: said once, not for every request accepted until it is back.
      const first = this.leftToSweeper === 0;
      this.leftToSweeper += ids.length;
      if (first || !isRedisConnectionError(error)) this.deps.logger.warn('could not queue notifications now: the sweeper will', fields);
      else this.deps.logger.debug('could not queue notifications now: the sweeper will', fields);
    }
  }
}

/** What became of one send: its notification, or why it was refused. */
type SendOutcome = { readonly notification: Notification } | { readonly error: unknown };

/** A single send, and the idempotent request it carries out (if it has a key). */
interface KeyedSend {
  readonly input: SendNotificationInput;
  readonly idempotency: IdempotentWrite<Notification> | undefined;
}

/** A notification written for the send at `index`. */
interface Written {
  readonly index: number;
  readonly notification: Notification;
}

/** A send that passed its checks, to be written. */
interface Accepted {
  /** Its position among the sends. */
  readonly index: number;
  readonly input: SendNotificationInput;
  readonly recipient: Recipient;
  /**
   * What it says on each channel it may go on, in order: the first is the row's; should that one be
   * refused when the row is written (the SMS cap), the next takes it.
   */
  readonly chain: readonly ChannelText[];
  /** The channels it named that cannot take it, and why. */
  readonly skipped: readonly SkippedChannel[];
  /** The row, but for when it goes out. */
  readonly wanted: NewNotification;
  readonly sendAt: Date | null;
}

/** One send of a batch that cannot be carried out, and why (the error a single send would get). */
export interface RefusedInput {
  /** Its position in the batch, from 0. */
  readonly index: number;
  readonly error: AppError;
}

/**
 * A batch of sends with some that cannot be carried out: none was. Its field errors name each
 * refused send (`notifications[3].channel`) with what its own request would have been told.
 */
export class BatchRefusedError extends UnprocessableError {
  constructor(
    readonly refused: readonly RefusedInput[],
    total: number,
  ) {
    const errors = refused.flatMap(({ index, error }) =>
      error.errors?.length ? error.errors.map((e) => ({ field: `notifications[${index}].${e.field}`, message: e.message })) : [{ field: `notifications[${index}]`, message: error.detail }],
    );
    super(
      'batch-refused',
      'Some notifications of the batch cannot be sent',
      `${refused.length} of the ${total} notifications cannot be sent, so none was: ${refused
        .slice(0, 3)
        .map(({ index, error }) => `notifications[${index}]: ${error.detail}`)
        .join('; ')}${refused.length > 3 ? '; ...' : ''}. Fix or remove them and send the batch again.`,
      errors,
    );
  }
}

/**
 * Checks one send against its recipient and its ticket's owner, renders its template for each
 * channel it may go on, and starts its chain at the first of its channel and fallbacks that can
 * take it.
 *
 * @throws {@link AppError} as {@link NotificationService.sendNotification} documents
 */
function acceptedSend(index: number, input: SendNotificationInput, recipient: Recipient | undefined, ticketOwners: ReadonlyMap<number, number>): Accepted {
  if (!input.template) assertMessage(input.message ?? '', input.subject);
  if (!recipient) throw new NotFoundError('User', input.userId);
  // The template's data is checked first, whatever channel the send ends up on.
  const requested = textOn(input.channel, input, recipient);
  if (input.ticketId != null) assertTicketOf(ticketOwners, input.ticketId, recipient.userId);

  const critical = input.critical ?? false;
  const skipped: SkippedChannel[] = [];
  const chain: ChannelText[] = [];
  for (const channel of namedChannels(input)) {
    const refusal = channelRefusal(recipient, channel, critical);
    if (refusal) skipped.push({ channel, reason: refusal.reason });
    else chain.push(channel === input.channel ? requested : textOn(channel, input, recipient));
  }
  if (chain.length === 0) throw refusedEverywhere(channelRefusal(recipient, input.channel, critical)!, skipped);
  return { index, input, recipient, chain, skipped, wanted: notificationOn(input, recipient, chain, skipped), sendAt: input.sendAt ?? null };
}

/** The channels a send names, in the order it would try them: its own, then its fallbacks. */
function namedChannels(input: SendNotificationInput): Channel[] {
  return [input.channel, ...(input.fallback ?? [])];
}

/** A send that cannot go out at all: the refusal of its own channel, and of each fallback it named. */
function refusedEverywhere(refusal: ChannelRefusal, skipped: readonly SkippedChannel[]): UnprocessableError {
  const fallbacks = skipped.slice(1);
  const errors = [{ field: 'channel', message: refusal.detail }, ...fallbacks.map((s, i) => ({ field: `fallback[${i}]`, message: `${s.channel}: ${s.reason}` }))];
  const detail = fallbacks.length === 0 ? refusal.detail : `${refusal.detail} Nor can its fallbacks: ${fallbacks.map((s) => `${s.channel} (${s.reason})`).join(', ')}.`;
  return new UnprocessableError(refusal.type, refusal.title, detail, errors);
}

/** The same send, its first channel passed over (for `reason`): the next one of its chain takes it. */
function passedOver(item: Accepted, reason: string): Accepted {
  const [first, ...chain] = item.chain;
  const named = namedChannels(item.input);
  const skipped = [...item.skipped, { channel: first!.channel, reason }].sort((a, b) => named.indexOf(a.channel) - named.indexOf(b.channel));
  return { ...item, chain, skipped, wanted: notificationOn(item.input, item.recipient, chain, skipped) };
}

/** The row of a send going out on the first channel of `chain`, the others its fallbacks, in order. */
function notificationOn(input: SendNotificationInput, recipient: Recipient, chain: readonly ChannelText[], skipped: readonly SkippedChannel[]): NewNotification {
  const [first, ...fallbacks] = chain;
  // What a stand-in on a fallback channel says, where it says something else than this one.
  const differing = fallbacks.filter((text) => text.message !== first!.message || text.subject !== first!.subject || text.html !== first!.html);
  return {
    userId: recipient.userId,
    channel: first!.channel,
    message: first!.message,
    subject: first!.subject,
    ticketId: input.ticketId ?? null,
    reminderId: null,
    urgent: input.urgent ?? false,
    critical: input.critical ?? false,
    fallbackChannels: fallbacks.length > 0 ? fallbacks.map((text) => text.channel) : null,
    digestKey: input.digestKey ?? null,
    template: input.template?.kind ?? null,
    html: first!.html,
    variants: differing.length > 0 ? Object.fromEntries(differing.map(({ channel, ...text }) => [channel, text])) : null,
    skippedChannels: skipped.length > 0 ? skipped : null,
  };
}

/** Why a failed notification of a fallback chain may not be sent again. */
export function chainBlockedRetry(id: number, blocker: ChainBlocker): string {
  return blocker.status === 'sent'
    ? `Notification ${id}'s fallback chain was delivered by notification ${blocker.id} (${blocker.channel}): sending it again would send the message twice.`
    : `Notification ${id}'s fallback chain is still being tried, by notification ${blocker.id} (${blocker.channel}): retry once that one has failed.`;
}

function assertTicketOf(ticketOwners: ReadonlyMap<number, number>, ticketId: number, userId: number): void {
  const owner = ticketOwners.get(ticketId);
  if (owner === undefined) throw new NotFoundError('Ticket', ticketId);
  if (owner !== userId) {
    throw new UnprocessableError('ticket-of-another-user', 'The ticket belongs to another user', `Ticket ${ticketId} does not belong to user ${userId}.`, [
      { field: 'ticket_id', message: `ticket ${ticketId} does not belong to user ${userId}` },
    ]);
  }
}

function smsCapReached(userId: number, cap: number, until: Date): AppError {
  const seconds = Math.max(1, Math.ceil((until.getTime() - Date.now()) / 1000));
  return new AppError(
    429,
    'sms-daily-cap-reached',
    'The user reached the daily cap of SMS',
    `User ${userId} was sent ${cap} SMS in the last 24 hours, the most SMS_DAILY_CAP allows: send by email or push, or retry after ${until.toISOString()}.`,
    { headers: { 'Retry-After': String(seconds) } },
  );
}

interface ChannelRefusal {
  readonly type: string;
  readonly title: string;
  readonly detail: string;
  /** Short form, for per-channel results. */
  readonly reason: string;
}

/**
 * Why a user may not get a notification (other than a reminder) on a channel; null when they may.
 * A critical notice goes where the user opted out or turned the channel off, not where they have no address.
 */
function channelRefusal(recipient: Recipient, channel: Channel, critical: boolean): ChannelRefusal | null {
  const missing = unreachableReason(recipient, channel);
  if (missing) {
    return {
      type: 'channel-unreachable',
      title: 'The user cannot be reached on this channel',
      detail: `User ${recipient.userId} ${missing}: ${HOW_TO_REACH[channel].replace('{id}', String(recipient.userId))}, or choose another channel.`,
      reason: `the user ${missing}`,
    };
  }
  if (critical) return null;
  if (recipient.optedOut[channel]) {
    return {
      type: 'channel-opted-out',
      title: 'The user unsubscribed from this channel',
      detail: `User ${recipient.userId} unsubscribed from ${channel}: only notices marked critical go there.`,
      reason: `the user unsubscribed from ${channel}`,
    };
  }
  if (recipient.preferences[channel] === false) {
    return {
      type: 'channel-disabled',
      title: 'The user has turned this channel off',
      detail: `User ${recipient.userId} has turned ${channel} notifications off in their preferences.`,
      reason: `the user turned ${channel} off`,
    };
  }
  return null;
}

/**
 * The notifications a claimed reminder produces: one per enabled channel that reaches the user
 * (and, for a text written with a user token, on an address the user proved). Its SMS is brought
 * to the GSM alphabet: the summary as the service's own text, a reminder's own message as its
 * author's.
 */
function reminderNotifications(reminder: ClaimedReminder, now: Date): NewNotification[] {
  let message: string;
  let subject: string | null;
  let author: SmsAuthor;
  if (reminder.message !== null) {
    message = reminder.message;
    subject = reminder.subject;
    author = 'caller';
  } else {
    const summary = reminder.unpaid && renderUnpaidSummary(reminder.unpaid, reminder, now);
    if (!summary) return [];
    message = summary.text;
    subject = reminder.subject ?? summary.subject;
    author = 'service';
  }
  return reminder.channels
    .filter((channel) => unreachableReason(reminder, channel) === null && !reminder.optedOut[channel])
    .filter((channel) => !reminder.textFromUserToken || unprovenReason(reminder, channel) === null)
    .map((channel) => ({
      userId: reminder.userId,
      channel,
      message: messageOn(channel, message, author),
      subject,
      ticketId: reminder.ticketId,
      reminderId: reminder.id,
      scheduledAt: quietUntil(channel, reminder.quietHours, reminder.timezone, now),
      textFromUserToken: reminder.textFromUserToken,
    }));
}

/** A blank subject is no subject: the channel's default applies. */
function subjectOrNull(subject: string | null | undefined): string | null {
  return subject?.trim() ? subject : null;
}

/** The service checks what the HTTP layer checks, for callers that do not come through it. */
function assertMessage(message: string, subject: string | null | undefined): void {
  if (typeof message !== 'string' || message.trim() === '') throw ValidationError.forField('message', 'must not be empty');
  const messageLength = characterCount(message);
  if (messageLength > LIMITS.message) {
    throw ValidationError.forField('message', `must be at most ${LIMITS.message} characters (got ${messageLength})`);
  }
  const subjectLength = subject == null ? 0 : characterCount(subject);
  if (subjectLength > LIMITS.subject) {
    throw ValidationError.forField('subject', `must be at most ${LIMITS.subject} characters (got ${subjectLength})`);
  }
}

/** What a send says on one channel: its text, subject (email) or title (push), and an email's HTML body. */
interface ChannelText {
  readonly channel: Channel;
  readonly message: string;
  readonly subject: string | null;
  readonly html: string | null;
}

/**
 * What a send says on a channel: its own text (as an SMS, its typography brought to the GSM
 * alphabet), or its template rendered for the channel in the recipient's language, with the
 * template's subject (email) or title (push) unless the send gave one; checked as a message of its
 * own would be.
 */
function textOn(channel: Channel, input: SendNotificationInput, recipient: Recipient): ChannelText {
  if (!input.template) return { channel, message: messageOn(channel, input.message!, 'caller'), subject: subjectOrNull(input.subject), html: null };
  const rendered: { text: string; subject?: string; title?: string; html?: string } = renderTemplate(input.template.kind, channel, input.template.data, recipient);
  const subject = input.subject ?? rendered.subject ?? rendered.title;
  assertMessage(rendered.text, subject);
  return { channel, message: rendered.text, subject: subjectOrNull(subject), html: rendered.html ?? null };
}

/** Characters as PostgreSQL's varchar counts them: code points, an emoji being one (two UTF-16 units). */
function characterCount(text: string): number {
  return [...text].length;
}
