import { createHash } from 'node:crypto';
import { completeIdempotentRequest, releaseIdempotentRequest, startIdempotentRequest, type IdempotentWrite, type KeptResponse } from '@notofine/db';
import { AppError, ValidationError } from '@notofine/errors';
import type { Logger } from '@notofine/logger';
import type { Request, RequestHandler, Response } from 'express';
import type { EntityManager } from 'typeorm';
import { callerOf } from '../api-keys/authenticate';

export const IDEMPOTENCY_HEADER = 'Idempotency-Key';
/** A request unanswered for this long is taken for dead (its process crashed): a retry may run it again. */
const ABANDONED_AFTER_MS = 60_000;
/** 1 to 255 visible ASCII characters, no space, as the OpenAPI document says (a UUID is the usual choice). */
const VALID_KEY = /^[\x21-\x7e]{1,255}$/;
/**
 * A route sets `res.locals[NOT_KEPT] = true` for an answer that must not be stored (a minted
 * token): the key is freed instead, and a retry runs again.
 */
export const NOT_KEPT = 'idempotencyNotKept';
/** `res.locals` entry holding the request's claim on its key, for the route's use case. */
const CLAIM = 'idempotencyClaim';
/** `res.locals` entry a route sets when its use case recorded the response with its writes. */
const RECORDED = 'idempotencyRecorded';
/** The response headers a replay gives again. */
const REPLAYED_HEADERS = ['content-type', 'location'] as const;

/**
 * `Idempotency-Key` on POST requests (Stripe's semantics, the IETF draft's header): the first
 * request with a key runs and its response is kept; a retry with the same key and the same
 * request gets that response again (with `Idempotent-Replayed: true`) and does nothing new; the
 * same key with another request is refused (422), as is a retry while the first still runs (409).
 * Keys belong to the caller and last `ttlMs`. A response of the server's own failure (5xx) is not
 * kept: the retry runs again.
 *
 * A route that writes records its response in the transaction of its writes ({@link answerOnce}):
 * should the process die between that commit and the answer, the retry replays the response
 * instead of writing again. Any other response (a refusal, a read) is recorded here, just before
 * it is sent: a process dying first had committed nothing, and the key is free again once
 * `ABANDONED_AFTER_MS` have passed.
 */
export function idempotency(manager: EntityManager, logger: Logger, ttlMs: number): RequestHandler {
  return async (req, res, next) => {
    const key = req.get(IDEMPOTENCY_HEADER);
    if (req.method !== 'POST' || key === undefined) {
      next();
      return;
    }
    if (!VALID_KEY.test(key)) {
      throw ValidationError.forField(`header.${IDEMPOTENCY_HEADER}`, 'must be 1 to 255 visible ASCII characters, such as a UUID');
    }
    const caller = callerOf(res);
    // A key belongs to the API key that sent it, or to the user token's user.
    const owner = caller.kind === 'user' ? `user:${caller.apiKeyId}:${caller.userId}` : `key:${caller.apiKeyId}`;
    const fingerprint = createHash('sha256')
      .update(`${req.method} ${req.originalUrl}\n${canonicalJson(req.body ?? null)}`)
      .digest('hex');

    const start = await startIdempotentRequest(manager, { caller: owner, key, fingerprint, ttlMs, abandonedAfterMs: ABANDONED_AFTER_MS });
    switch (start.outcome) {
      case 'mismatch':
        throw new AppError(422, 'idempotency-key-reused', 'This idempotency key was used for another request', `The ${IDEMPOTENCY_HEADER} "${key}" was already used with another path or body: use a new key for a new request.`);
      case 'in-flight':
        throw new AppError(409, 'idempotent-request-in-flight', 'The first request with this idempotency key is still running', `A request with the ${IDEMPOTENCY_HEADER} "${key}" is still being processed: retry in a moment to get its response.`, {
          headers: { 'Retry-After': '1' },
        });
      case 'replay':
        res.status(start.status).set(start.headers).set('Idempotent-Replayed', 'true').send(start.body);
        return;
      case 'run':
        res.locals[CLAIM] = start.id;
        keepResponse(res, async (response) => {
          // Recorded with the route's writes already; a 5xx after that commit replays it too.
          if (res.locals[RECORDED] === true) return;
          if (response.status >= 500 || res.locals[NOT_KEPT] === true) await releaseIdempotentRequest(manager, start.id);
          else await completeIdempotentRequest(manager, start.id, { ...response, userId: subjectUserOf(req.path, response.body) });
        }).catch((error: unknown) => logger.warn('could not record the response of an idempotent request', { error }));
        next();
    }
  };
}

