import type { ApiKeyScope } from '@notofine/db';
import { AppError, UnauthorizedError } from '@notofine/errors';
import type { Logger } from '@notofine/logger';
import type { RequestHandler } from 'express';
import type { EntityManager } from 'typeorm';
import { findActiveApiKey, hashApiKey, touchApiKey } from './api-keys';

/** The caller of an authenticated request, in `res.locals.caller`. */
export interface Caller {
  readonly apiKeyId: number;
  readonly apiKeyName: string;
  readonly scope: ApiKeyScope;
}

/** Verified keys are remembered this long, so that a request costs no key lookup; revocation takes as long to apply. */
const CACHE_TTL_MS = 10_000;
const CACHE_MAX_ENTRIES = 1000;

/**
 * Requires `Authorization: Bearer <api key>` and puts the caller in `res.locals.caller`; 401 otherwise.
 * Only successful lookups are cached, so random keys cannot fill the memory.
 */
export function authenticate(manager: EntityManager, logger: Logger): RequestHandler {
  const verified = new Map<string, { caller: Caller; until: number }>();

  return async (req, res, next) => {
    const header = req.get('authorization');
    if (!header) throw new UnauthorizedError('Send your API key in the Authorization header: "Authorization: Bearer <key>".');
    const match = /^Bearer +(\S+) *$/i.exec(header);
    if (!match) throw new UnauthorizedError('The Authorization header must read "Bearer <key>".');
    const key = match[1]!;

    const hash = hashApiKey(key);
    const cached = verified.get(hash);
    if (cached && cached.until > Date.now()) {
      res.locals.caller = cached.caller;
      next();
      return;
    }
    const apiKey = await findActiveApiKey(manager, key);
    if (!apiKey) throw new UnauthorizedError('The API key is not valid, or it has been revoked.');

    const caller: Caller = { apiKeyId: apiKey.id, apiKeyName: apiKey.name, scope: apiKey.scope };
    if (verified.size >= CACHE_MAX_ENTRIES) verified.clear();
    verified.set(hash, { caller, until: Date.now() + CACHE_TTL_MS });
    touchApiKey(manager, apiKey.id).catch((error: unknown) => logger.warn('could not record API key use', { error }));
    res.locals.caller = caller;
    next();
  };
}

/**
 * Lets through callers whose key has `scope` or more (`admin` includes `send`); 403 otherwise.
 * Put it on each route: routers share the root path, so a router-wide guard would stop requests
 * meant for the next router.
 */
export function requireScope(scope: ApiKeyScope): RequestHandler {
  return (_req, res, next) => {
    const caller = res.locals.caller as Caller | undefined;
    if (caller && (caller.scope === 'admin' || caller.scope === scope)) {
      next();
      return;
    }
    next(new AppError(403, 'forbidden', 'Not allowed with this API key', `This route needs an API key of scope ${scope}; this one is ${caller?.scope ?? 'unknown'}.`));
  };
}
