import { Check, Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn } from 'typeorm';
import { LIMITS, sqlList } from './channel';
import { User } from './user';

/** The contact points a user proves by a code: an email address, a phone number (by SMS). */
export const CONTACTS = ['email', 'phone'] as const;
export type Contact = (typeof CONTACTS)[number];

/**
 * An address waiting for its owner to prove it with the code sent there: a new email or phone set
 * through a user token (the user's current one stays in use meanwhile), or the current one, not
 * proven yet. At most one per user and contact; it goes once proven, replaced or given up.
 *
 * The code is drawn by the worker when the message goes out, so that it is never stored in clear:
 * the row keeps its SHA-256 only.
 */
@Entity({ name: 'contact_verifications' })
@Check('CHK_contact_verifications_contact', `"contact" IN (${sqlList(CONTACTS)})`)
@Index('UQ_contact_verifications_user_contact', ['userId', 'contact'], { unique: true })
export class ContactVerification {
  @PrimaryGeneratedColumn('identity', { type: 'bigint', generatedIdentity: 'BY DEFAULT' })
  id!: number;

  @Column({ type: 'bigint' })
  userId!: number;

  @Column({ type: 'varchar', length: 8 })
  contact!: Contact;

  /** The address to prove: an email, or a phone number in E.164. */
  @Column({ type: 'varchar', length: LIMITS.email })
  address!: string;

  /** SHA-256 of the last code sent (see `verificationCodeHash`); null until one went out. */
  @Column({ type: 'char', length: 64, nullable: true })
  codeHash!: string | null;

  @Column({ type: 'timestamptz', precision: 3, nullable: true })
  codeSentAt!: Date | null;

  @Column({ type: 'timestamptz', precision: 3, nullable: true })
  codeExpiresAt!: Date | null;

  /** Wrong codes given so far, whatever code they were meant for: past the maximum, the row goes. */
  @Column({ type: 'integer', default: 0 })
  failedAttempts!: number;

  @CreateDateColumn({ type: 'timestamptz', precision: 3 })
  createdAt!: Date;

  @ManyToOne(() => User, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'user_id' })
  user?: User;
}
