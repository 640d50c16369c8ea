import { DEVICE_PLATFORMS, LIMITS, type DevicePlatform } from '@notofine/db';
import { IsIn, IsString, Matches, MaxLength } from 'class-validator';
import { Required } from '../http/decorators';

export class RegisterDeviceBody {
  /** The FCM registration token: printable ASCII, about 160 characters for FCM. */
  @Required()
  @IsString({ message: 'must be a string' })
  @Matches(/^[\x21-\x7e]+$/, { message: 'must be a registration token: printable ASCII characters, without spaces' })
  @MaxLength(LIMITS.deviceToken, { message: `must be at most ${LIMITS.deviceToken} characters` })
  token!: string;

  @Required()
  @IsIn(DEVICE_PLATFORMS, { message: `must be one of ${DEVICE_PLATFORMS.join(', ')}` })
  platform!: DevicePlatform;
}
