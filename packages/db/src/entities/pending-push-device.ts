import { Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn, UpdateDateColumn } from 'typeorm';
import { Device } from './device';
import { Notification } from './notification';

/**
 * A device a push notification is still to reach: its send was refused for now (FCM UNAVAILABLE,
 * the device over its own rate) while another device of the user took it, so that the
 * notification is `sent`. Written only then; removed once the device took it, turned out dead, or
 * was given up on.
 */
@Entity({ name: 'pending_push_devices' })
@Index('IDX_pending_push_devices_device_id', ['deviceId'])
export class PendingPushDevice {
  @PrimaryColumn({ type: 'bigint' })
  notificationId!: number;

  @PrimaryColumn({ type: 'bigint' })
  deviceId!: number;

  /** Why the device did not take it the last time. */
  @Column({ type: 'text' })
  errorMessage!: string;

  @CreateDateColumn({ type: 'timestamptz', precision: 3 })
  createdAt!: Date;

  @UpdateDateColumn({ type: 'timestamptz', precision: 3 })
  updatedAt!: Date;

  // Erasing a user, or removing the device, removes what was pending for it.
  @ManyToOne(() => Notification, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'notification_id' })
  notification?: Notification;

  @ManyToOne(() => Device, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'device_id' })
  device?: Device;
}
