import { ValidateBy, ValidateIf, type ValidationOptions } from 'class-validator';

/**
 * The field may be left out, but not sent as `null` (unlike `@IsOptional()`, which lets `null`
 * through): for fields that cannot be empty.
 */
export function OmittableNotNull(): PropertyDecorator {
  return ValidateIf((_object, value) => value !== undefined);
}

/**
 * At most `max` characters as PostgreSQL's `varchar(max)` counts them: code points. class-validator's
 * `@MaxLength()` does not count variation selectors (U+FE0F), so a string it accepts could still be
 * too long for the column.
 */
export function MaxCharacters(max: number, options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'maxCharacters',
      constraints: [max],
      validator: { validate: (value: unknown) => typeof value === 'string' && [...value].length <= max },
    },
    options,
  );
}
