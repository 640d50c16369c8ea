import { CHANNELS, LIMITS, type Channel } from '@notofine/db';
import { ArrayMaxSize, ArrayNotEmpty, ArrayUnique, IsArray, IsBoolean, IsIn, IsOptional } from 'class-validator';
import { IntegerBetween, MessageRules, OmittableNotNull, Required, Rules, SubjectRules } from '../http/decorators';

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

export class CreateReminderBody {
  @Required() @FrequencyDays() frequency_days!: number;
  @Required() @Channels() channels!: Channel[];
  /** Sent as is; without it, the reminder sends a summary of the user's unpaid tickets. */
  @IsOptional() @MessageRules() message?: string | null;
  @IsOptional() @SubjectRules() subject?: string | null;
  @OmittableNotNull() @Active() active?: boolean;
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
}
