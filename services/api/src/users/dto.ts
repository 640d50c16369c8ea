import { CHANNELS, LIMITS } from '@notofine/db';
import { TIME_OF_DAY } from '@notofine/notifications';
import { Type } from 'class-transformer';
import { IsBoolean, IsEmail, IsObject, IsOptional, IsString, Matches, ValidateNested } from 'class-validator';
import { MaxCharacters, OmittableNotNull, Required, Rules } from '../http/decorators';

const FullName = () =>
  Rules(
    IsString({ message: 'must be a string' }),
    Matches(/\S/, { message: 'must not be blank' }),
    MaxCharacters(LIMITS.fullName, { message: `must be at most ${LIMITS.fullName} characters` }),
  );
const Email = () =>
  Rules(
    IsString({ message: 'must be a string' }),
    MaxCharacters(LIMITS.email, { message: `must be at most ${LIMITS.email} characters` }),
    IsEmail({}, { message: 'must be an email address such as jean@example.com' }),
  );
/** E.164 or national format; the use case normalizes it to E.164. */
const Phone = () => Rules(IsString({ message: 'must be a string' }), MaxCharacters(32, { message: 'must be at most 32 characters' }));
/** Checked and normalized by the use case. */
const Text = () => IsString({ message: 'must be a string' });

const TIME_RULE = 'must be a time of day HH:MM, such as 21:00';

/** A daily window when SMS and push wait (email too with `email: true`), in the user's time zone. */
export class QuietHoursBody {
  @Required() @IsString({ message: TIME_RULE }) @Matches(TIME_OF_DAY, { message: TIME_RULE }) start!: string;
  @Required() @IsString({ message: TIME_RULE }) @Matches(TIME_OF_DAY, { message: TIME_RULE }) end!: string;
  @OmittableNotNull() @IsBoolean({ message: 'must be true or false' }) email?: boolean;
}

/** `null` removes the quiet hours; absent keeps them (21:00 to 08:00 for a new user). */
const QuietHours = () =>
  Rules(IsOptional(), IsObject({ message: 'must be an object such as {"start": "21:00", "end": "08:00"}, or null' }), ValidateNested(), Type(() => QuietHoursBody));

/** Subscribes a user again to a channel they unsubscribed from (`false`), or unsubscribes them (`true`). */
export class OptOutSwitches {
  @OmittableNotNull() @IsBoolean({ message: 'must be true or false' }) email?: boolean;
  @OmittableNotNull() @IsBoolean({ message: 'must be true or false' }) sms?: boolean;
}

export class CreateUserBody {
  @Required() @FullName() full_name!: string;
  @IsOptional() @Email() email?: string | null;
  @IsOptional() @Phone() phone?: string | null;
  @OmittableNotNull() @Text() locale?: string;
  @OmittableNotNull() @Text() timezone?: string;
  @QuietHours() quiet_hours?: QuietHoursBody | null;
}

/** Every field optional; `null` removes an email or phone. */
export class UpdateUserBody {
  @OmittableNotNull() @FullName() full_name?: string;
  @IsOptional() @Email() email?: string | null;
  @IsOptional() @Phone() phone?: string | null;
  @OmittableNotNull() @Text() locale?: string;
  @OmittableNotNull() @Text() timezone?: string;
  @QuietHours() quiet_hours?: QuietHoursBody | null;
  @OmittableNotNull() @IsObject({ message: 'must be an object such as {"email": false}' }) @ValidateNested() @Type(() => OptOutSwitches) opted_out?: OptOutSwitches;
}

const Switch = () => Rules(OmittableNotNull(), IsBoolean({ message: 'must be true or false' }));

export class ChannelSwitches {
  @Switch() email?: boolean;
  @Switch() sms?: boolean;
  @Switch() push?: boolean;
}

export class PreferencesBody {
  @Required(`is required: an object such as {"${CHANNELS.join('": true, "')}": true}`)
  @IsObject({ message: `must be an object such as {"email": true, "sms": false}` })
  @ValidateNested()
  @Type(() => ChannelSwitches)
  channels!: ChannelSwitches;
}
