import type { RateLimit } from '@notofine/config';
import { AppError } from '@notofine/errors';
import type { Logger } from '@notofine/logger';
import type { RequestHandler } from 'express';
import type { Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import { callerOf } from '../api-keys/authenticate';

/**
 * Limits the requests of each API key, and of each user token, in fixed windows counted in Redis
 * so that the limit holds across API replicas. While Redis is unreachable, each replica counts on
 * its own instead (the limit then applies per replica) rather than refuse or let everything by.
 *
 * Answers carry `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset` (seconds); a
 * request over the limit gets 429 with `Retry-After`.
 */
export function rateLimit(redis: Redis, prefix: string, limits: { perKey: RateLimit; perUser: RateLimit }, logger: Logger): RequestHandler {
  const limiter = (name: string, limit: RateLimit) => {
    // The counters expire in whole seconds: a shorter window counts as one second.
    const options = { keyPrefix: `${prefix}:ratelimit:${name}`, points: limit.max, duration: Math.max(1, Math.ceil(limit.durationMs / 1000)) };
    return new RateLimiterRedis({ ...options, storeClient: redis, rejectIfRedisNotReady: true, insuranceLimiter: new RateLimiterMemory(options) });
  };
  const perKey = limiter('key', limits.perKey);
  const perUser = limiter('user', limits.perUser);
  let warnedOfFallback = false;

  return async (_req, res, next) => {
    const caller = callerOf(res);
    const [limiterOfCaller, id] = caller.kind === 'user' ? [perUser, `${caller.apiKeyId}:${caller.userId}`] : [perKey, String(caller.apiKeyId)];
    let state: RateLimiterRes;
    let allowed = true;
    try {
      state = await limiterOfCaller.consume(id);
    } catch (rejection) {
      if (!(rejection instanceof RateLimiterRes)) {
        // Both Redis and the in-memory fallback failed: do not turn that into a refusal.
        if (!warnedOfFallback) logger.warn('rate limiting is off: its counters could not be reached', { error: rejection });
        warnedOfFallback = true;
        next();
        return;
      }
      state = rejection;
      allowed = false;
    }
    warnedOfFallback = false;
    const resetSeconds = Math.max(1, Math.ceil(state.msBeforeNext / 1000));
    res.set({ 'RateLimit-Limit': String(limiterOfCaller.points), 'RateLimit-Remaining': String(state.remainingPoints), 'RateLimit-Reset': String(resetSeconds) });
    if (!allowed) {
      throw new AppError(
        429,
        'rate-limited',
        'Too many requests',
        `This ${caller.kind === 'user' ? 'user token' : 'API key'} made more than ${limiterOfCaller.points} requests in ${limiterOfCaller.duration} s: retry in ${resetSeconds} s.`,
        { headers: { 'Retry-After': String(resetSeconds) } },
      );
    }
    next();
  };
}
