import { Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn } from 'typeorm';
import { Notification } from './notification';

/**
 * A delivery receipt already applied. Providers deliver receipts at least once: the unique
 * (provider, event_id) makes a second copy a no-op, whatever the concurrency.
 */
@Entity({ name: 'delivery_events' })
@Index('UQ_delivery_events_provider_event', ['provider', 'eventId'], { unique: true })
@Index('IDX_delivery_events_notification_id', ['notificationId'])
export class DeliveryEvent {
  @PrimaryGeneratedColumn('identity', { type: 'bigint', generatedIdentity: 'BY DEFAULT' })
  id!: number;

  @Column({ type: 'varchar', length: 32 })
  provider!: string;

  /** The provider's id of the event (SendGrid's `sg_event_id`; message id and status for the others). */
  @Column({ type: 'varchar', length: 255 })
  eventId!: string;

  @Column({ type: 'bigint' })
  notificationId!: number;

  @CreateDateColumn({ type: 'timestamptz', precision: 3 })
  receivedAt!: Date;

  // Erasing a user erases their notifications, and so their receipts.
  @ManyToOne(() => Notification, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'notification_id' })
  notification?: Notification;
}
