import { createSign } from 'node:crypto';
import type { ServiceAccount } from '@notofine/config';
import { errorForHttpStatus, toProviderError } from './classify';
import { ProviderError } from './provider';

const DEFAULT_TOKEN_URI = 'https://oauth2.googleapis.com/token';
/** Refresh a token this long before it expires. */
const EXPIRY_MARGIN_MS = 60_000;

const base64url = (value: string | Buffer): string => Buffer.from(value).toString('base64url');

/**
 * OAuth2 access tokens of a Google service account (the JWT-bearer grant of RFC 7523): a JWT signed
 * with the account's private key, exchanged at the account's `token_uri`, cached until shortly
 * before it expires, one exchange at a time.
 *
 * Written here rather than taken from google-auth-library because that library ignores the
 * account's `token_uri` (so no test double can stand in for Google) and reports a rejected key
 * as a generic error, where the worker must tell "credentials rejected" (fail) from "Google is
 * down" (retry).
 */
export class GoogleTokenSource {
  private cached: { token: string; expiresAt: number } | undefined;
  private pending: Promise<string> | undefined;

  constructor(
    private readonly account: ServiceAccount,
    private readonly scope: string,
    private readonly timeoutMs: number,
  ) {}

  /** A valid access token. @throws {@link ProviderError} `fail` when the key is refused, `retry` otherwise */
  async token(): Promise<string> {
    if (this.cached && this.cached.expiresAt - EXPIRY_MARGIN_MS > Date.now()) return this.cached.token;
    this.pending ??= this.exchange().finally(() => {
      this.pending = undefined;
    });
    return this.pending;
  }

  /**
   * Forgets `token` if it is the one cached (the API refused it: revoked, or expired before its
   * time): the next call exchanges the key for another. A token already replaced is left alone, so
   * that requests refused together cause one exchange.
   */
  invalidate(token: string): void {
    if (this.cached?.token === token) this.cached = undefined;
  }

  /** The token's expiry, for firebase-admin's credential interface. */
  get expiresAt(): number {
    return this.cached?.expiresAt ?? 0;
  }

  private async exchange(): Promise<string> {
    const tokenUri = typeof this.account.token_uri === 'string' ? this.account.token_uri : DEFAULT_TOKEN_URI;
    const now = Math.floor(Date.now() / 1000);
    const header = base64url(JSON.stringify({ alg: 'RS256', typ: 'JWT' }));
    const claims = base64url(JSON.stringify({ iss: this.account.client_email, scope: this.scope, aud: tokenUri, iat: now, exp: now + 3600 }));
    let signature: string;
    try {
      signature = createSign('RSA-SHA256').update(`${header}.${claims}`).sign(this.account.private_key, 'base64url');
    } catch (error) {
      throw new ProviderError('fail', `the service account's private key cannot sign (${(error as Error).message})`, { cause: error });
    }

    let response: Response;
    try {
      response = await fetch(tokenUri, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion: `${header}.${claims}.${signature}` }),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (error) {
      throw toProviderError((error as Error).name === 'TimeoutError' ? new ProviderError('retry', 'token endpoint: no answer in time') : error);
    }
    const body = (await response.json().catch(() => ({}))) as { access_token?: string; expires_in?: number; error?: string; error_description?: string };
    if (!response.ok || typeof body.access_token !== 'string') {
      const detail = `token endpoint: ${body.error ?? 'no access token'}${body.error_description ? ` (${body.error_description})` : ''}`;
      // Google answers 400 invalid_grant (or 401) for a key it does not accept.
      if (response.status === 400 || response.status === 401 || response.status === 403) {
        throw new ProviderError('fail', `credentials rejected (${detail})`);
      }
      throw errorForHttpStatus(response.status, detail, { retryAfter: response.headers.get('retry-after') });
    }
    this.cached = { token: body.access_token, expiresAt: Date.now() + (body.expires_in ?? 3600) * 1000 };
    return body.access_token;
  }
}
