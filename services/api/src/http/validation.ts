import { ValidationError, type FieldError } from '@notofine/errors';
import { plainToInstance, type ClassConstructor } from 'class-transformer';
import { getMetadataStorage, validate, type ValidationError as ClassValidatorError } from 'class-validator';

/** A DTO class, as class-validator's metadata knows it. */
type DtoClass = new (...args: never[]) => object;

/** Keys that could reach an object's prototype; refused anywhere in a body. */
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/**
 * Validates a JSON body against a DTO class (class-validator decorators) and returns the typed
 * instance. Unknown fields are refused, nothing is coerced (`"7"` is not a number), and every
 * problem is reported with the path of its field.
 *
 * @throws {@link ValidationError} listing each invalid field
 */
export async function parseBody<T extends object>(dto: ClassConstructor<T>, body: unknown): Promise<T> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new ValidationError('The request body must be a JSON object (send it with Content-Type: application/json).');
  }
  const forbidden = findForbiddenKey(body, '');
  if (forbidden) throw ValidationError.forField(forbidden, 'is not an allowed field name');
  const list = findListForObject(dto, body, '');
  if (list) throw ValidationError.forField(list, 'must be an object, not a list');

  const instance = plainToInstance(dto, body);
  const errors = await validate(instance, {
    whitelist: true,
    forbidNonWhitelisted: true,
    forbidUnknownValues: true,
    validationError: { target: false, value: false },
  });
  if (errors.length > 0) throw validationErrorOf(flatten(errors, dto, ''));
  // Class fields exist on every instance, undefined when not sent: drop those, so that the keys of
  // the result are the fields the client sent (an empty PATCH is told apart from a real one).
  for (const [key, value] of Object.entries(instance)) {
    if (value === undefined) delete (instance as Record<string, unknown>)[key];
  }
  return instance;
}

/** A positive integer id from a path parameter. */
export function parseId(value: string | string[] | undefined, name: string): number {
  if (typeof value !== 'string' || !/^[1-9]\d{0,15}$/.test(value) || Number(value) > Number.MAX_SAFE_INTEGER) {
    throw ValidationError.forField(`path.${name}`, `must be a positive whole number (got "${String(value).slice(0, 40)}")`);
  }
  return Number(value);
}

/** An optional integer query parameter within bounds. */
export function parseIntegerQuery(value: unknown, name: string, bounds: { min: number; max: number; default: number }): number {
  if (value === undefined) return bounds.default;
  if (typeof value !== 'string' || !/^\d{1,9}$/.test(value) || Number(value) < bounds.min || Number(value) > bounds.max) {
    throw ValidationError.forField(`query.${name}`, `must be a whole number between ${bounds.min} and ${bounds.max}`);
  }
  return Number(value);
}

/** An optional string query parameter (given once). */
export function parseStringQuery(value: unknown, name: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw ValidationError.forField(`query.${name}`, 'must be given once, as a string');
  return value;
}

/** Throws a single {@link ValidationError} whose detail lists every field error. */
export function validationErrorOf(errors: readonly FieldError[]): ValidationError {
  const detail = errors.map((error) => `${error.field} ${error.message}`).join('; ');
  return new ValidationError(`${errors.length === 1 ? 'Invalid field' : `${errors.length} invalid fields`}: ${detail}.`, errors);
}

function findForbiddenKey(value: unknown, path: string): string | null {
  if (typeof value !== 'object' || value === null) return null;
  for (const key of Object.keys(value)) {
    const field = path ? `${path}.${key}` : key;
    if (FORBIDDEN_KEYS.has(key)) return field;
    const nested = findForbiddenKey((value as Record<string, unknown>)[key], field);
    if (nested) return nested;
  }
  return null;
}

/** class-transformer throws when a list comes where a nested DTO is expected: find it first. */
function findListForObject(dto: DtoClass, body: object, path: string): string | null {
  for (const [key, value] of Object.entries(body)) {
    const nested = childDto(dto, key);
    if (!nested) continue;
    const field = path ? `${path}.${key}` : key;
    if (Array.isArray(value)) return field;
    const deeper = typeof value === 'object' && value !== null ? findListForObject(nested, value, field) : null;
    if (deeper) return deeper;
  }
  return null;
}

function knownFields(dto: DtoClass): string[] {
  const metadata = getMetadataStorage().getTargetValidationMetadatas(dto, '', true, false);
  return [...new Set(metadata.map((m) => m.propertyName))];
}

function flatten(errors: readonly ClassValidatorError[], dto: DtoClass | undefined, path: string): FieldError[] {
  return errors.flatMap((error) => {
    const field = /^\d+$/.test(error.property) ? `${path}[${error.property}]` : path ? `${path}.${error.property}` : error.property;
    const constraints = error.constraints ?? {};
    let own: FieldError[];
    if (constraints.whitelistValidation) {
      const known = dto ? knownFields(dto) : [];
      own = [{ field, message: `is not a known field${known.length ? ` (known fields: ${known.join(', ')})` : ''}` }];
    } else if (constraints.isDefined) {
      // A missing field fails every other check too: say only that it is missing.
      own = [{ field, message: constraints.isDefined }];
    } else {
      // Two checks of one rule (a format and its pattern) say the same thing: once is enough.
      own = [...new Set(Object.values(constraints))].map((message) => ({ field, message }));
    }
    const nestedDto = error.children?.length ? childDto(dto, error.property) : undefined;
    return [...own, ...flatten(error.children ?? [], nestedDto, field)];
  });
}

/** The DTO class of a nested property, from class-transformer's `@Type` metadata. */
function childDto(dto: DtoClass | undefined, property: string): DtoClass | undefined {
  if (!dto) return undefined;
  const designType: unknown = Reflect.getMetadata('design:type', dto.prototype as object, property);
  return typeof designType === 'function' && designType !== Object && designType !== Array ? (designType as DtoClass) : undefined;
}
