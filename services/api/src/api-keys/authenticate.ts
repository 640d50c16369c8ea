import type { ApiKey, ApiKeyScope } from '@notofine/db';
import { AppError, NotFoundError, UnauthorizedError } from '@notofine/errors';
import type { Logger } from '@notofine/logger';
import type { Request, RequestHandler, Response } from 'express';
import type { EntityManager } from 'typeorm';
import type { UserTokens } from '../user-tokens/user-tokens';
import { KEY_PREFIX, findActiveApiKey, findActiveApiKeyById, hashApiKey, touchApiKey } from './api-keys';

/** A backend calling with a service API key. */
export interface ServiceCaller {
  readonly kind: 'service';
  readonly apiKeyId: number;
  readonly apiKeyName: string;
  readonly scope: ApiKeyScope;
}

/** An app calling for one user, with a user token minted by a service key. */
export interface UserCaller {
  readonly kind: 'user';
  readonly userId: number;
  /** The key that minted the token. */
  readonly apiKeyId: number;
  readonly tokenId: string;
}

/** The caller of an authenticated request, in `res.locals.caller`. */
export type Caller = ServiceCaller | UserCaller;

/** The caller of a request that went through {@link authenticate}. */
export const callerOf = (res: Response): Caller => res.locals.caller as Caller;

/** Verified keys are remembered this long, so that a request costs no key lookup; revocation takes as long to apply. */
const CACHE_TTL_MS = 10_000;
/**
 * A remembered key older than this is looked up again in the background by the first request
 * that uses it (which, like the others meanwhile, goes on with the remembered answer): a key in
 * use never expires with requests waiting on its lookup, and a revocation still applies within
 * {@link CACHE_TTL_MS}.
 */
const REFRESH_AFTER_MS = 8_000;
const CACHE_MAX_ENTRIES = 1000;

/** Query parameters under which clients are known to put credentials. */
const CREDENTIAL_PARAMETERS = new Set(['api_key', 'apikey', 'key', 'access_token', 'token', 'authorization']);

/**
 * Requires `Authorization: Bearer <api key or user token>` and puts the caller in
 * `res.locals.caller`; 401 otherwise. A user token is accepted while the key that minted it is
 * active. Only successful lookups are cached, so random keys cannot fill the memory.
 */
export function authenticate(manager: EntityManager, logger: Logger, userTokens: UserTokens | undefined): RequestHandler {
  const verified = new Map<string, { apiKey: ServiceCaller; refreshAt: number; until: number }>();
  const remember = (cacheKey: string, apiKey: ServiceCaller) => {
    if (verified.size >= CACHE_MAX_ENTRIES) verified.clear();
    const now = Date.now();
    verified.set(cacheKey, { apiKey, refreshAt: now + REFRESH_AFTER_MS, until: now + CACHE_TTL_MS });
  };
  // One lookup of a key at a time: the requests arriving meanwhile wait for that lookup (or, when
  // it is a refresh, go on with the remembered answer) instead of each making its own, and its own
  // UPDATE of the key.
  const lookups = new Map<string, Promise<ServiceCaller>>();
  /** The remembered caller under `cacheKey`, if still valid; past its refresh time, `lookUp` runs in the background. */
  const cached = (cacheKey: string, lookUp: () => Promise<ServiceCaller>): ServiceCaller | undefined => {
    const entry = verified.get(cacheKey);
    const now = Date.now();
    if (!entry || entry.until <= now) return undefined;
    if (entry.refreshAt <= now && !lookups.has(cacheKey)) {
      once(lookups, cacheKey, lookUp).catch((error: unknown) => {
        // Revoked meanwhile: forgotten at once. Unreachable: the entry runs out its time.
        if (error instanceof UnauthorizedError) verified.delete(cacheKey);
        else logger.warn('could not look an API key up again', { error });
      });
    }
    return entry.apiKey;
  };

  const lookUpKey = async (key: string, hash: string): Promise<ServiceCaller> => {
    const apiKey = await findActiveApiKey(manager, key);
    if (!apiKey) throw new UnauthorizedError('The API key is not valid, or it has been revoked.');
    const caller = serviceCallerOf(apiKey);
    remember(hash, caller);
    remember(`id:${apiKey.id}`, caller);
    touchApiKey(manager, apiKey.id).catch((error: unknown) => logger.warn('could not record API key use', { error }));
    return caller;
  };
  const serviceCaller = async (key: string): Promise<ServiceCaller> => {
    const hash = hashApiKey(key);
    const lookUp = () => lookUpKey(key, hash);
    return cached(hash, lookUp) ?? once(lookups, hash, lookUp);
  };

  const lookUpMinter = async (apiKeyId: number): Promise<ServiceCaller> => {
    const apiKey = await findActiveApiKeyById(manager, apiKeyId);
    if (!apiKey) throw new UnauthorizedError('The user token was minted by an API key that has been revoked: mint a new one.');
    const minter = serviceCallerOf(apiKey);
    remember(`id:${apiKey.id}`, minter);
    return minter;
  };
  const userCaller = async (token: string): Promise<UserCaller> => {
    if (!userTokens) throw new UnauthorizedError('User tokens are not enabled on this service: call with an API key.');
    const claims = await userTokens.verify(token);
    const cacheKey = `id:${claims.apiKeyId}`;
    const lookUp = () => lookUpMinter(claims.apiKeyId);
    if (!cached(cacheKey, lookUp)) await once(lookups, cacheKey, lookUp);
    return { kind: 'user', userId: claims.userId, apiKeyId: claims.apiKeyId, tokenId: claims.tokenId };
  };

  return async (req, res, next) => {
    refuseCredentialsInQuery(req);
    const header = req.get('authorization');
    if (!header) throw new UnauthorizedError('Send your API key or user token in the Authorization header: "Authorization: Bearer <key>".');
    const match = /^Bearer +(\S+) *$/i.exec(header);
    if (!match) throw new UnauthorizedError('The Authorization header must read "Bearer <key>".');
    const credential = match[1]!;
    // API keys never hold a dot; a JWT is three dot-separated parts.
    res.locals.caller = credential.includes('.') ? await userCaller(credential) : await serviceCaller(credential);
    next();
  };
}

