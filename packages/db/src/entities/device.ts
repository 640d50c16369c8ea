import { Check, Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn } from 'typeorm';
import { DEVICE_PLATFORMS, LIMITS, sqlList, type DevicePlatform } from './channel';
import { User } from './user';

/**
 * A push registration (FCM token) of a user's phone or browser. The token is stored encrypted
 * (see `PushTokenCipher`), found again by its hash.
 */
@Entity({ name: 'devices' })
@Check('CHK_devices_platform', `"platform" IN (${sqlList(DEVICE_PLATFORMS)})`)
@Check('CHK_devices_token_stored', `"token" IS NOT NULL OR ("token_ciphertext" IS NOT NULL AND "token_key_id" IS NOT NULL)`)
@Index('IDX_devices_user_id', ['userId'])
@Index('IDX_devices_unsealed', ['id'], { where: '"token" IS NOT NULL' })
export class Device {
  @PrimaryGeneratedColumn('identity', { type: 'bigint', generatedIdentity: 'BY DEFAULT' })
  id!: number;

  @Column({ type: 'bigint' })
  userId!: number;

  /** SHA-256 of the token, hex. */
  @Index('UQ_devices_token_hash', { unique: true })
  @Column({ type: 'char', length: 64 })
  tokenHash!: string;

  /** AES-256-GCM: base64 of IV, tag and ciphertext. */
  @Column({ type: 'text', nullable: true })
  tokenCiphertext!: string | null;

  @Column({ type: 'varchar', length: 32, nullable: true })
  tokenKeyId!: string | null;

  /** The token's last characters, for lists. */
  @Column({ type: 'varchar', length: 8 })
  tokenPreview!: string;

  /** Only on rows written before tokens were encrypted, until `npm run migrate` seals them. */
  @Column({ name: 'token', type: 'varchar', length: LIMITS.deviceToken, nullable: true, select: false })
  legacyToken!: string | null;

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