/** How a route that writes answers: its status, its JSON body, and where the resource is. */
export interface Answer {
  readonly status: number;
  readonly body: unknown;
  readonly location?: string;
}

/**
 * The answer of a route that writes, made so that the response to a request with an
 * Idempotency-Key is recorded in the transaction of its writes: `idempotency` goes to the use case,
 * which records `idempotency.response(result)` with its rows (the result it then returns); `send`
 * answers with the very response recorded. Without a key, `idempotency` is undefined and `send`
 * just answers.
 */
export function answerOnce<T>(req: Request, res: Response, answer: (result: T) => Answer): { idempotency: IdempotentWrite<T> | undefined; send(result: T): void } {
  const claimId = res.locals[CLAIM] as number | undefined;
  // The last response written: a use case that tried a transaction again recorded the last one.
  let kept: KeptResponse | undefined;
  const keep = (result: T): KeptResponse => {
    const given = answer(result);
    const headers: Record<string, string> = { 'content-type': 'application/json; charset=utf-8', ...(given.location !== undefined && { location: given.location }) };
    const body = JSON.stringify(given.body);
    kept = { status: given.status, headers, body, userId: subjectUserOf(req.path, body) };
    return kept;
  };
  return {
    idempotency: claimId === undefined ? undefined : { claimId, response: keep },
    send(result) {
      if (kept === undefined) {
        const given = answer(result);
        if (given.location !== undefined) res.location(given.location);
        res.status(given.status).json(given.body);
        return;
      }
      // Recorded with the rows: these bytes, not another rendering.
      res.locals[RECORDED] = true;
      res.status(kept.status).set(kept.headers).send(kept.body);
    },
  };
}

/**
 * JSON with every object's keys in order: two bodies that say the same thing with their fields in
 * another order are the same request.
 */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const fields = Object.keys(value)
      .sort()
      .map((key) => `${JSON.stringify(key)}:${canonicalJson((value as Record<string, unknown>)[key])}`);
    return `{${fields.join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/**
 * The user a request was about, so that the response kept for it (which may show their address)
 * is erased with them: the user in the path, or the one the response names.
 */
function subjectUserOf(path: string, body: string): number | null {
  const inPath = /^\/users\/(\d+)(?:\/|$)/.exec(path);
  if (inPath) return Number(inPath[1]);
  try {
    const json = JSON.parse(body) as { id?: unknown; user_id?: unknown };
    const id = typeof json.user_id === 'number' ? json.user_id : path === '/users' ? json.id : undefined;
    return typeof id === 'number' && Number.isSafeInteger(id) ? id : null;
  } catch {
    return null;
  }
}

/**
 * Calls `record` with the response about to be sent, and sends it once `record` is done, so that
 * a client retrying the moment it has its answer finds the answer kept. Resolves once recorded.
 */
function keepResponse(res: Response, record: (response: { status: number; headers: Record<string, string>; body: string }) => Promise<void>): Promise<void> {
  return new Promise((resolve, reject) => {
    const send = res.send.bind(res);
    let kept = false;
    res.send = (body?: unknown) => {
      // `res.json()` calls `send()` again with the serialised body: only the outer call records.
      if (kept) return send(body);
      kept = true;
      const text = typeof body === 'string' ? body : Buffer.isBuffer(body) ? body.toString('utf8') : JSON.stringify(body ?? '');
      const headers: Record<string, string> = {};
      for (const name of REPLAYED_HEADERS) {
        const value = res.get(name);
        if (value !== undefined) headers[name] = value;
      }
      record({ status: res.statusCode, headers, body: text }).then(
        () => {
          send(body);
          resolve();
        },
        (error: unknown) => {
          send(body);
          reject(error);
        },
      );
      return res;
    };
  });
}