/** The caller an active key's row makes. */
function serviceCallerOf(apiKey: ApiKey): ServiceCaller {
  return { kind: 'service', apiKeyId: apiKey.id, apiKeyName: apiKey.name, scope: apiKey.scope };
}

/** `run()` for `key`, or the run already under way for it: callers meanwhile share its outcome. */
function once<T>(running: Map<string, Promise<T>>, key: string, run: () => Promise<T>): Promise<T> {
  let call = running.get(key);
  if (!call) {
    call = run().finally(() => running.delete(key));
    running.set(key, call);
  }
  return call;
}

/**
 * Credentials in a URL end up in access logs, proxies and browser history: a request carrying one
 * there is refused (and should have the key rotated).
 */
function refuseCredentialsInQuery(req: Request): void {
  for (const [name, value] of Object.entries(req.query)) {
    const values = Array.isArray(value) ? value : [value];
    if (CREDENTIAL_PARAMETERS.has(name.toLowerCase()) || values.some((v) => typeof v === 'string' && v.startsWith(KEY_PREFIX))) {
      throw new UnauthorizedError(
        `Credentials are never accepted in the query string (found in "${name}"): send them in the Authorization header, and rotate a key that was put in a URL.`,
      );
    }
  }
}

/** The user a user token restricts a request to; undefined for a service key (which sees every user). */
export const ownerOf = (res: Response): number | undefined => {
  const caller = callerOf(res);
  return caller.kind === 'user' ? caller.userId : undefined;
};

/**
 * Lets through service keys of `scope` or more, and user tokens on their own resources:
 * - `self`: the route's `:userId` must be the token's user. Another user's id answers 404 with the
 *   very body an id that does not exist gets, so that a token cannot tell the two apart.
 * - `owned`: the handler looks the resource up among the token's user's only (see {@link ownerOf}),
 *   so that another user's resource is "not found" too.
 * Without `user`, user tokens get 403 whatever the ids.
 */
export function allow(scope: ApiKeyScope, user?: 'self' | 'owned'): RequestHandler {
  const forService = requireScope(scope);
  return (req, res, next) => {
    const caller = callerOf(res);
    if (caller.kind === 'service' || user === undefined) {
      forService(req, res, next);
      return;
    }
    const userId = req.params.userId;
    if (user === 'self' && typeof userId === 'string' && userId !== String(caller.userId) && /^[1-9]\d{0,15}$/.test(userId)) {
      next(new NotFoundError('User', Number(userId)));
      return;
    }
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
    const caller = callerOf(res);
    if (caller.kind === 'service' && (caller.scope === 'admin' || caller.scope === scope)) {
      next();
      return;
    }
    const detail =
      caller.kind === 'user'
        ? `This route is not open to user tokens: it needs an API key of scope ${scope}.`
        : `This route needs an API key of scope ${scope}; this one is ${caller.scope}.`;
    next(new AppError(403, 'forbidden', 'Not allowed with these credentials', detail));
  };
}
