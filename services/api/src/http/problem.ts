import { AppError, ServiceUnavailableError, type FieldError } from '@notofine/errors';
import { isDatabaseUnavailable } from '@notofine/db';
import type { Logger } from '@notofine/logger';
import type { ErrorRequestHandler, RequestHandler, Response } from 'express';

/** An RFC 9457 problem document. */
export interface Problem {
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly detail: string;
  readonly instance?: string;
  readonly errors?: readonly FieldError[];
  readonly request_id?: string;
}

/** Problem types are published under this path: `/problems/validation-error`, ... */
export const problemType = (slug: string): string => `/problems/${slug}`;

export function sendProblem(res: Response, problem: Problem, headers: Readonly<Record<string, string>> = {}): void {
  res.status(problem.status).set(headers).type('application/problem+json').json(problem);
}

/** 404 for a path no route answers. */
export const routeNotFound: RequestHandler = (req, res) => {
  sendProblem(res, {
    type: problemType('route-not-found'),
    title: 'No such route',
    status: 404,
    detail: `No route answers ${req.method} ${req.path}.`,
    instance: req.originalUrl,
  });
};

/** Errors thrown by Express's own body parser, which carry a `type` and a `status`. */
interface BodyParserError {
  type: string;
  status: number;
  limit?: number;
  message: string;
}

function isBodyParserError(error: unknown): error is BodyParserError {
  return typeof error === 'object' && error !== null && typeof (error as BodyParserError).type === 'string' && typeof (error as BodyParserError).status === 'number';
}

function fromBodyParser(error: BodyParserError): Problem {
  switch (error.type) {
    case 'entity.too.large':
      return { type: problemType('payload-too-large'), title: 'Request body too large', status: 413, detail: `The request body exceeds the limit of ${error.limit ?? 'the server'} bytes.` };
    case 'entity.parse.failed':
      return { type: problemType('malformed-json'), title: 'Malformed JSON', status: 400, detail: `The request body is not valid JSON: ${error.message}.` };
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return { type: problemType('unsupported-media-type'), title: 'Unsupported encoding', status: 415, detail: `${error.message}: send UTF-8 JSON.` };
    default:
      return { type: problemType('bad-request'), title: 'Bad request', status: error.status >= 400 && error.status < 500 ? error.status : 400, detail: error.message };
  }
}

/**
 * The one place errors become responses: an {@link AppError} becomes its problem, a body-parser
 * error its 4xx, a lost database 503; anything else is logged with its stack and answered with a
 * bare 500 that reveals nothing.
 */
export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (error: unknown, req, res, next) => {
    if (res.headersSent) {
      next(error);
      return;
    }
    const requestId = res.locals.requestId as string | undefined;
    const instance = req.originalUrl;
    if (error instanceof AppError) {
      if (error.status >= 500) logger.warn('request failed: dependency unavailable', { error: error.cause ?? error });
      sendProblem(
        res,
        { type: problemType(error.type), title: error.title, status: error.status, detail: error.detail, instance, ...(error.errors ? { errors: error.errors } : {}), request_id: requestId },
        error.headers,
      );
      return;
    }
    if (isBodyParserError(error)) {
      sendProblem(res, { ...fromBodyParser(error), instance, request_id: requestId });
      return;
    }
    if (isDatabaseUnavailable(error)) {
      const unavailable = new ServiceUnavailableError('The database is unavailable; retry in a few seconds.');
      logger.warn('request failed: database unavailable', { error });
      sendProblem(res, { type: problemType(unavailable.type), title: unavailable.title, status: 503, detail: unavailable.detail, instance, request_id: requestId }, unavailable.headers);
      return;
    }
    logger.error('request failed: unexpected error', { error });
    sendProblem(res, {
      type: problemType('internal-error'),
      title: 'Internal server error',
      status: 500,
      detail: 'The server met an unexpected error. It has been logged; quote the request id when reporting it.',
      instance,
      request_id: requestId,
    });
  };
}
