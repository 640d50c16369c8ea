import { ValidateIf } from 'class-validator';

/**
 * The field may be left out, but not sent as `null` (unlike `@IsOptional()`, which lets `null`
 * through): for fields that cannot be empty.
 */
export function OmittableNotNull(): PropertyDecorator {
  return ValidateIf((_object, value) => value !== undefined);
}
