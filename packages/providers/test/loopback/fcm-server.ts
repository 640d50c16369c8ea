import { createVerify, generateKeyPairSync } from 'node:crypto';
import type { ServiceAccount } from '@notofine/config';
import { startHttpServer, type LoopbackHttpServer, type RecordedRequest, type Reply } from './http-server';

/**
 * An FCM HTTP v1 error answer, with the FcmError detail firebase-admin reads its code from, and
 * the other details Google adds (a QuotaFailure, an ErrorInfo).
 */
export function fcmError(
  status: number,
  googleStatus: string,
  errorCode: string,
  message: string,
  options: { headers?: Record<string, string>; details?: ReadonlyArray<Record<string, unknown>> } = {},
): Reply {
  const details = [{ '@type': 'type.googleapis.com/google.firebase.fcm.v1.FcmError', errorCode }, ...(options.details ?? [])];
  return { status, headers: options.headers ?? {}, body: { error: { code: status, message, status: googleStatus, details } } };
}

/** FCM's QUOTA_EXCEEDED for a device sent more than its own rate allows, with the QuotaFailure that says so. */
export function deviceQuotaExceeded(headers: Record<string, string> = {}): Reply {
  return fcmError(429, 'RESOURCE_EXHAUSTED', 'QUOTA_EXCEEDED', 'Device message rate exceeded.', {
    headers,
    details: [{ '@type': 'type.googleapis.com/google.rpc.QuotaFailure', violations: [{ subject: 'device', description: 'Device message rate exceeded.' }] }],
  });
}

/** FCM's QUOTA_EXCEEDED for the project's per-minute quota, as Google words it. */
export function projectQuotaExceeded(headers: Record<string, string> = {}): Reply {
  return fcmError(429, 'RESOURCE_EXHAUSTED', 'QUOTA_EXCEEDED', "Quota exceeded for quota metric 'Send requests' and limit 'Send requests per minute' of service 'fcm.googleapis.com'.", {
    headers,
    details: [
      {
        '@type': 'type.googleapis.com/google.rpc.ErrorInfo',
        reason: 'RATE_LIMIT_EXCEEDED',
        domain: 'googleapis.com',
        metadata: { quota_metric: 'fcm.googleapis.com/send_requests', quota_limit: 'SendsPerMinutePerProject', service: 'fcm.googleapis.com' },
      },
    ],
  });
}

/**
 * Google's answer to a request whose access token it does not take (expired, revoked): 401
 * UNAUTHENTICATED with an ErrorInfo, and no FcmError (that one, THIRD_PARTY_AUTH_ERROR, is about
 * APNs or web push credentials).
 */
export function unauthenticated(reason = 'ACCESS_TOKEN_EXPIRED'): Reply {
  return {
    status: 401,
    headers: { 'WWW-Authenticate': 'Bearer realm="https://accounts.google.com/", error="invalid_token"' },
    body: {
      error: {
        code: 401,
        message: 'Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.',
        status: 'UNAUTHENTICATED',
        details: [{ '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason, domain: 'googleapis.com', metadata: { service: 'fcm.googleapis.com', method: 'google.firebase.fcm.v1.FcmService.SendMessage' } }],
      },
    },
  };
}

export interface LoopbackFcm {
  readonly server: LoopbackHttpServer;
  /** A service account whose `token_uri` is this loopback, with a fresh RSA key. */
  readonly serviceAccount: ServiceAccount;
  /** Per registration token, how `messages:send` answers (default: accepted). */
  readonly replies: Map<string, Reply>;
  /** How the token endpoint answers (default: a new access token when the assertion is well signed). */
  tokenReply: Reply | undefined;
  /** The registration tokens `messages:send` was called with, in order. */
  sends(): string[];
  /** The access tokens the token endpoint issued, in order. */
  issuedAccessTokens(): string[];
  /** Makes every access token issued so far invalid, as an expiry or a revocation does: FCM answers 401 to them. */
  revokeAccessTokens(): void;
}

function verifiesAssertion(request: RecordedRequest, publicKey: string): boolean {
  const form = new URLSearchParams(request.body);
  const [header, claims, signature] = (form.get('assertion') ?? '').split('.');
  if (form.get('grant_type') !== 'urn:ietf:params:oauth:grant-type:jwt-bearer' || !header || !claims || !signature) return false;
  return createVerify('RSA-SHA256').update(`${header}.${claims}`).verify(publicKey, signature, 'base64url');
}

/**
 * Google's token endpoint and FCM's HTTP v1 API on one loopback port: `POST /token` exchanges a
 * JWT signed by the service account's key for a new access token; `POST /v1/projects/{p}/messages:send`
 * wants a token issued and not revoked (401 UNAUTHENTICATED otherwise) and answers per registration
 * token.
 */
export async function startFcmServer(projectId: string): Promise<LoopbackFcm> {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048, privateKeyEncoding: { type: 'pkcs8', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });
  const replies = new Map<string, Reply>();
  const issued: string[] = [];
  const valid = new Set<string>();
  let sent = 0;
  const state: { tokenReply: Reply | undefined } = { tokenReply: undefined };
  const server = await startHttpServer((request) => {
    if (request.method === 'POST' && request.path === '/token') {
      if (state.tokenReply) return state.tokenReply;
      if (!verifiesAssertion(request, publicKey)) return { status: 400, body: { error: 'invalid_grant', error_description: 'Invalid JWT Signature.' } };
      const accessToken = `ya29.loopback-access-token-${issued.length + 1}`;
      issued.push(accessToken);
      valid.add(accessToken);
      return { status: 200, body: { access_token: accessToken, expires_in: 3599, token_type: 'Bearer' } };
    }
    if (request.method === 'POST' && request.path === `/v1/projects/${projectId}/messages:send`) {
      const bearer = /^Bearer (\S+)$/.exec(request.headers.authorization ?? '')?.[1];
      if (!bearer || !valid.has(bearer)) return unauthenticated();
      const token = (JSON.parse(request.body) as { message: { token: string } }).message.token;
      const reply = replies.get(token);
      if (reply) return reply;
      sent += 1;
      return { status: 200, body: { name: `projects/${projectId}/messages/${sent}` } };
    }
    return { status: 404, body: { error: { code: 404, message: 'not found', status: 'NOT_FOUND' } } };
  });
  return {
    server,
    serviceAccount: {
      type: 'service_account',
      project_id: projectId,
      private_key: privateKey,
      client_email: `fcm@${projectId}.iam.gserviceaccount.com`,
      token_uri: `${server.url}/token`,
    },
    replies,
    get tokenReply() {
      return state.tokenReply;
    },
    set tokenReply(reply: Reply | undefined) {
      state.tokenReply = reply;
    },
    sends: () =>
      server.requests
        .filter((request) => request.path.endsWith('/messages:send'))
        .map((request) => (JSON.parse(request.body) as { message: { token: string } }).message.token),
    issuedAccessTokens: () => [...issued],
    revokeAccessTokens: () => valid.clear(),
  };
}
