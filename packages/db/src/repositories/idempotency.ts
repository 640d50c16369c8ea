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
 * afresh; one left unanswered for `abandonedAfterMs` (its process died) may be taken over by the
 * same request.
 */
export async function startIdempotentRequest(
  manager: EntityManager,
  request: { caller: string; key: string; fingerprint: string; ttlMs: number; abandonedAfterMs: number },
): Promise<IdempotentStart> {
  const [claimed]: Array<{ id: string }> = await manager.query(
    `INSERT INTO idempotency_keys (caller, key, fingerprint) VALUES ($1, $2, $3)
     ON CONFLICT (caller, key) DO UPDATE
       SET fingerprint = EXCLUDED.fingerprint, response_status = NULL, response_headers = NULL,
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

/** Records the response of the request that ran, for the retries to come. */
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
