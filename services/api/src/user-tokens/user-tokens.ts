import { createPrivateKey, createPublicKey, createSecretKey, randomUUID, type KeyObject } from 'node:crypto';
import type { UserTokenKey } from '@notofine/config';
import { UnauthorizedError } from '@notofine/errors';
import { SignJWT, errors as joseErrors, jwtVerify, type JWTPayload } from 'jose';

const ISSUER = 'notofine';
const AUDIENCE = 'notofine-api';
/** Clocks of API replicas and of the minting backend may disagree by this much. */
const CLOCK_TOLERANCE_SECONDS = 5;

/** Who a valid user token speaks for. */
export interface UserTokenClaims {
  readonly userId: number;
  /** The API key that minted it: revoking the key revokes its tokens. */
  readonly apiKeyId: number;
  readonly tokenId: string;
  readonly expiresAt: Date;
}

/**
 * Short-lived tokens that let an app act for one user (a JWT: `sub` is the user id, `akid` the
 * API key that minted it). Signed with an HMAC secret (HS256) or a private key (ES256, EdDSA or
 * RS256 after its type); verification accepts that one algorithm only, so a token cannot choose
 * its own (`alg: none`, or HS256 keyed with the public key).
 */
export class UserTokens {
  private constructor(
    private readonly signingKey: KeyObject,
    private readonly verifyingKey: KeyObject,
    private readonly algorithm: string,
    readonly maxTtlMs: number,
  ) {}

  static fromConfig(key: UserTokenKey, maxTtlMs: number): UserTokens {
    if (key.kind === 'secret') {
      const secret = createSecretKey(Buffer.from(key.secret, 'utf8'));
      return new UserTokens(secret, secret, 'HS256', maxTtlMs);
    }
    const privateKey = createPrivateKey(key.pem);
    return new UserTokens(privateKey, createPublicKey(privateKey), algorithmOf(privateKey), maxTtlMs);
  }

  /** A token for `userId`, valid `ttlMs` (at most the configured lifetime). */
  async mint(userId: number, apiKeyId: number, ttlMs = this.maxTtlMs): Promise<{ token: string; expiresAt: Date; expiresInSeconds: number }> {
    const issuedAt = Math.floor(Date.now() / 1000);
    const expiresInSeconds = lifetimeSeconds(Math.min(ttlMs, this.maxTtlMs));
    const expiresAt = issuedAt + expiresInSeconds;
    const token = await new SignJWT({ akid: apiKeyId })
      .setProtectedHeader({ alg: this.algorithm, typ: 'JWT' })
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setSubject(String(userId))
      .setJti(randomUUID())
      .setIssuedAt(issuedAt)
      .setExpirationTime(expiresAt)
      .sign(this.signingKey);
    return { token, expiresAt: new Date(expiresAt * 1000), expiresInSeconds };
  }

  /**
   * The claims of a valid token. Its lifetime (`exp` - `iat`) may not exceed the configured one,
   * whoever signed it and whenever: a token minted by hand with the secret, or before the lifetime
   * was shortened, is refused. `sub` must be the user id in plain decimal digits, and `akid` a
   * positive whole number.
   *
   * @throws {@link UnauthorizedError} saying why the token is refused (expired, bad signature, ...)
   */
  async verify(token: string): Promise<UserTokenClaims> {
    const maxLifetimeSeconds = lifetimeSeconds(this.maxTtlMs);
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.verifyingKey, {
        algorithms: [this.algorithm],
        issuer: ISSUER,
        audience: AUDIENCE,
        clockTolerance: CLOCK_TOLERANCE_SECONDS,
        // Also requires `iat`, and refuses one in the future (beyond the clock tolerance).
        maxTokenAge: maxLifetimeSeconds,
        requiredClaims: ['sub', 'exp', 'iat', 'jti'],
      }));
    } catch (error) {
      if (error instanceof joseErrors.JWTExpired) throw new UnauthorizedError('The user token has expired: mint a new one with POST /users/{id}/tokens.');
      if (error instanceof joseErrors.JWTClaimValidationFailed && error.claim === 'iat' && error.reason === 'check_failed') {
        throw new UnauthorizedError('The user token was issued in the future: check the clock of the server that minted it, and mint a new one.');
      }
      throw new UnauthorizedError('The user token is not valid (malformed, wrongly signed, or not issued by this service).');
    }
    if (payload.exp! - payload.iat! > maxLifetimeSeconds) {
      throw new UnauthorizedError(
        `The user token would be valid longer than this service allows (${maxLifetimeSeconds} s, USER_TOKEN_TTL_MS): mint a new one with POST /users/{id}/tokens.`,
      );
    }
    const userId = positiveSafeInteger(payload.sub);
    const apiKeyId = payload.akid;
    if (userId === null || typeof apiKeyId !== 'number' || !Number.isSafeInteger(apiKeyId) || apiKeyId < 1 || typeof payload.jti !== 'string' || payload.jti === '') {
      throw new UnauthorizedError('The user token does not name a user: mint a new one with POST /users/{id}/tokens.');
    }
    return { userId, apiKeyId, tokenId: payload.jti, expiresAt: new Date(payload.exp! * 1000) };
  }
}

/** The lifetime in whole seconds a token may have, as {@link UserTokens.mint} counts it. */
function lifetimeSeconds(ttlMs: number): number {
  return Math.max(1, Math.floor(ttlMs / 1000));
}

/**
 * A positive safe integer written in plain decimal digits (`42`), or null: `042`, `+42`, ` 42`,
 * `42.0`, `4.2e1` and `0x2a` all read as 42 to `Number()`, and none of them is the id `42`.
 */
function positiveSafeInteger(value: unknown): number | null {
  if (typeof value !== 'string' || !/^[1-9]\d{0,15}$/.test(value)) return null;
  const number = Number(value);
  return Number.isSafeInteger(number) ? number : null;
}

function algorithmOf(key: KeyObject): string {
  switch (key.asymmetricKeyType) {
    case 'ec':
      if (key.asymmetricKeyDetails?.namedCurve === 'prime256v1') return 'ES256';
      throw new Error('USER_TOKEN_PRIVATE_KEY: an EC key must be on the P-256 curve (ES256)');
    case 'ed25519':
      return 'EdDSA';
    case 'rsa':
      return 'RS256';
    default:
      throw new Error(`USER_TOKEN_PRIVATE_KEY: unsupported key type ${key.asymmetricKeyType ?? 'unknown'} (use P-256, Ed25519 or RSA)`);
  }
}
