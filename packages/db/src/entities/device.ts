import { Check, Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn } from 'typeorm';
import { DEVICE_PLATFORMS, LIMITS, sqlList, type DevicePlatform } from './channel';
import { User } from './user';

/** A push registration (FCM token) of a user's phone or browser. */
@Entity({ name: 'devices' })
@Check('CHK_devices_platform', `"platform" IN (${sqlList(DEVICE_PLATFORMS)})`)
@Index('IDX_devices_user_id', ['userId'])
export class Device {
  @PrimaryGeneratedColumn('identity', { type: 'bigint', generatedIdentity: 'BY DEFAULT' })
  id!: number;

  @Column({ type: 'bigint' })
  userId!: number;

  @Index('UQ_devices_token', { unique: true })
  @Column({ type: 'varchar', length: LIMITS.deviceToken })
  token!: string;

  @Column({ type: 'varchar', length: 16 })
  platform!: DevicePlatform;

  @CreateDateColumn({ type: 'timestamptz', precision: 3 })
  createdAt!: Date;

  @Column({ type: 'timestamptz', precision: 3, default: () => 'now()' })
  lastSeenAt!: Date;

  /** Set when the provider reports the token unregistered or invalid; such devices get nothing. */
  @Column({ type: 'timestamptz', precision: 3, nullable: true })
  disabledAt!: Date | null;

  @ManyToOne(() => User, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'user_id' })
  user?: User;
}
