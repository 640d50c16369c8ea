import { Check, Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn, UpdateDateColumn } from 'typeorm';
import { LIMITS, TICKET_STATUSES, sqlList, type TicketStatus } from './channel';
import { User } from './user';

/** A traffic ticket ("contravention") a user has to pay. */
@Entity({ name: 'tickets' })
@Check('CHK_tickets_status', `"status" IN (${sqlList(TICKET_STATUSES)})`)
@Check('CHK_tickets_amount_cents', `"amount_cents" >= 0`)
@Index('UQ_tickets_user_reference', ['userId', 'reference'], { unique: true })
export class Ticket {
  @PrimaryGeneratedColumn('identity', { type: 'bigint', generatedIdentity: 'BY DEFAULT' })
  id!: number;

  @Column({ type: 'bigint' })
  userId!: number;

  /** The ticket's number as printed, e.g. `ABC123`. */
  @Column({ type: 'varchar', length: LIMITS.ticketReference })
  reference!: string;

  @Column({ type: 'integer' })
  amountCents!: number;

  /** `YYYY-MM-DD` */
  @Column({ type: 'date' })
  dueDate!: string;

  @Column({ type: 'varchar', length: 16, default: 'unpaid' })
  status!: TicketStatus;

  @CreateDateColumn({ type: 'timestamptz', precision: 3 })
  createdAt!: Date;

  @UpdateDateColumn({ type: 'timestamptz', precision: 3 })
  updatedAt!: Date;

  @ManyToOne(() => User, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'user_id' })
  user?: User;
}
