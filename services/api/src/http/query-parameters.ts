import { ValidationError } from '@notofine/errors';
import type { RequestHandler } from 'express';
import { openApiPath } from '../docs/document';
import type { ApiDomain, HttpMethod } from '../docs/operation';
import { parseStringQuery, validationErrorOf } from './validation';

// Query parameters: the unknown ones refused for every keyed route, the known ones read by the
// routes' own parsers below (and parseIntegerQuery, parseStringQuery of validation.ts).

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

/** An optional query parameter among `values`. */
export function parseEnumQuery<T extends string>(value: unknown, name: string, values: readonly T[]): T | undefined {
  const text = parseStringQuery(value, name);
  if (text !== undefined && !values.includes(text as T)) throw ValidationError.forField(`query.${name}`, `must be one of ${values.join(', ')}`);
  return text as T | undefined;
}

/** An optional `true` or `false` query parameter. */
export function parseBooleanQuery(value: unknown, name: string): boolean | undefined {
  const text = parseEnumQuery(value, name, ['true', 'false']);
  return text === undefined ? undefined : text === 'true';
}

const DATE_TIME_QUERY = /^(?!0000)\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2})$/;

/**
 * An optional date-time query parameter with its offset (`2026-12-01T09:00:00+01:00`). A `+` left
 * unencoded in a URL reads as a space: an offset written so is taken as the `+` it was.
 */
export function parseDateTimeQuery(value: unknown, name: string): Date | undefined {
  const text = parseStringQuery(value, name)?.replace(/ (\d{2}:\d{2})$/, '+$1');
  if (text === undefined) return undefined;
  const date = DATE_TIME_QUERY.test(text) ? new Date(text) : undefined;
  if (!date || Number.isNaN(date.getTime()) || !isCalendarDay(text.slice(0, 10))) {
    throw ValidationError.forField(`query.${name}`, 'must be a date-time with its offset, such as 2026-12-01T09:00:00+01:00 (+ written %2B)');
  }
  return date;
}

/** Whether `YYYY-MM-DD` is a day of the calendar (JavaScript reads February 30 as March 2). */
function isCalendarDay(day: string): boolean {
  return new Date(`${day}T00:00:00Z`).toISOString().startsWith(day);
}
