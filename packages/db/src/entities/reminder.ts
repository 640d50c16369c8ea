import {
  Check,
  Column,
  CreateDateColumn,
  Entity,
  Index,
  JoinColumn,
  ManyToOne,
  OneToMany,
  PrimaryGeneratedColumn,
  UpdateDateColumn,
} from 'typeorm';
import { LIMITS } from './channel';
import { ReminderChannel } from './reminder-channel';
import { Ticket } from './ticket';
import { User } from './user';

/** A recurring reminder: every `frequencyDays`, one notification per enabled channel. */
@Entity({ name: 'reminders' })
@Check('CHK_reminders_frequency_days', `"frequency_days" BETWEEN ${LIMITS.frequencyDays.min} AND ${LIMITS.frequencyDays.max}`)
@Index('IDX_reminders_user_id', ['userId'])
@Index('IDX_reminders_due', ['nextRunAt'], { where: '"active"' })
@Index('IDX_reminders_ticket_id', ['ticketId'], { where: '"ticket_id" IS NOT NULL' })
export class Reminder {
  @PrimaryGeneratedColumn('identity', { type: 'bigint', generatedIdentity: 'BY DEFAULT' })
  id!: number;

  @Column({ type: 'bigint' })
  userId!: number;

  @Column({ type: 'integer' })
  frequencyDays!: number;

  @Column({ type: 'boolean', default: true })
  active!: boolean;

  /** Sent as is when set; otherwise a summary of the user's unpaid tickets is sent. */
  @Column({ type: 'varchar', length: LIMITS.message, nullable: true })
  message!: string | null;

  @Column({ type: 'varchar', length: LIMITS.subject, nullable: true })
  subject!: string | null;

  /**
   * Its `message` or `subject` was written with a user token: that text goes only to addresses
   * the user proved (push devices count as proven).
   */
  @Column({ type: 'boolean', default: false })
  textFromUserToken!: boolean;

  /** When the reminder is next due; a new reminder is due at once. */
  @Column({ type: 'timestamptz', precision: 3, default: () => 'now()' })
  nextRunAt!: Date;

  @Column({ type: 'timestamptz', precision: 3, nullable: true })
  lastRunAt!: Date | null;

  /** The ticket it is about: it stops once that ticket is paid or cancelled. */
  @Column({ type: 'bigint', nullable: true })
  ticketId!: number | null;

  /** It stops at this time. */
  @Column({ type: 'timestamptz', precision: 3, nullable: true })
  endAt!: Date | null;

  @CreateDateColumn({ type: 'timestamptz', precision: 3 })
  createdAt!: Date;

  @UpdateDateColumn({ type: 'timestamptz', precision: 3 })
  updatedAt!: Date;

  @ManyToOne(() => User, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'user_id' })
  user?: User;

  @ManyToOne(() => Ticket, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'ticket_id' })
  ticket?: Ticket | null;

  @OneToMany(() => ReminderChannel, (channel) => channel.reminder)
  channels?: ReminderChannel[];
}
