import type { OpenAPIObject, OperationObject, ParameterObject, PathsObject, ResponseObject, ResponsesObject, SchemaObject, SecurityRequirementObject } from 'openapi3-ts/oas31';
import { SESSION_COOKIE } from '../admin/session';
import { ID, problem, RETRY_AFTER, type Access, type ApiDomain, type ApiOperation, type DtoClass, type ResponseDoc } from './operation';
import { requestSchemas, SCHEMA_PREFIX } from './request-schemas';

export interface DocumentOptions {
  /** The API's version, shown in the document's `info`. */
  readonly version: string;
  /** Where clients reach the API (PUBLIC_BASE_URL); without it, the host that served the document. */
  readonly serverUrl?: string;
}

const DESCRIPTION = `Email, SMS and push notifications for Notofine users: users and their channels, traffic tickets, reminders, and the notifications sent.

JSON in and out, snake_case fields, integer ids. Errors are \`application/problem+json\` (RFC 9457) with a \`detail\` that says what to fix and, for a refused body, the \`errors\` of each field.

Backends call with an **API key** (\`Authorization: Bearer nfk_…\`) of scope \`admin\` or \`send\`; an app acting for one user calls with a **user token** minted by its backend (\`POST /users/{user_id}/tokens\`), which reaches that user's own resources only. Every POST takes an \`Idempotency-Key\`. Every answer carries \`X-Request-Id\` (yours, when you send one), and those of keyed routes \`RateLimit-Limit\`, \`RateLimit-Remaining\` and \`RateLimit-Reset\`.`;

const SECURITY_SCHEMES = {
  apiKey: {
    type: 'http',
    scheme: 'bearer',
    description: 'A backend\'s API key (`nfk_…`, from `npm run api-key -- create`). The operation\'s scopes name the key scope it needs: `admin` reaches every route, `send` the sending and reading ones.',
  },
  userToken: {
    type: 'http',
    scheme: 'bearer',
    bearerFormat: 'JWT',
    description: 'A user token minted by a backend with `POST /users/{user_id}/tokens`: it reaches its own user\'s resources only (another user\'s answer 404, as missing ones do).',
  },
  adminSession: {
    type: 'apiKey',
    in: 'cookie',
    name: SESSION_COOKIE,
    description: 'The operators\' session, set by `POST /admin/login` with an `admin` API key.',
  },
} as const;

const PROBLEM_SCHEMAS: Record<string, SchemaObject> = {
  Problem: {
    type: 'object',
    description: 'An RFC 9457 problem document.',
    properties: {
      type: { type: 'string', pattern: '^/problems/[a-z-]+$', description: 'Stable identifier of the kind of problem, e.g. `/problems/validation-error`.' },
      title: { type: 'string', description: 'The same for every occurrence of the type.' },
      status: { type: 'integer', minimum: 400, maximum: 599 },
      detail: { type: 'string', description: 'This occurrence: what happened and what to fix.' },
      instance: { type: 'string', description: 'The request\'s path.' },
      errors: { type: 'array', items: { $ref: `${SCHEMA_PREFIX}FieldError` }, description: 'Each refused field, for a body or parameter that is not valid.' },
      request_id: { type: 'string', description: 'The request\'s `X-Request-Id`, also on its log lines.' },
    },
    required: ['type', 'title', 'status', 'detail'],
    additionalProperties: false,
  },
  FieldError: {
    type: 'object',
    properties: {
      field: { type: 'string', description: 'The field\'s path: `channels[1]`, `quiet_hours.start`, `query.limit`, `path.user_id`.' },
      message: { type: 'string', description: 'What it must be.' },
    },
    required: ['field', 'message'],
    additionalProperties: false,
  },
};

/** `/users/:userId` → `/users/{user_id}`: the document's path template for a router's path. */
export function openApiPath(expressPath: string): string {
  return expressPath.replace(/:(\w+)/g, (_match, name: string) => `{${snakeCase(name)}}`);
}

/**
 * The OpenAPI 3.1 document of the whole API: each domain's operations, request bodies generated
 * from their class-validator classes, and the answers of the middlewares in front of every keyed
 * route (401, 403, 429, 503; 400, 413, 415 for bodies; 409, 422 for idempotent POSTs), and of the
 * others (400 for a URL or body that cannot be read, 413 for a body over its limit, 503 for a lost
 * database).
 *
 * @throws when two operations share a method and path, or a schema cannot be generated
 */
