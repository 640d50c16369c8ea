import { CreateDateColumn, Entity, PrimaryColumn } from 'typeorm';

/**
 * An SMS reply (STOP, START) already applied, by the provider's id of the inbound message. A
 * signed request can be captured and sent again (Twilio's signature has no timestamp): a START
 * replayed after a STOP would subscribe the number again. The provider's id makes any copy a
 * no-op. No phone number and no text are kept.
 */
@Entity({ name: 'sms_replies' })
export class SmsReply {
  /** `vonage`, `twilio`. */
  @PrimaryColumn({ type: 'varchar', length: 32 })
  provider!: string;

  /** Vonage's `messageId`, Twilio's `MessageSid`. */
  @PrimaryColumn({ type: 'varchar', length: 255 })
  messageId!: string;

  @CreateDateColumn({ type: 'timestamptz', precision: 3 })
  receivedAt!: Date;
}
