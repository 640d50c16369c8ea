import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { ApiKey } from '@notofine/db';
import { IsNull, type EntityManager } from 'typeorm';
import { findActiveApiKey } from '../api-keys/api-keys';

/** The cookie of an operator's session on /admin. */
export const SESSION_COOKIE = 'notofine_admin';

/** A verified session is trusted this long before its key is looked up again (revocation takes as long). */
const KEY_CHECK_TTL_MS = 10_000;
/** API replicas' clocks may disagree by this much. */
const CLOCK_TOLERANCE_MS = 5_000;

/**
 * Operators' browser sessions: a browser cannot send a bearer header, so an operator logs in once
 * with an `admin` API key and gets a signed cookie naming that key and an expiry. Every request
 * checks the signature, the expiry, and that the key is still active and `admin`: revoking the key
 * ends its sessions. Nothing is kept server-side, so any API replica sharing the secret accepts it.
 */
export class AdminSessions {
  private readonly secret: Buffer;
  private readonly checked = new Map<number, number>();

  constructor(
    private readonly manager: EntityManager,
    secret: string | undefined,
    readonly ttlMs: number,
  ) {
    this.secret = secret === undefined ? randomBytes(32) : Buffer.from(secret, 'utf8');
  }

  /** The admin key with this secret, or null when it is unknown, revoked or not `admin`. */
  async logIn(key: string): Promise<ApiKey | null> {
    const apiKey = await findActiveApiKey(this.manager, key);
    return apiKey?.scope === 'admin' ? apiKey : null;
  }

  /** The cookie value of a new session of this key. */
  issue(apiKeyId: number, now = Date.now()): string {
    const payload = `${apiKeyId}.${Math.floor((now + this.ttlMs) / 1000)}`;
    return `${payload}.${this.sign(payload)}`;
  }

  /**
   * The key id of a valid session, or null (forged, expired, key revoked or no longer admin). A
   * cookie signed to last longer than `ttlMs` from now (issued while the lifetime was longer) is
   * not valid either, and numbers are taken only as {@link issue} writes them.
   */
  async verify(cookie: string | undefined, now = Date.now()): Promise<number | null> {
    const match = cookie === undefined ? null : /^([1-9]\d{0,15})\.([1-9]\d{0,11})\.([A-Za-z0-9_-]{43})$/.exec(cookie);
    if (!match) return null;
    const [, id, expires, signature] = match;
    const expected = Buffer.from(this.sign(`${id}.${expires}`));
    if (!timingSafeEqual(expected, Buffer.from(signature!))) return null;
    const expiresAt = Number(expires) * 1000;
    if (expiresAt <= now || expiresAt > now + this.ttlMs + CLOCK_TOLERANCE_MS) return null;

    const apiKeyId = Number(id);
    if (!Number.isSafeInteger(apiKeyId)) return null;
    if ((this.checked.get(apiKeyId) ?? 0) > now) return apiKeyId;
    const apiKey = await this.manager.findOneBy(ApiKey, { id: apiKeyId, revokedAt: IsNull() });
    if (apiKey?.scope !== 'admin') return null;
    if (this.checked.size >= 1000) this.checked.clear();
    this.checked.set(apiKeyId, now + KEY_CHECK_TTL_MS);
    return apiKeyId;
  }

  private sign(payload: string): string {
    return createHmac('sha256', this.secret).update(payload).digest('base64url');
  }
}
