import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn, UpdateDateColumn } from 'typeorm';
import { LIMITS } from './channel';

@Entity({ name: 'users' })
export class User {
  @PrimaryGeneratedColumn('identity', { type: 'bigint', generatedIdentity: 'BY DEFAULT' })
  id!: number;

  @Column({ type: 'varchar', length: LIMITS.fullName })
  fullName!: string;

  @Column({ type: 'varchar', length: LIMITS.email, nullable: true })
  email!: string | null;

  /** E.164, e.g. `+33612345678`. */
  @Column({ type: 'varchar', length: LIMITS.phone, nullable: true })
  phone!: string | null;

  /**
   * When the user proved `email` is theirs, with a code sent there; null when nobody did (an
   * address set by a backend key). Text written with a user token goes only to proven addresses.
   */
  @Column({ type: 'timestamptz', precision: 3, nullable: true })
  emailVerifiedAt!: Date | null;

  /** When the user proved `phone` is theirs, with a code sent by SMS; null when nobody did. */
  @Column({ type: 'timestamptz', precision: 3, nullable: true })
  phoneVerifiedAt!: Date | null;

  /** BCP 47 tag whose language has templates (`fr`, `en`, `fr-BE`, ...). */
  @Column({ type: 'varchar', length: LIMITS.locale, default: 'fr' })
  locale!: string;

  /** IANA time zone name. */
  @Column({ type: 'varchar', length: LIMITS.timezone, default: 'Europe/Paris' })
  timezone!: string;

  /**
   * Quiet hours, `HH:MM` in the user's time zone: SMS and push wait for the end of the window
   * (email too when `quietHoursEmail`). Both null: no quiet hours. The API gives new users
   * `DEFAULT_QUIET_HOURS`.
   */
  @Column({ type: 'varchar', length: 5, nullable: true })
  quietHoursStart!: string | null;

  @Column({ type: 'varchar', length: 5, nullable: true })
  quietHoursEnd!: string | null;

  @Column({ type: 'boolean', default: false })
  quietHoursEmail!: boolean;

  /** Set when the user unsubscribed from email (the link in every email); only critical notices still go. */
  @Column({ type: 'timestamptz', precision: 3, nullable: true })
  emailOptedOutAt!: Date | null;

  /** Set when the user answered STOP to an SMS; only critical notices still go. */
  @Column({ type: 'timestamptz', precision: 3, nullable: true })
  smsOptedOutAt!: Date | null;

  @CreateDateColumn({ type: 'timestamptz', precision: 3 })
  createdAt!: Date;

  @UpdateDateColumn({ type: 'timestamptz', precision: 3 })
  updatedAt!: Date;
}
