import Ajv2020, { type ValidateFunction } from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import type { OpenAPIObject, OperationObject, PathItemObject, ReferenceObject, RequestBodyObject, ResponseObject, SchemaObject } from 'openapi3-ts/oas31';
import type { Express } from 'express';
import request, { type Response, type Test } from 'supertest';
import { API_DOMAINS } from '../../services/api/src/docs/api-domains';
import { buildOpenApiDocument } from '../../services/api/src/docs/document';
import { API_VERSION } from '../../services/api/src/docs/routes';

// Every response the tests see through `documented()` (and so every request of `apiClient`) is
// checked against the OpenAPI document: its status must be one the operation lists, its media
// type one the status lists, its JSON body must match the schema; an accepted JSON request body
// must match the documented one. A mismatch fails the test that made the request.

const DOCUMENT_ID = 'https://notofine.test/openapi.json';
const METHODS = ['get', 'post', 'put', 'patch', 'delete'] as const;

/** The document the API serves (without a server URL). */
export const openApiDocument: OpenAPIObject = buildOpenApiDocument(API_DOMAINS, { version: API_VERSION });

interface DocumentedOperation {
  readonly method: string;
  readonly template: string;
  readonly pattern: RegExp;
  /** Literal segments first: `/reminders/process` wins over `/reminders/{reminder_id}`. */
  readonly parameters: number;
  readonly operation: OperationObject;
}

const operations: DocumentedOperation[] = Object.entries<PathItemObject>(openApiDocument.paths ?? {})
  .flatMap(([template, item]) =>
    METHODS.filter((method) => item[method]).map((method) => ({
      method,
      template,
      pattern: new RegExp(`^${template.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{\w+\}/g, '[^/]+')}/?$`, 'i'),
      parameters: (template.match(/\{/g) ?? []).length,
      operation: item[method]!,
    })),
  )
  .sort((a, b) => a.parameters - b.parameters);

// OpenAPI 3.1 schemas are JSON Schema 2020-12: the components become the $defs of one schema.
const ajv = new Ajv2020({ allErrors: true, strict: true });
addFormats(ajv);
ajv.addSchema({ $id: DOCUMENT_ID, $defs: rewriteRefs(openApiDocument.components?.schemas ?? {}) });
const validators = new Map<string, ValidateFunction>();

/** Each error with where it is and what it names: `/quiet_hours must NOT have additional properties (color)`. */
function errorsOf(validate: ValidateFunction): string {
  return (validate.errors ?? [])
    .map((error) => {
      const named = Object.values(error.params as Record<string, unknown>).filter((value) => typeof value === 'string');
      return `${error.instancePath || 'the body'} ${error.message ?? 'is not valid'}${named.length ? ` (${named.join(', ')})` : ''}`;
    })
    .join('; ');
}

function rewriteRefs<T>(value: T): T {
  return JSON.parse(JSON.stringify(value).replaceAll('"#/components/schemas/', `"${DOCUMENT_ID}#/$defs/`)) as T;
}

function validatorOf(key: string, schema: SchemaObject | ReferenceObject): ValidateFunction {
  let validate = validators.get(key);
  if (!validate) {
    validate = ajv.compile(rewriteRefs(schema));
    validators.set(key, validate);
  }
  return validate;
}

/** The documented operation a request reaches, or undefined for a path or method the document does not have. */
export function documentedOperation(method: string, path: string): DocumentedOperation | undefined {
  const pathname = path.split('?')[0]!;
  return operations.find((candidate) => candidate.method === method.toLowerCase() && candidate.pattern.test(pathname));
}

const mediaType = (contentType: string | undefined): string | undefined => contentType?.split(';')[0]!.trim().toLowerCase();
const isJson = (type: string): boolean => /^application\/(.+\+)?json$/.test(type);

/**
 * What is wrong with a response (and its accepted request body) by the document: an empty list
 * when it matches, or when the request reached no documented operation.
 */
export function conformanceProblems(response: Response, requestBody?: unknown): string[] {
  // superagent keeps the Node request, whose path holds the query string too.
  const { method, path } = (response as unknown as { req: { method: string; path: string } }).req;
  const found = documentedOperation(method, path);
  if (!found) return [];
  const name = `${method} ${found.template} (${path}) answered ${response.status}`;
  const documented = found.operation.responses?.[String(response.status)] as ResponseObject | undefined;
  if (!documented) return [`${name}, which the document does not list (it lists ${Object.keys(found.operation.responses ?? {}).join(', ')})`];

  const problems: string[] = [];
  const type = mediaType(response.headers['content-type'] as string | undefined);
  if (!documented.content) {
    // A redirect's short text ("See Other. Redirecting to ...") is not a documented body.
    if (response.text && response.status < 300) problems.push(`${name} with a ${type} body, where the document says it has none`);
  } else if (!type || !documented.content[type]) {
    problems.push(`${name} as ${type ?? 'no media type'}, where the document says ${Object.keys(documented.content).join(' or ')}`);
  } else if (isJson(type)) {
    const validate = validatorOf(`${method} ${found.template} ${response.status} ${type}`, documented.content[type].schema!);
    if (!validate(response.body)) problems.push(`${name} with a body that does not match the document: ${errorsOf(validate)} — ${response.text.slice(0, 500)}`);
  }

  const requestSchema = (found.operation.requestBody as RequestBodyObject | undefined)?.content['application/json']?.schema;
  if (response.status < 300 && requestBody !== undefined && requestSchema) {
    const validate = validatorOf(`${method} ${found.template} request`, requestSchema);
    if (!validate(requestBody)) problems.push(`${method} ${found.template} accepted a body the document refuses: ${errorsOf(validate)} — ${JSON.stringify(requestBody).slice(0, 500)}`);
  }
  return problems;
}

/** Fails the request's test when the response (or its accepted JSON body) does not match the OpenAPI document. */
export function expectDocumented(response: Response, requestBody?: unknown): void {
  const problems = conformanceProblems(response, requestBody);
  if (problems.length > 0) throw new Error(`Not as the OpenAPI document says:\n- ${problems.join('\n- ')}`);
}

/** The supertest request, its response checked against the OpenAPI document. */
export function documented<T extends Test>(test: T, requestBody?: unknown): T {
  return test.expect((response: Response) => expectDocumented(response, requestBody)) as T;
}

/** supertest's `request(app)`, each response checked against the OpenAPI document. */
export function documentedRequest(app: Express) {
  return {
    get: (url: string) => documented(request(app).get(url)),
    post: (url: string) => documented(request(app).post(url)),
    put: (url: string) => documented(request(app).put(url)),
    patch: (url: string) => documented(request(app).patch(url)),
    delete: (url: string) => documented(request(app).delete(url)),
  };
}
