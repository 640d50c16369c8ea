import { Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn } from 'typeorm';
import { User } from './user';

/**
 * A request made with an `Idempotency-Key`: the first one's fingerprint and, once answered, its
 * response, replayed to every retry with the same key. Unique per caller: the constraint, not a
 * read before the write, decides which of two concurrent requests runs.
 */
@Entity({ name: 'idempotency_keys' })
@Index('UQ_idempotency_keys_caller_key', ['caller', 'key'], { unique: true })
@Index('IDX_idempotency_keys_created_at', ['createdAt'])
@Index('IDX_idempotency_keys_user_id', ['userId'], { where: '"user_id" IS NOT NULL' })
export class IdempotencyKey {
  @PrimaryGeneratedColumn('identity', { type: 'bigint', generatedIdentity: 'BY DEFAULT' })
  id!: number;

  /** Who sent it (`key:<api key id>`): two callers' keys never meet. */
  @Column({ type: 'varchar', length: 64 })
  caller!: string;

  @Column({ type: 'varchar', length: 255 })
  key!: string;

  /** Hex SHA-256 of the method, the path and the body. */
  @Column({ type: 'char', length: 64 })
  fingerprint!: string;

  /** Null while the first request is in flight. */
  @Column({ type: 'smallint', nullable: true })
  responseStatus!: number | null;

  /** The headers worth replaying (content type, location). */
  @Column({ type: 'jsonb', nullable: true })
  responseHeaders!: Record<string, string> | null;

  @Column({ type: 'text', nullable: true })
  responseBody!: string | null;

  @CreateDateColumn({ type: 'timestamptz', precision: 3 })
  createdAt!: Date;

  @Column({ type: 'timestamptz', precision: 3, nullable: true })
  completedAt!: Date | null;

  /** The user the request was about: erasing them erases the kept response too (it may hold their address). */
  @Column({ type: 'bigint', nullable: true })
  userId!: number | null;

  @ManyToOne(() => User, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'user_id' })
  user?: User;
}
