import { Check, Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn } from 'typeorm';
import { CHANNELS, sqlList, type Channel } from './channel';
import { Reminder } from './reminder';

@Entity({ name: 'reminder_channels' })
@Check('CHK_reminder_channels_channel', `"channel" IN (${sqlList(CHANNELS)})`)
@Index('UQ_reminder_channels_reminder_channel', ['reminderId', 'channel'], { unique: true })
export class ReminderChannel {
  @PrimaryGeneratedColumn('identity', { type: 'bigint', generatedIdentity: 'BY DEFAULT' })
  id!: number;

  @Column({ type: 'bigint' })
  reminderId!: number;

  @Column({ type: 'varchar', length: 16 })
  channel!: Channel;

  @Column({ type: 'boolean', default: true })
  enabled!: boolean;

  @CreateDateColumn({ type: 'timestamptz', precision: 3 })
  createdAt!: Date;

  @ManyToOne(() => Reminder, (reminder) => reminder.channels, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'reminder_id' })
  reminder?: Reminder;
}
