import { CHANNELS, LIMITS, type Channel } from '@notofine/db';
import { ArrayMaxSize, ArrayNotEmpty, ArrayUnique, IsArray, IsBoolean, IsIn, IsISO8601, IsOptional, Matches } from 'class-validator';
import { IdRules, IntegerBetween, MessageRules, OmittableNotNull, Required, Rules, SubjectRules } from '../http/decorators';

const CHANNELS_MESSAGE = `must be a non-empty list of distinct channels among ${CHANNELS.join(', ')}`;

const FrequencyDays = () =>
  IntegerBetween(LIMITS.frequencyDays.min, LIMITS.frequencyDays.max, `must be a whole number of days between ${LIMITS.frequencyDays.min} and ${LIMITS.frequencyDays.max}`);
const Channels = () =>
  Rules(
    IsArray({ message: CHANNELS_MESSAGE }),
    ArrayNotEmpty({ message: CHANNELS_MESSAGE }),
    ArrayMaxSize(CHANNELS.length, { message: CHANNELS_MESSAGE }),
    ArrayUnique({ message: 'must not list a channel twice' }),
    IsIn(CHANNELS, { each: true, message: `must only hold ${CHANNELS.join(', ')}` }),
  );
const Active = () => IsBoolean({ message: 'must be true or false' });
const END_AT_RULE = 'must be a date-time with its offset, such as 2026-12-31T23:59:00+01:00';
const EndAt = () => Rules(IsISO8601({ strict: true, strictSeparator: true }, { message: END_AT_RULE }), Matches(/(Z|[+-]\d{2}:\d{2})$/, { message: END_AT_RULE }));

export class CreateReminderBody {
  @Required() @FrequencyDays() frequency_days!: number;
  @Required() @Channels() channels!: Channel[];
  /** Sent as is; without it, the reminder sends a summary of the user's unpaid tickets. */
  @IsOptional() @MessageRules() message?: string | null;
  @IsOptional() @SubjectRules() subject?: string | null;
  @OmittableNotNull() @Active() active?: boolean;
  /** The ticket it is about: it stops once that ticket is paid or cancelled, and speaks of that ticket only. */
  @IsOptional() @IdRules() ticket_id?: number | null;
  /** It stops then. */
  @IsOptional() @EndAt() end_at?: string | null;
}

/** Every field optional. */
export class UpdateReminderBody {
  @OmittableNotNull() @FrequencyDays() frequency_days?: number;
  /** The reminder's channels become exactly these; the others are disabled. */
  @OmittableNotNull() @Channels() channels?: Channel[];
  /** `null` goes back to the unpaid-tickets summary. */
  @IsOptional() @MessageRules() message?: string | null;
  @IsOptional() @SubjectRules() subject?: string | null;
  @OmittableNotNull() @Active() active?: boolean;
  /** `null` removes the end. */
  @IsOptional() @EndAt() end_at?: string | null;
}
