import { LIMITS } from '@notofine/db';
import { IsDefined, IsInt, IsString, Matches, Max, Min, ValidateBy, ValidateIf, type ValidationOptions } from 'class-validator';

/** Several property decorators as one: a field's rules, named once, used in its create and update bodies. */
export function Rules(...decorators: PropertyDecorator[]): PropertyDecorator {
  return (target, property) => {
    for (const decorator of decorators) decorator(target, property);
  };
}

/** The field must be sent. */
export function Required(message = 'is required'): PropertyDecorator {
  return IsDefined({ message });
}

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

/** A whole number within bounds, one message for every way of missing it. */
export function IntegerBetween(min: number, max: number, message: string): PropertyDecorator {
  return Rules(IsInt({ message }), Min(min, { message }), Max(max, { message }));
}

/** A row id: positive, and exact in JavaScript (ids beyond 2^53 would be rounded to another row's). */
export function IdRules(): PropertyDecorator {
  return IntegerBetween(1, Number.MAX_SAFE_INTEGER, 'must be a positive whole number');
}

const MESSAGE_RULE = `must be 1 to ${LIMITS.message} characters, not blank`;

/** A notification's text. */
export function MessageRules(): PropertyDecorator {
  return Rules(IsString({ message: MESSAGE_RULE }), Matches(/\S/, { message: MESSAGE_RULE }), MaxCharacters(LIMITS.message, { message: MESSAGE_RULE }));
}

/** An email subject or push title. */
export function SubjectRules(): PropertyDecorator {
  return Rules(IsString({ message: 'must be a string' }), MaxCharacters(LIMITS.subject, { message: `must be at most ${LIMITS.subject} characters` }));
}
