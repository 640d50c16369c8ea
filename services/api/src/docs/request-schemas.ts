import { defaultMetadataStorage } from 'class-transformer/cjs/storage';
import { getMetadataStorage, IS_BOOLEAN, IS_ISO8601, IS_STRING, MAX, MIN, ValidationTypes } from 'class-validator';
import type { ValidationMetadata } from 'class-validator/types/metadata/ValidationMetadata';
import { targetConstructorToSchema } from 'class-validator-jsonschema';
import type { ISchemaConverters } from 'class-validator-jsonschema/build/defaultConverters';
import type { SchemaObject } from 'openapi3-ts/oas31';
import { nullable, type DtoClass } from './operation';

export const SCHEMA_PREFIX = '#/components/schemas/';

/**
 * Our own validators, and those whose stock schema says less or more than they check. An unknown
 * custom validator fails the build of the document: a rule the document cannot state would let
 * it promise what the API refuses.
 */
const converters: ISchemaConverters = {
  // Counts code points, as JSON Schema's maxLength does.
  maxCharacters: (meta) => ({ type: 'string', maxLength: meta.constraints[0] as number }),
  isCalendarDate: { type: 'string', format: 'date' },
  // Rules between a send's fields, which a schema of one field cannot state: the field's
  // description (its rules' messages) says them.
  templateOrMessage: {},
  dataOfTemplate: {},
  notOwnChannel: {},
  withinAYear: {},
  // Offsets and seconds are checked by the rule's pattern; the stock schema's formats demand seconds.
  [IS_ISO8601]: { type: 'string' },
  // The stock schemas add `type: number`, which would override `integer`.
  [MIN]: (meta) => ({ minimum: meta.constraints[0] as number }),
  [MAX]: (meta) => ({ maximum: meta.constraints[0] as number }),
  // `required` says it; the stock `not: {type: null}` says nothing more.
  [ValidationTypes.IS_DEFINED]: {},
  [ValidationTypes.CUSTOM_VALIDATION]: (meta) => {
    throw new Error(`The OpenAPI document has no schema for the validator "${meta.type}" of ${targetName(meta)}.${meta.propertyName}: add one in docs/request-schemas.ts.`);
  },
};

/**
 * JSON Schemas of request bodies, generated from the class-validator decorators that
 * `parseBody` applies: the document cannot drift from the validation. Nested classes are
 * included, referenced as `#/components/schemas/<class name>`. Fields that take `null`
 * (`@IsOptional()`) say so, unknown fields are refused (`additionalProperties: false`), and each
 * field is described by the messages of its rules.
 *
 * @throws when two classes have the same name, or a validator has no schema
 */
export function requestSchemas(dtos: readonly DtoClass[]): Record<string, SchemaObject> {
  const schemas: Record<string, SchemaObject> = {};
  const seen = new Map<string, DtoClass>();
  const pending = [...dtos];
  for (let dto = pending.pop(); dto; dto = pending.pop()) {
    const known = seen.get(dto.name);
    if (known === dto) continue;
    if (known) throw new Error(`Two request classes are named ${dto.name}: the OpenAPI document names schemas by class.`);
    seen.set(dto.name, dto);
    schemas[dto.name] = schemaOf(dto);
    pending.push(...nestedClasses(dto));
  }
  return Object.fromEntries(Object.entries(schemas).sort(([a], [b]) => a.localeCompare(b)));
}

function schemaOf(dto: DtoClass): SchemaObject {
  const generated = targetConstructorToSchema(dto, {
    refPointerPrefix: SCHEMA_PREFIX,
    classTransformerMetadataStorage: defaultMetadataStorage,
    additionalConverters: converters,
  }) as SchemaObject;
  const rules = metadataOf(dto);
  const properties = Object.fromEntries(
    Object.entries(generated.properties ?? {}).map(([name, property]) => {
      const own = rules.filter((rule) => rule.propertyName === name);
      const schema = own.some((rule) => rule.name === 'isOptional') ? nullable(property) : property;
      return [name, { ...schema, ...descriptionOf(own) }];
    }),
  );
  return { ...generated, properties, additionalProperties: false };
}

function metadataOf(dto: DtoClass): ValidationMetadata[] {
  return getMetadataStorage().getTargetValidationMetadatas(dto, '', true, false);
}

/** Rules whose messages say no more than the schema's `type` and `required`. */
const SAID_BY_THE_SCHEMA = new Set<string>([ValidationTypes.IS_DEFINED, ValidationTypes.CONDITIONAL_VALIDATION, ValidationTypes.NESTED_VALIDATION, IS_STRING, IS_BOOLEAN]);

/** The messages of a field's rules, which say what it must be ("must be 1 to 1600 characters"). */
function descriptionOf(rules: readonly ValidationMetadata[]): { description?: string } {
  const messages = rules
    .filter((rule) => !SAID_BY_THE_SCHEMA.has(rule.name ?? rule.type) && !SAID_BY_THE_SCHEMA.has(rule.type))
    .map((rule) => rule.message)
    .filter((message): message is string => typeof message === 'string');
  const unique = [...new Set(messages)];
  return unique.length > 0 ? { description: `${unique.join('; ')}.` } : {};
}

/** The classes of `@ValidateNested()` fields, by their `@Type()` (or their declared type). */
function nestedClasses(dto: DtoClass): DtoClass[] {
  return metadataOf(dto)
    .filter((rule) => rule.type === ValidationTypes.NESTED_VALIDATION)
    .map((rule) => {
      const typed = defaultMetadataStorage.findTypeMetadata(dto, rule.propertyName);
      const type: unknown = typed ? typed.typeFunction() : Reflect.getMetadata('design:type', dto.prototype as object, rule.propertyName);
      if (typeof type !== 'function' || type === Object || type === Array) {
        throw new Error(`${dto.name}.${rule.propertyName} is validated as nested, but names no class: add @Type(() => TheClass).`);
      }
      return type as DtoClass;
    });
}

function targetName(meta: ValidationMetadata): string {
  return typeof meta.target === 'function' ? meta.target.name : String(meta.target);
}