export function buildOpenApiDocument(domains: readonly ApiDomain[], options: DocumentOptions): OpenAPIObject {
  const paths: PathsObject = {};
  const schemas: Record<string, SchemaObject> = { ...PROBLEM_SCHEMAS };
  const dtos: DtoClass[] = [];
  for (const domain of domains) {
    for (const [name, schema] of Object.entries(domain.schemas ?? {})) {
      if (schemas[name]) throw new Error(`Two schemas are named ${name} in the OpenAPI document.`);
      schemas[name] = schema;
    }
    for (const operation of domain.operations) {
      const path = openApiPath(operation.path);
      const item = (paths[path] ??= {});
      if (item[operation.method]) throw new Error(`${operation.method.toUpperCase()} ${operation.path} is documented twice.`);
      item[operation.method] = operationObject(operation, domain.tag.name);
      if (operation.body && 'dto' in operation.body) dtos.push(operation.body.dto);
    }
  }
  for (const [name, schema] of Object.entries(requestSchemas(dtos))) {
    if (schemas[name]) throw new Error(`The request class ${name} has the name of another schema of the OpenAPI document.`);
    schemas[name] = schema;
  }
  return {
    openapi: '3.1.0',
    info: { title: 'Notofine Notifications API', version: options.version, description: DESCRIPTION, license: { name: 'MIT', identifier: 'MIT' } },
    ...(options.serverUrl && { servers: [{ url: options.serverUrl }] }),
    tags: domains.map((domain) => domain.tag),
    paths,
    components: { schemas, securitySchemes: SECURITY_SCHEMES },
  };
}

function operationObject(operation: ApiOperation, tag: string): OperationObject {
  const parameters = [...pathParameters(operation), ...queryParameters(operation), ...headerParameters(operation)];
  const { body } = operation;
  return {
    tags: [tag],
    operationId: operationId(operation),
    summary: operation.summary,
    description: [operation.description, accessSentence(operation.access)].filter(Boolean).join('\n\n'),
    ...(parameters.length > 0 && { parameters }),
    ...(body && {
      requestBody: {
        required: body.required ?? true,
        ...(body.description && { description: body.description }),
        content: 'dto' in body ? { 'application/json': { schema: { $ref: `${SCHEMA_PREFIX}${body.dto.name}` } } } : mediaTypes(body.content),
      },
    }),
    responses: responsesOf(operation),
    security: securityOf(operation.access),
  };
}

function pathParameters(operation: ApiOperation): ParameterObject[] {
  return [...operation.path.matchAll(/:(\w+)/g)].map(([, name]) => {
    const given = operation.pathParams?.[name!];
    if (!given && !name!.endsWith('Id')) throw new Error(`${operation.method.toUpperCase()} ${operation.path}: describe the path parameter ${name} in pathParams.`);
    return { name: snakeCase(name!), in: 'path', required: true, ...(given ?? { schema: ID, description: 'A row id.' }) };
  });
}

function queryParameters(operation: ApiOperation): ParameterObject[] {
  return Object.entries(operation.query ?? {}).map(([name, parameter]) => ({ name, in: 'query', ...parameter }));
}

function headerParameters(operation: ApiOperation): ParameterObject[] {
  if (operation.method !== 'post' || operation.access.kind !== 'key') return [];
  return [
    {
      name: 'Idempotency-Key',
      in: 'header',
      required: false,
      description: 'Makes a retry safe: the first answer is kept and replayed (with `Idempotent-Replayed: true`) to a retry with the same key and body.',
      schema: { type: 'string', pattern: '^[\\x21-\\x7e]{1,255}$' },
    },
  ];
}

