import { CHANNELS, LIMITS } from '@notofine/db';
import { Type } from 'class-transformer';
import { IsBoolean, IsDefined, IsEmail, IsObject, IsOptional, IsString, Matches, ValidateNested } from 'class-validator';
import { MaxCharacters, OmittableNotNull } from '../http/decorators';

const NOT_BLANK = /\S/;

export class CreateUserBody {
  @IsDefined({ message: 'is required' })
  @IsString({ message: 'must be a string' })
  @Matches(NOT_BLANK, { message: 'must not be blank' })
  @MaxCharacters(LIMITS.fullName, { message: `must be at most ${LIMITS.fullName} characters` })
  full_name!: string;

  @IsOptional()
  @IsString({ message: 'must be a string' })
  @MaxCharacters(LIMITS.email, { message: `must be at most ${LIMITS.email} characters` })
  @IsEmail({}, { message: 'must be an email address such as jean@example.com' })
  email?: string | null;

  /** E.164 or national format; normalized to E.164. */
  @IsOptional()
  @IsString({ message: 'must be a string' })
  @MaxCharacters(32, { message: 'must be at most 32 characters' })
  phone?: string | null;

  @OmittableNotNull()
  @IsString({ message: 'must be a string' })
  locale?: string;

  @OmittableNotNull()
  @IsString({ message: 'must be a string' })
  timezone?: string;
}

/** Every field optional; `null` removes an email or phone. */
export class UpdateUserBody {
  @OmittableNotNull()
  @IsString({ message: 'must be a string' })
  @Matches(NOT_BLANK, { message: 'must not be blank' })
  @MaxCharacters(LIMITS.fullName, { message: `must be at most ${LIMITS.fullName} characters` })
  full_name?: string;

  @IsOptional()
  @IsString({ message: 'must be a string' })
  @MaxCharacters(LIMITS.email, { message: `must be at most ${LIMITS.email} characters` })
  @IsEmail({}, { message: 'must be an email address such as jean@example.com' })
  email?: string | null;

  @IsOptional()
  @IsString({ message: 'must be a string' })
  @MaxCharacters(32, { message: 'must be at most 32 characters' })
  phone?: string | null;

  @OmittableNotNull()
  @IsString({ message: 'must be a string' })
  locale?: string;

  @OmittableNotNull()
  @IsString({ message: 'must be a string' })
  timezone?: string;
}

export class ChannelSwitches {
  @OmittableNotNull()
  @IsBoolean({ message: 'must be true or false' })
  email?: boolean;

  @OmittableNotNull()
  @IsBoolean({ message: 'must be true or false' })
  sms?: boolean;

  @OmittableNotNull()
  @IsBoolean({ message: 'must be true or false' })
  push?: boolean;
}

export class PreferencesBody {
  @IsDefined({ message: `is required: an object such as {"${CHANNELS.join('": true, "')}": true}` })
  @IsObject({ message: `must be an object such as {"email": true, "sms": false}` })
  @ValidateNested()
  @Type(() => ChannelSwitches)
  channels!: ChannelSwitches;
}
