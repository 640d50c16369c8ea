import { createHash, randomBytes } from 'node:crypto';
import { ApiKey } from '@notofine/db';
import { ServiceUnavailableError } from '@notofine/errors';
import type { Redis } from 'ioredis';
import { IsNull, type EntityManager } from 'typeorm';
import { findActiveApiKey } from '../api-keys/api-keys';

/** The cookie of an operator's session on /admin. */
export const SESSION_COOKIE = 'notofine_admin';

/** A verified session's key is trusted this long before it is looked up again (revocation takes as long). */
const KEY_CHECK_TTL_MS = 10_000;
/** API replicas' clocks may disagree by this much. */
const CLOCK_TOLERANCE_MS = 5_000;

/** A session id as the cookie carries it: 32 random bytes in base64url. */
const SESSION_ID = /^[A-Za-z0-9_-]{43}$/;

/**
 * Operators' browser sessions: a browser cannot send a bearer header, so an operator logs in once
 * with an `admin` API key and gets a cookie holding a random session id. The session lives in
 * Redis (under the SHA-256 of its id, with the key's id and when it was opened, for `ttlMs`), so that every API replica
 * knows it, and logging out ends it everywhere: a copied cookie stops working. Every request also
 * checks that the key is still active and `admin`: revoking the key ends its sessions.
 */
export class AdminSessions {
  private readonly checked = new Map<number, number>();

  constructor(
    private readonly manager: EntityManager,
    private readonly redis: Redis,
    /** `QUEUE_PREFIX`: the deployment's keys in Redis. */
    private readonly prefix: string,
    readonly ttlMs: number,
  ) {}

  /** The admin key with this secret, or null when it is unknown, revoked or not `admin`. */
  async logIn(key: string): Promise<ApiKey | null> {
    const apiKey = await findActiveApiKey(this.manager, key);
    return apiKey?.scope === 'admin' ? apiKey : null;
  }

  /** Opens a session of this key: the cookie value. */
  async open(apiKeyId: number, now = Date.now()): Promise<string> {
    const id = randomBytes(32).toString('base64url');
    // When it was opened, too: a lifetime shortened since ends it, whatever Redis still keeps.
    await this.store(() => this.redis.set(this.keyOf(id), `${apiKeyId}.${now}`, 'PX', this.ttlMs));
    return id;
  }

  /**
   * The key id of a live session, or null (unknown, ended, expired, key revoked or no longer admin).
   * A session opened longer than `ttlMs` ago (under a longer lifetime, since shortened) has ended.
   */
  async verify(cookie: string | undefined, now = Date.now()): Promise<number | null> {
    if (cookie === undefined || !SESSION_ID.test(cookie)) return null;
    const stored = await this.store(() => this.redis.get(this.keyOf(cookie)));
    const match = stored === null ? null : /^([1-9]\d{0,14})\.([1-9]\d{0,14})$/.exec(stored);
    if (!match) return null;
    const [, id, openedAt] = match;
    if (Number(openedAt) + this.ttlMs + CLOCK_TOLERANCE_MS <= now) return null;

    const apiKeyId = Number(id);
    if ((this.checked.get(apiKeyId) ?? 0) > now) return apiKeyId;
    const apiKey = await this.manager.findOneBy(ApiKey, { id: apiKeyId, revokedAt: IsNull() });
    if (apiKey?.scope !== 'admin') return null;
    if (this.checked.size >= 1000) this.checked.clear();
    this.checked.set(apiKeyId, now + KEY_CHECK_TTL_MS);
    return apiKeyId;
  }

  /** Ends a session, on every replica at once. */
  async end(cookie: string | undefined): Promise<void> {
    if (cookie === undefined || !SESSION_ID.test(cookie)) return;
    await this.store(() => this.redis.del(this.keyOf(cookie)));
  }

  private keyOf(id: string): string {
    return `${this.prefix}:admin-session:${createHash('sha256').update(id).digest('hex')}`;
  }

  /** A Redis call; Redis away is a 503, not a refused or a granted session. */
  private async store<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (error) {
      throw new ServiceUnavailableError('The operators\' sessions are kept in Redis, which is unavailable: retry in a few seconds.', { cause: error });
    }
  }
}
