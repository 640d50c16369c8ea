import { CHANNELS, LIMITS, type Channel } from '@notofine/db';
import {
  ArrayMaxSize,
  ArrayNotEmpty,
  ArrayUnique,
  IsArray,
  IsBoolean,
  IsDefined,
  IsIn,
  IsInt,
  IsOptional,
  IsString,
  Matches,
  Max,
  Min,
} from 'class-validator';
import { MaxCharacters, OmittableNotNull } from '../http/decorators';

const FREQUENCY_MESSAGE = `must be a whole number of days between ${LIMITS.frequencyDays.min} and ${LIMITS.frequencyDays.max}`;
const CHANNELS_MESSAGE = `must be a non-empty list of distinct channels among ${CHANNELS.join(', ')}`;

export class CreateReminderBody {
  @IsDefined({ message: 'is required' })
  @IsInt({ message: FREQUENCY_MESSAGE })
  @Min(LIMITS.frequencyDays.min, { message: FREQUENCY_MESSAGE })
  @Max(LIMITS.frequencyDays.max, { message: FREQUENCY_MESSAGE })
  frequency_days!: number;

  @IsDefined({ message: 'is required' })
  @IsArray({ message: CHANNELS_MESSAGE })
  @ArrayNotEmpty({ message: CHANNELS_MESSAGE })
  @ArrayMaxSize(CHANNELS.length, { message: CHANNELS_MESSAGE })
  @ArrayUnique({ message: 'must not list a channel twice' })
  @IsIn(CHANNELS, { each: true, message: `must only hold ${CHANNELS.join(', ')}` })
  channels!: Channel[];

  /** Sent as is; without it, the reminder sends a summary of the user's unpaid tickets. */
  @IsOptional()
  @IsString({ message: 'must be a string' })
  @Matches(/\S/, { message: 'must not be blank' })
  @MaxCharacters(LIMITS.message, { message: `must be at most ${LIMITS.message} characters` })
  message?: string | null;

  @IsOptional()
  @IsString({ message: 'must be a string' })
  @MaxCharacters(LIMITS.subject, { message: `must be at most ${LIMITS.subject} characters` })
  subject?: string | null;

  @OmittableNotNull()
  @IsBoolean({ message: 'must be true or false' })
  active?: boolean;
}

export class UpdateReminderBody {
  @OmittableNotNull()
  @IsInt({ message: FREQUENCY_MESSAGE })
  @Min(LIMITS.frequencyDays.min, { message: FREQUENCY_MESSAGE })
  @Max(LIMITS.frequencyDays.max, { message: FREQUENCY_MESSAGE })
  frequency_days?: number;

  /** The reminder's channels become exactly these; the others are disabled. */
  @OmittableNotNull()
  @IsArray({ message: CHANNELS_MESSAGE })
  @ArrayNotEmpty({ message: CHANNELS_MESSAGE })
  @ArrayMaxSize(CHANNELS.length, { message: CHANNELS_MESSAGE })
  @ArrayUnique({ message: 'must not list a channel twice' })
  @IsIn(CHANNELS, { each: true, message: `must only hold ${CHANNELS.join(', ')}` })
  channels?: Channel[];

  /** `null` goes back to the unpaid-tickets summary. */
  @IsOptional()
  @IsString({ message: 'must be a string' })
  @Matches(/\S/, { message: 'must not be blank' })
  @MaxCharacters(LIMITS.message, { message: `must be at most ${LIMITS.message} characters` })
  message?: string | null;

  @IsOptional()
  @IsString({ message: 'must be a string' })
  @MaxCharacters(LIMITS.subject, { message: `must be at most ${LIMITS.subject} characters` })
  subject?: string | null;

  @OmittableNotNull()
  @IsBoolean({ message: 'must be true or false' })
  active?: boolean;
}
