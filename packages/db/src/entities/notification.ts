import { Check, Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn, UpdateDateColumn } from 'typeorm';
import { CHANNELS, DELIVERY_STATUSES, LIMITS, NOTIFICATION_STATUSES, sqlList, type Channel, type DeliveryStatus, type NotificationStatus } from './channel';

/** A message as rendered for one channel. */
export interface ChannelVariant {
  readonly message: string;
  readonly subject: string | null;
  readonly html: string | null;
}

/** Renderings of one message by channel. */
export type ChannelVariants = Readonly<Partial<Record<Channel, ChannelVariant>>>;

/** A channel a send named (its own or a fallback) that was left out when it was accepted, and why. */
export interface SkippedChannel {
  readonly channel: Channel;
  /** Completes "skipped because ...": `the user has no active push device`. */
  readonly reason: string;
}
import { Reminder } from './reminder';
import { Ticket } from './ticket';
import { User } from './user';

/**
 * One message to one user on one channel, and what became of it. This row is the truth; a queue job
 * carries only its id.
 */
@Entity({ name: 'notifications' })
@Check('CHK_notifications_channel', `"channel" IN (${sqlList(CHANNELS)})`)
@Check('CHK_notifications_status', `"status" IN (${sqlList(NOTIFICATION_STATUSES)})`)
@Check('CHK_notifications_delivery_status', `"delivery_status" IN (${sqlList(DELIVERY_STATUSES)})`)
// Serves "a user's notifications, newest first" (scanned backwards) and the user's cascade delete.
@Index('IDX_notifications_user_created', ['userId', 'createdAt', 'id'])
@Index('IDX_notifications_status_created', ['status', 'createdAt'])
// The two below keep ON DELETE SET NULL from scanning the whole table.
@Index('IDX_notifications_ticket_id', ['ticketId'], { where: '"ticket_id" IS NOT NULL' })
@Index('IDX_notifications_reminder_id', ['reminderId'], { where: '"reminder_id" IS NOT NULL' })
// Delivery receipts name the provider's message id.
@Index('IDX_notifications_provider_message', ['provider', 'providerMessageId'], { where: '"provider_message_id" IS NOT NULL' })
@Index('IDX_notifications_fallback_from_id', ['fallbackFromId'], { where: '"fallback_from_id" IS NOT NULL' })
// Finds the pending digest a new notification joins.
@Index('IDX_notifications_digest', ['userId', 'channel', 'digestKey'], { where: `"digest_key" IS NOT NULL AND "status" = 'pending'` })
export class Notification {
  @PrimaryGeneratedColumn('identity', { type: 'bigint', generatedIdentity: 'BY DEFAULT' })
  id!: number;

  @Column({ type: 'bigint' })
  userId!: number;

  @Column({ type: 'bigint', nullable: true })
  ticketId!: number | null;

  @Column({ type: 'bigint', nullable: true })
  reminderId!: number | null;

  @Column({ type: 'varchar', length: 16 })
  channel!: Channel;

  @Column({ type: 'varchar', length: LIMITS.message })
  message!: string;

  @Column({ type: 'varchar', length: LIMITS.subject, nullable: true })
  subject!: string | null;

  @Column({ type: 'varchar', length: 16, default: 'pending' })
  status!: NotificationStatus;

  /** Why the last attempt failed: the final reason once `failed`, the last retried error while `pending`. */
  @Column({ type: 'text', nullable: true })
  errorMessage!: string | null;

  /** Provider calls made so far (throttled calls not counted). */
  @Column({ type: 'integer', default: 0 })
  attempts!: number;

  /** The provider that accepted it, e.g. `outbox`. */
  @Column({ type: 'varchar', length: 32, nullable: true })
  provider!: string | null;

  @Column({ type: 'varchar', length: 255, nullable: true })
  providerMessageId!: string | null;

  @Column({ type: 'timestamptz', precision: 3, nullable: true })
  sentAt!: Date | null;

