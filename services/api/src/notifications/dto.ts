import { CHANNELS, LIMITS, type Channel } from '@notofine/db';
import { IsDefined, IsIn, IsInt, IsOptional, IsString, Matches, Max, Min } from 'class-validator';
import { MaxCharacters } from '../http/decorators';

const MESSAGE_MESSAGE = `must be 1 to ${LIMITS.message} characters, not blank`;
const ID_MESSAGE = 'must be a positive whole number';

export class SendNotificationBody {
  @IsDefined({ message: 'is required' })
  @IsInt({ message: ID_MESSAGE })
  @Min(1, { message: ID_MESSAGE })
  @Max(Number.MAX_SAFE_INTEGER, { message: ID_MESSAGE })
  user_id!: number;

  @IsDefined({ message: 'is required' })
  @IsString({ message: MESSAGE_MESSAGE })
  @Matches(/\S/, { message: MESSAGE_MESSAGE })
  @MaxCharacters(LIMITS.message, { message: MESSAGE_MESSAGE })
  message!: string;

  @IsDefined({ message: 'is required' })
  @IsIn(CHANNELS, { message: `must be one of ${CHANNELS.join(', ')}` })
  channel!: Channel;

  /** Email subject, push title. */
  @IsOptional()
  @IsString({ message: 'must be a string' })
  @MaxCharacters(LIMITS.subject, { message: `must be at most ${LIMITS.subject} characters` })
  subject?: string | null;

  @IsOptional()
  @IsInt({ message: ID_MESSAGE })
  @Min(1, { message: ID_MESSAGE })
  @Max(Number.MAX_SAFE_INTEGER, { message: ID_MESSAGE })
  ticket_id?: number | null;
}

export class NotifyTicketBody {
  @IsDefined({ message: 'is required' })
  @IsString({ message: MESSAGE_MESSAGE })
  @Matches(/\S/, { message: MESSAGE_MESSAGE })
  @MaxCharacters(LIMITS.message, { message: MESSAGE_MESSAGE })
  message!: string;

  @IsOptional()
  @IsString({ message: 'must be a string' })
  @MaxCharacters(LIMITS.subject, { message: `must be at most ${LIMITS.subject} characters` })
  subject?: string | null;
}