/** The answers of the middlewares in front of keyed routes, added to the route's own. */
function middlewareResponses(operation: ApiOperation): Record<number, ResponseDoc> {
  const { access, method } = operation;
  const responses: Record<number, ResponseDoc> = {};
  const hasBody = operation.body !== undefined || method === 'post' || method === 'put' || method === 'patch';
  // Every route: the URL is checked before any of them (well-formed-url.ts).
  const unreadableUrl = 'a path or query that cannot be read as text (percent-encoding that is not UTF-8, a NUL)';
  if (access.kind !== 'key') {
    const unreadable = [unreadableUrl, operation.body && 'a body holding a NUL, a lone surrogate, a field given twice, or bytes that are not UTF-8 (see `errors`)'].filter(Boolean);
    responses[400] = problem(`Not valid: ${unreadable.join('; ')}.`);
    if (operation.body) responses[413] = problem(access.kind === 'signed' ? 'The body is over HTTP_WEBHOOK_BODY_LIMIT.' : 'The body is over the size limit.');
    // Anything that reads or writes rows.
    if (access.kind !== 'open') responses[503] = problem('PostgreSQL is unavailable: retry after Retry-After.', RETRY_AFTER);
    return responses;
  }
  const malformed = [
    unreadableUrl,
    operation.path.includes(':') && 'a malformed path parameter',
    operation.query ? 'a malformed or unknown query parameter' : 'a query parameter (the route takes none)',
    hasBody &&
      'a body that is not valid (malformed JSON; a missing, malformed or unknown field; a NUL, a lone surrogate, a field given twice, a number beyond ±(2^53 − 1), nesting over 32 levels, bytes that are not UTF-8: see `errors`)',
    method === 'post' && 'a malformed Idempotency-Key',
  ].filter(Boolean);
  if (malformed.length > 0) responses[400] = problem(`Not valid: ${malformed.join('; ')}.`);
  responses[401] = problem('No credentials, an unknown or revoked API key, an expired or foreign user token, or a credential in the query string.', {
    'WWW-Authenticate': { schema: { type: 'string' } },
  });
  responses[403] = problem(access.userToken ? 'The key\'s scope does not reach this route.' : 'The key\'s scope does not reach this route, or a user token called it.');
  if (method === 'post') {
    responses[409] = problem('A request with the same Idempotency-Key is still running: retry after Retry-After.', RETRY_AFTER);
    responses[422] = problem('The Idempotency-Key was used on another request.');
  }
  if (hasBody) {
    responses[413] = problem('The body is over HTTP_BODY_LIMIT.');
    responses[415] = problem('The body is not JSON.');
  }
  responses[429] = problem('Over the rate limit of the key or user token: retry after Retry-After.', RETRY_AFTER);
  responses[503] = problem('PostgreSQL is unavailable; nothing was written: retry after Retry-After.', RETRY_AFTER);
  return responses;
}

function responsesOf(operation: ApiOperation): ResponsesObject {
  const added = middlewareResponses(operation);
  const statuses = [...new Set([...Object.keys(operation.responses), ...Object.keys(added)].map(Number))].sort((a, b) => a - b);
  return Object.fromEntries(
    statuses.map((status) => {
      const own = operation.responses[status];
      const extra = added[status];
      // A route that answers a status itself, which a middleware may answer too: both reasons.
      const doc = own && extra ? { ...own, description: `${own.description} Or: ${extra.description}` } : (own ?? extra)!;
      return [String(status), responseObject(doc)];
    }),
  );
}

function responseObject(doc: ResponseDoc): ResponseObject {
  return {
    description: doc.description,
    ...(doc.headers && { headers: doc.headers }),
    ...(doc.content && { content: mediaTypes(doc.content) }),
  };
}

function mediaTypes(content: Readonly<Record<string, SchemaObject | { $ref: string }>>) {
  return Object.fromEntries(Object.entries(content).map(([type, schema]) => [type, { schema }]));
}

function securityOf(access: Access): SecurityRequirementObject[] {
  switch (access.kind) {
    case 'key':
      return [{ apiKey: [access.scope] }, ...(access.userToken ? [{ userToken: [] }] : [])];
    case 'session':
      return [{ adminSession: [] }];
    default:
      return [];
  }
}

function accessSentence(access: Access): string {
  switch (access.kind) {
    case 'open':
      return 'No credentials.';
    case 'signed':
      return `No API key: ${access.by}.`;
    case 'session':
      return 'An operator\'s session (log in at `/admin/login`).';
    case 'key': {
      const key = access.scope === 'admin' ? 'An `admin` API key' : 'A `send` or `admin` API key';
      if (access.userToken === 'self') return `${key}, or a user token of the user in the path.`;
      if (access.userToken === 'owned') return `${key}, or a user token of the resource's user.`;
      return `${key}; user tokens get 403.`;
    }
  }
}

/** `post /users/:userId/tokens` → `postUsersUserIdTokens`. */
function operationId(operation: ApiOperation): string {
  const words = operation.path.split(/[^A-Za-z0-9]+/).filter(Boolean);
  return operation.method + words.map((word) => word[0]!.toUpperCase() + word.slice(1)).join('');
}

function snakeCase(name: string): string {
  return name.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`);
}

