import type { RequestHandler } from 'express';
import { openApiPath } from '../docs/document';
import type { ApiDomain, HttpMethod } from '../docs/operation';
import { validationErrorOf } from './validation';

/** A keyed route and the query parameters it takes. */
interface RouteQuery {
  readonly method: HttpMethod;
  readonly pattern: RegExp;
  readonly known: readonly string[];
}

/** The longest query parameter name echoed back, and the most names listed, in a refusal. */
const MAX_NAME_SHOWN = 64;
const MAX_NAMES_SHOWN = 10;

/**
 * Refuses, with 400 naming each, the query parameters a route of the API does not take, as unknown
 * body fields are refused: a misspelt or unsupported filter (`?chanel=sms`) must not silently answer
 * everything. What a route takes is what its entry in the OpenAPI document lists, so that the two
 * cannot disagree. Only the routes called with an API key or a user token are checked: providers'
 * webhooks and the unsubscribe links of emails get whatever their senders append (tracking
 * parameters), the operators' pages and Swagger UI are the browser's, probes are the platform's.
 */
export function refuseUnknownQueryParameters(domains: readonly ApiDomain[]): RequestHandler {
  const routes: RouteQuery[] = domains
    .flatMap((domain) => domain.operations)
    .filter((operation) => operation.access.kind === 'key')
    .map((operation) => ({ method: operation.method, pattern: patternOf(operation.path), known: Object.keys(operation.query ?? {}) }));
  return (req, _res, next) => {
    const names = Object.keys(req.query as object);
    if (names.length === 0) return next();
    const method = req.method === 'HEAD' ? 'get' : req.method.toLowerCase();
    const route = routes.find((candidate) => candidate.method === method && candidate.pattern.test(req.path));
    const unknown = route ? names.filter((name) => !route.known.includes(name)) : [];
    if (!route || unknown.length === 0) return next();
    const takes = route.known.length > 0 ? `this route takes ${route.known.join(', ')}` : 'this route takes none';
    next(
      validationErrorOf(
        unknown.slice(0, MAX_NAMES_SHOWN).map((name) => ({ field: `query.${name.slice(0, MAX_NAME_SHOWN)}`, message: `is not a known query parameter (${takes})` })),
      ),
    );
  };
}

/**
 * A router path (`/users/:userId/notifications`) as a pattern matching request paths the way
 * Express matches them: any one segment for a parameter, letters in either case, a trailing slash
 * or not.
 */
function patternOf(path: string): RegExp {
  const source = openApiPath(path)
    .split(/\{\w+\}/)
    .map((literal) => literal.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
    .join('[^/]+');
  return new RegExp(`^${source}/?$`, 'i');
}
