import { randomUUID } from 'node:crypto';
import { AppError } from '@notofine/errors';
import { withLogContext, type Logger } from '@notofine/logger';
import type { Request, RequestHandler } from 'express';

const VALID_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * Gives each request an id (the caller's `X-Request-Id` when well-formed), echoes it in the
 * response, puts it on every log line written while the request runs, and logs the request when
 * it ends.
 */
export function requestContext(logger: Logger): RequestHandler {
  return (req, res, next) => {
    const given = req.get('x-request-id');
    const requestId = given && VALID_REQUEST_ID.test(given) ? given : randomUUID();
    res.locals.requestId = requestId;
    res.set('X-Request-Id', requestId);
    const started = process.hrtime.bigint();
    withLogContext({ request_id: requestId }, () => {
      res.on('finish', () => {
        const fields = {
          request_id: requestId,
          method: req.method,
          path: routeOf(req) ?? req.path,
          status: res.statusCode,
          duration_ms: Number((process.hrtime.bigint() - started) / 1000n) / 1000,
        };
        if (res.statusCode >= 500) logger.error('request', fields);
        else logger.info('request', fields);
      });
      next();
    });
  };
}

/** The route pattern that answered (`/users/:userId`), or undefined when none did. */
export function routeOf(req: Request): string | undefined {
  return req.route ? `${req.baseUrl}${String((req.route as { path: unknown }).path)}` : undefined;
}

/** 415 for a body that is not JSON (an empty body is left to the route's validation). */
export const requireJsonBody: RequestHandler = (req, _res, next) => {
  const hasBody = Number(req.get('content-length') ?? 0) > 0 || req.get('transfer-encoding') !== undefined;
  if (hasBody && !req.is(['application/json', 'application/*+json'])) {
    const given = req.get('content-type') ?? 'none';
    next(new AppError(415, 'unsupported-media-type', 'Unsupported media type', `Content-Type ${given} is not accepted: send the body as application/json.`));
    return;
  }
  next();
};
