import type { ApiKeyScope } from '@notofine/db';
import type { HeaderObject, ParameterObject, ReferenceObject, SchemaObject, TagObject } from 'openapi3-ts/oas31';

/** A request body class, validated by `parseBody` with its class-validator decorators. */
export type DtoClass = new (...args: never[]) => object;

export type HttpMethod = 'get' | 'post' | 'put' | 'patch' | 'delete';

/**
 * Who may call an operation, as the route's guards decide:
 * - `open`: anyone (probes, metrics, these docs);
 * - `signed`: anyone holding a request signed by a provider or by us (webhooks, unsubscribe links);
 * - `session`: an operator logged in at /admin/login (a session cookie);
 * - `key`: an API key of `scope` or more, and, when `userToken` is given, user tokens on their own
 *   user (`self`: the path's user; `owned`: the resource is looked up among that user's).
 */
export type Access =
  | { readonly kind: 'open' }
  | { readonly kind: 'signed'; readonly by: string }
  | { readonly kind: 'session' }
  | { readonly kind: 'key'; readonly scope: ApiKeyScope; readonly userToken?: 'self' | 'owned' };

export const OPEN: Access = { kind: 'open' };
export const SESSION: Access = { kind: 'session' };
export const signedBy = (by: string): Access => ({ kind: 'signed', by });
export const apiKey = (scope: ApiKeyScope, userToken?: 'self' | 'owned'): Access => ({ kind: 'key', scope, ...(userToken && { userToken }) });

export type Schema = SchemaObject | ReferenceObject;

/** One answer of an operation: its media types and their schemas, none for an empty body. */
export interface ResponseDoc {
  readonly description: string;
  readonly content?: Readonly<Record<string, Schema>>;
  readonly headers?: Readonly<Record<string, HeaderObject>>;
}

/** The body of a request: a DTO class (its schema is generated from its decorators), or raw media types. */
export type BodyDoc =
  | { readonly dto: DtoClass; readonly required?: boolean; readonly description?: string }
  | { readonly content: Readonly<Record<string, Schema>>; readonly required?: boolean; readonly description?: string };

/**
 * One route as clients see it. Each domain lists its routes in its `openapi.ts`, next to its
 * `routes.ts`; a test compares them with the routes the app registers, both ways.
 */
export interface ApiOperation {
  readonly method: HttpMethod;
  /** The path exactly as the router registers it, e.g. `/users/:userId`. */
  readonly path: string;
  readonly summary: string;
  readonly description?: string;
  readonly access: Access;
  /** Path parameters that are not row ids (those, named `…Id`, need nothing here). */
  readonly pathParams?: Readonly<Record<string, Omit<ParameterObject, 'name' | 'in'>>>;
  readonly query?: Readonly<Record<string, Omit<ParameterObject, 'name' | 'in'>>>;
  readonly body?: BodyDoc;
  /** The answers the route itself gives; those of the middlewares in front of it are added. */
  readonly responses: Readonly<Record<number, ResponseDoc>>;
}

/** A domain's part of the document: its tag, its response schemas, its operations. */
export interface ApiDomain {
  readonly tag: TagObject;
  readonly schemas?: Readonly<Record<string, SchemaObject>>;
  readonly operations: readonly ApiOperation[];
}

/** A reference to a schema of the document's components. */
export const ref = (name: string): ReferenceObject => ({ $ref: `#/components/schemas/${name}` });

/** A JSON answer. */
export const json = (description: string, schema: Schema, headers?: Record<string, HeaderObject>): ResponseDoc => ({
  description,
  content: { 'application/json': schema },
  ...(headers && { headers }),
});

/** A problem+json answer (RFC 9457). */
export const problem = (description: string, headers?: Record<string, HeaderObject>): ResponseDoc => ({
  description,
  content: { 'application/problem+json': ref('Problem') },
  ...(headers && { headers }),
});

/** An HTML page. */
export const html = (description: string): ResponseDoc => ({ description, content: { 'text/html': { type: 'string' } } });

/** An answer without a body. */
export const empty = (description: string, headers?: Record<string, HeaderObject>): ResponseDoc => ({ description, ...(headers && { headers }) });

/** The `Location` header of a created resource. */
export const LOCATION: Record<string, HeaderObject> = { Location: { description: 'The resource\'s path', schema: { type: 'string' } } };

/** `Retry-After`, in seconds. */
export const RETRY_AFTER: Record<string, HeaderObject> = { 'Retry-After': { description: 'Seconds to wait before retrying', schema: { type: 'integer', minimum: 0 } } };

/** The schema, or null. */
export function nullable(schema: Schema): Schema {
  if ('$ref' in schema || schema.type === undefined || schema.enum !== undefined) return { anyOf: [schema, { type: 'null' }] };
  const types = Array.isArray(schema.type) ? schema.type : [schema.type];
  return { ...schema, type: [...types, 'null'] };
}

/** One of these strings. */
export const enumeration = (values: readonly string[], description?: string): SchemaObject => ({ type: 'string', enum: [...values], ...(description && { description }) });
export const DATE_TIME: SchemaObject = { type: 'string', format: 'date-time' };
export const ID: SchemaObject = { type: 'integer', minimum: 1 };

/**
 * An object whose properties are all present (null where there is nothing) and which has no
 * others: the shape of the API's answers, checked against real ones by the tests.
 */
export const record = (properties: Record<string, Schema>, description?: string): SchemaObject => ({
  type: 'object',
  ...(description && { description }),
  properties,
  required: Object.keys(properties),
  additionalProperties: false,
});
