import { CHANNELS, LIMITS } from '@notofine/db';
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

export class CreateUserBody {
  @Required() @FullName() full_name!: string;
  @IsOptional() @Email() email?: string | null;
  @IsOptional() @Phone() phone?: string | null;
  @OmittableNotNull() @Text() locale?: string;
  @OmittableNotNull() @Text() timezone?: string;
}

/** Every field optional; `null` removes an email or phone. */
export class UpdateUserBody {
  @OmittableNotNull() @FullName() full_name?: string;
  @IsOptional() @Email() email?: string | null;
  @IsOptional() @Phone() phone?: string | null;
  @OmittableNotNull() @Text() locale?: string;
  @OmittableNotNull() @Text() timezone?: string;
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
