import { Check, Column, Entity, JoinColumn, ManyToOne, PrimaryColumn, UpdateDateColumn } from 'typeorm';
import { CHANNELS, sqlList, type Channel } from './channel';
import { User } from './user';

/**
 * A user's choice for one channel, for notifications that are not reminders (reminders carry
 * their own channels). No row means the channel is on.
 */
@Entity({ name: 'user_channel_preferences' })
@Check('CHK_user_channel_preferences_channel', `"channel" IN (${sqlList(CHANNELS)})`)
export class ChannelPreference {
  @PrimaryColumn({ type: 'bigint' })
  userId!: number;

  @PrimaryColumn({ type: 'varchar', length: 16 })
  channel!: Channel;

  @Column({ type: 'boolean' })
  enabled!: boolean;

  @UpdateDateColumn({ type: 'timestamptz', precision: 3 })
  updatedAt!: Date;

  @ManyToOne(() => User, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'user_id' })
  user?: User;
}
