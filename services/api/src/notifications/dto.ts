import { CHANNELS, LIMITS, type Channel } from '@notofine/db';
import { ArrayMaxSize, ArrayUnique, IsArray, IsBoolean, IsIn, IsISO8601, IsOptional, IsString, Matches } from 'class-validator';
import { IdRules, MessageRules, OmittableNotNull, Required, SubjectRules } from '../http/decorators';

const DATE_TIME_RULE = 'must be a date-time with its offset, such as 2026-12-01T09:00:00+01:00';
const DIGEST_KEY_RULE = `must be 1 to ${LIMITS.digestKey} letters, digits, or . _ : -`;

export class SendNotificationBody {
  @Required() @IdRules() user_id!: number;
  @Required() @MessageRules() message!: string;
  @Required() @IsIn(CHANNELS, { message: `must be one of ${CHANNELS.join(', ')}` }) channel!: Channel;
  /** Email subject, push title. */
  @IsOptional() @SubjectRules() subject?: string | null;
  @IsOptional() @IdRules() ticket_id?: number | null;
  /** Not before then; in the past or absent: now. */
  @OmittableNotNull()
  @IsISO8601({ strict: true, strictSeparator: true }, { message: DATE_TIME_RULE })
  @Matches(/T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/, { message: DATE_TIME_RULE })
  send_at?: string;
  /** Goes out even in the user's quiet hours. */
  @OmittableNotNull() @IsBoolean({ message: 'must be true or false' }) urgent?: boolean;
  /** A transactional notice: goes out even where the user unsubscribed. */
  @OmittableNotNull() @IsBoolean({ message: 'must be true or false' }) critical?: boolean;
  /** Channels to try next, in order, if this one ends failed. */
  @OmittableNotNull()
  @IsArray({ message: 'must be a list of channels' })
  @ArrayMaxSize(CHANNELS.length - 1, { message: `must name at most ${CHANNELS.length - 1} channels` })
  @ArrayUnique({ message: 'must not name a channel twice' })
  @IsIn(CHANNELS, { each: true, message: `must list channels among ${CHANNELS.join(', ')}` })
  fallback?: Channel[];
  /** Notifications of the user on the channel with this key, within the digest window, go out as one. */
  @OmittableNotNull() @IsString({ message: DIGEST_KEY_RULE }) @Matches(/^[\w.:-]{1,100}$/, { message: DIGEST_KEY_RULE }) digest_key?: string;
}

export class NotifyTicketBody {
  @Required() @MessageRules() message!: string;
  @IsOptional() @SubjectRules() subject?: string | null;
}