  /**
   * The delivery attempt that holds the row: a worker claims it (token, deadline) before calling
   * the provider, so no other worker sends it meanwhile; a lease past its deadline is abandoned
   * (its worker died) and may be claimed again.
   */
  @Column({ type: 'uuid', nullable: true })
  leaseToken!: string | null;

  @Column({ type: 'timestamptz', precision: 3, nullable: true })
  leaseUntil!: Date | null;

  /** What the provider's delivery receipts said of a `sent` notification; null until one came. */
  @Column({ type: 'varchar', length: 16, nullable: true })
  deliveryStatus!: DeliveryStatus | null;

  @Column({ type: 'timestamptz', precision: 3, nullable: true })
  deliveryStatusAt!: Date | null;

  /** The provider's reason for a bounce or a failed delivery. */
  @Column({ type: 'text', nullable: true })
  deliveryError!: string | null;

  /** When it is planned to go out, when not at once: `send_at`, the end of the user's quiet hours, a digest's window. */
  @Column({ type: 'timestamptz', precision: 3, nullable: true })
  scheduledAt!: Date | null;

  /** Goes out even in the user's quiet hours. */
  @Column({ type: 'boolean', default: false })
  urgent!: boolean;

  /** A transactional notice that goes out even on a channel the user opted out of. */
  @Column({ type: 'boolean', default: false })
  critical!: boolean;

  /** Channels to try next, in order, if this one ends `failed`. */
  @Column({ type: 'varchar', length: 16, array: true, nullable: true })
  fallbackChannels!: Channel[] | null;

  /** The failed notification this one stands in for. */
  @Column({ type: 'bigint', nullable: true })
  fallbackFromId!: number | null;

  /** The notification that stood in for this one once it failed. */
  @Column({ type: 'bigint', nullable: true })
  fallbackToId!: number | null;

  /** Pending notifications of one user on one channel with the same key go out as one message. */
  @Column({ type: 'varchar', length: LIMITS.digestKey, nullable: true })
  digestKey!: string | null;

  /** The template kind it was rendered from (`ticket_due`, ...); null for a text given as is. */
  @Column({ type: 'varchar', length: 32, nullable: true })
  template!: string | null;

  /** An email's HTML body as its template wrote it; null when the HTML part is written from the text. */
  @Column({ type: 'text', nullable: true })
  html!: string | null;

  /** What its template renders on each fallback channel, for the notification that stands in there. */
  @Column({ type: 'jsonb', nullable: true })
  variants!: ChannelVariants | null;

  /** Its text was written with a user token (a reminder's): it goes only to an address the user proved. */
  @Column({ type: 'boolean', default: false })
  textFromUserToken!: boolean;

  /**
   * The verification whose code this notification carries: it goes to that verification's address,
   * never the user's, and is cancelled once the verification is gone. No foreign key on purpose:
   * the id must stay when the verification goes, or the notification would look like any other.
   */
  @Column({ type: 'bigint', nullable: true })
  contactVerificationId!: number | null;

  /**
   * The channels its send named that were left out when it was accepted (it went on the first that
   * could take it), and why; null when none was.
   */
  @Column({ type: 'jsonb', nullable: true })
  skippedChannels!: readonly SkippedChannel[] | null;

  @CreateDateColumn({ type: 'timestamptz', precision: 3 })
  createdAt!: Date;

  @UpdateDateColumn({ type: 'timestamptz', precision: 3 })
  updatedAt!: Date;

  @ManyToOne(() => User, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'user_id' })
  user?: User;

  @ManyToOne(() => Ticket, { onDelete: 'SET NULL' })
  @JoinColumn({ name: 'ticket_id' })
  ticket?: Ticket | null;

  @ManyToOne(() => Reminder, { onDelete: 'SET NULL' })
  @JoinColumn({ name: 'reminder_id' })
  reminder?: Reminder | null;

  @ManyToOne(() => Notification, { onDelete: 'SET NULL' })
  @JoinColumn({ name: 'fallback_from_id' })
  fallbackFrom?: Notification | null;
}
