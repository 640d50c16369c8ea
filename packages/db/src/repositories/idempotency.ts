import { AppError } from '@notofine/errors';
import type { EntityManager } from 'typeorm';

/** What to do with a request that carries an idempotency key. */
export type IdempotentStart =
  /** The first request with this key (or the key expired, or its first request was abandoned): run it. */
  | { readonly outcome: 'run'; readonly id: number }
  /** Answered before: send the same response again. */
  | { readonly outcome: 'replay'; readonly status: number; readonly headers: Record<string, string>; readonly body: string }
  /** The key was used for another request (another path or body). */
  | { readonly outcome: 'mismatch' }
  /** The first request with this key is still running. */
  | { readonly outcome: 'in-flight' };

/**
 * Claims an idempotency key for a request, atomically: the unique (caller, key) constraint lets
 * one of two concurrent requests in, the other sees its row. A row older than `ttlMs` starts
 * afresh; one left unanswered for `abandonedAfterMs` (its process died before committing anything,
 * since a request that writes records its response with its rows) may be taken over by the same
 * request. A claim is its row's id, drawn anew when a key is taken over: the request that had it
 * can then neither record its response nor commit its writes.
 */
export async function startIdempotentRequest(
  manager: EntityManager,
  request: { caller: string; key: string; fingerprint: string; ttlMs: number; abandonedAfterMs: number },
): Promise<IdempotentStart> {
  const [claimed]: Array<{ id: string }> = await manager.query(
    `INSERT INTO idempotency_keys (caller, key, fingerprint) VALUES ($1, $2, $3)
     ON CONFLICT (caller, key) DO UPDATE
       SET id = nextval(pg_get_serial_sequence('idempotency_keys', 'id')),
           fingerprint = EXCLUDED.fingerprint, response_status = NULL, response_headers = NULL,
           response_body = NULL, created_at = now(), completed_at = NULL
       WHERE idempotency_keys.created_at < now() - $4 * interval '1 millisecond'
          OR (idempotency_keys.completed_at IS NULL AND idempotency_keys.fingerprint = EXCLUDED.fingerprint
              AND idempotency_keys.created_at < now() - $5 * interval '1 millisecond')
     RETURNING id`,
    [request.caller, request.key, request.fingerprint, request.ttlMs, request.abandonedAfterMs],
  );
  if (claimed) return { outcome: 'run', id: Number(claimed.id) };

  const [existing]: Array<{ fingerprint: string; response_status: number | null; response_headers: Record<string, string> | null; response_body: string | null }> =
    await manager.query(`SELECT fingerprint, response_status, response_headers, response_body FROM idempotency_keys WHERE caller = $1 AND key = $2`, [
      request.caller,
      request.key,
    ]);
  // Deleted in between (its first request failed): the caller may simply try again.
  if (!existing) return { outcome: 'in-flight' };
  if (existing.fingerprint !== request.fingerprint) return { outcome: 'mismatch' };
  if (existing.response_status === null) return { outcome: 'in-flight' };
  return { outcome: 'replay', status: existing.response_status, headers: existing.response_headers ?? {}, body: existing.response_body ?? '' };
}

/** The response kept for an idempotency key, replayed to its retries. */
export interface KeptResponse {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string;
  /** The user the request was about: the response is erased with them. */
  readonly userId: number | null;
}

/**
 * A request's claim on its idempotency key, handed to what carries the request out: the response
 * is written from the result and recorded in the transaction that writes the rows it answers for
 * ({@link recordIdempotentResponses}), so that a retry after any crash finds it and replays it,
 * and only a request that committed nothing runs again.
 */
export interface IdempotentWrite<T> {
  /** The claim: the key's row as {@link startIdempotentRequest} gave it. */
  readonly claimId: number;
  /** The response to keep for this result. */
  response(result: T): KeptResponse;
}

/**
 * The request's key was taken over by a retry while it ran (it took longer than a request is
 * waited for): it must commit nothing, the retry's outcome is the one.
 */
export class IdempotentRequestTakenOverError extends AppError {
  constructor() {
    super(
      409,
      'idempotent-request-in-flight',
      'The first request with this idempotency key is still running',
      'This request ran so long that a retry with the same Idempotency-Key took it over: nothing was done by this one, retry to get the response of the other.',
      { headers: { 'Retry-After': '1' } },
    );
  }
}

/**
 * Records the responses of idempotent requests in `transaction`, the one that writes what they
 * did: the rows and the responses are committed together, or neither.
 *
 * @throws {@link IdempotentRequestTakenOverError} when a claim is no longer held: roll back
 */
export async function recordIdempotentResponses(transaction: EntityManager, responses: ReadonlyArray<{ readonly claimId: number; readonly response: KeptResponse }>): Promise<void> {
  if (responses.length === 0) return;
  // Tied to the user only if they exist (a 404 about an unknown user is kept all the same).
  const [rows]: [Array<{ id: string }>, number] = await transaction.query(
    `UPDATE idempotency_keys k
     SET response_status = v.status, response_headers = v.headers, response_body = v.body,
         user_id = (SELECT id FROM users WHERE id = v.user_id), completed_at = now()
     FROM unnest($1::bigint[], $2::smallint[], $3::jsonb[], $4::text[], $5::bigint[]) AS v(id, status, headers, body, user_id)
     WHERE k.id = v.id AND k.completed_at IS NULL
     RETURNING k.id`,
    [
      responses.map((r) => r.claimId),
      responses.map((r) => r.response.status),
      responses.map((r) => JSON.stringify(r.response.headers)),
      responses.map((r) => r.response.body),
      responses.map((r) => r.response.userId),
    ],
  );
  if (rows.length < new Set(responses.map((r) => r.claimId)).size) throw new IdempotentRequestTakenOverError();
}

/** {@link recordIdempotentResponses} for one write's result; nothing when the request has no key. */
export async function recordIdempotentResponse<T>(transaction: EntityManager, write: IdempotentWrite<T> | undefined, result: T): Promise<void> {
  if (write) await recordIdempotentResponses(transaction, [{ claimId: write.claimId, response: write.response(result) }]);
}

/** Records the response of a request that wrote nothing (a refusal, a read), for the retries to come. */
export async function completeIdempotentRequest(
  manager: EntityManager,
  id: number,
  response: { status: number; headers: Record<string, string>; body: string; userId: number | null },
): Promise<void> {
  // Tied to the user only if they exist (a 404 about an unknown user is kept all the same).
  await manager.query(
    `UPDATE idempotency_keys SET response_status = $2, response_headers = $3, response_body = $4,
            user_id = (SELECT id FROM users WHERE id = $5::bigint), completed_at = now()
     WHERE id = $1 AND completed_at IS NULL`,
    [id, response.status, JSON.stringify(response.headers), response.body, response.userId],
  );
}

/** Frees the key of a request that failed on the server's side, so that a retry runs it again. */
export async function releaseIdempotentRequest(manager: EntityManager, id: number): Promise<void> {
  await manager.query(`DELETE FROM idempotency_keys WHERE id = $1 AND completed_at IS NULL`, [id]);
}

/** Deletes up to `limit` keys older than `ttlMs`; how many it deleted. */
export async function purgeExpiredIdempotencyKeys(manager: EntityManager, ttlMs: number, limit = 1000): Promise<number> {
  // A DELETE answers [rows, count].
  const [, count]: [unknown, number] = await manager.query(
    `DELETE FROM idempotency_keys WHERE id IN (
       SELECT id FROM idempotency_keys WHERE created_at < now() - $1 * interval '1 millisecond' LIMIT $2
     )`,
    [ttlMs, limit],
  );
  return count;
}
