import { createVerify, generateKeyPairSync } from 'node:crypto';
import type { ServiceAccount } from '@notofine/config';
import { startHttpServer, type LoopbackHttpServer, type RecordedRequest, type Reply } from './http-server';

export const ACCESS_TOKEN = 'ya29.loopback-access-token';

/** An FCM HTTP v1 error answer, with the FcmError detail firebase-admin reads its code from. */
export function fcmError(status: number, googleStatus: string, errorCode: string, message: string): Reply {
  return {
    status,
    body: { error: { code: status, message, status: googleStatus, details: [{ '@type': 'type.googleapis.com/google.firebase.fcm.v1.FcmError', errorCode }] } },
  };
}

export interface LoopbackFcm {
  readonly server: LoopbackHttpServer;
  /** A service account whose `token_uri` is this loopback, with a fresh RSA key. */
  readonly serviceAccount: ServiceAccount;
  /** Per registration token, how `messages:send` answers (default: accepted). */
  readonly replies: Map<string, Reply>;
  /** How the token endpoint answers (default: a token when the assertion is well signed). */
  tokenReply: Reply | undefined;
  /** The registration tokens `messages:send` was called with, in order. */
  sends(): string[];
}

function verifiesAssertion(request: RecordedRequest, publicKey: string): boolean {
  const form = new URLSearchParams(request.body);
  const [header, claims, signature] = (form.get('assertion') ?? '').split('.');
  if (form.get('grant_type') !== 'urn:ietf:params:oauth:grant-type:jwt-bearer' || !header || !claims || !signature) return false;
  return createVerify('RSA-SHA256').update(`${header}.${claims}`).verify(publicKey, signature, 'base64url');
}

/**
 * Google's token endpoint and FCM's HTTP v1 API on one loopback port: `POST /token` exchanges a
 * JWT signed by the service account's key for an access token; `POST /v1/projects/{p}/messages:send`
 * wants that token and answers per registration token.
 */
export async function startFcmServer(projectId: string): Promise<LoopbackFcm> {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048, privateKeyEncoding: { type: 'pkcs8', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });
  const replies = new Map<string, Reply>();
  let sent = 0;
  const state: { tokenReply: Reply | undefined } = { tokenReply: undefined };
  const server = await startHttpServer((request) => {
    if (request.method === 'POST' && request.path === '/token') {
      if (state.tokenReply) return state.tokenReply;
      return verifiesAssertion(request, publicKey)
        ? { status: 200, body: { access_token: ACCESS_TOKEN, expires_in: 3599, token_type: 'Bearer' } }
        : { status: 400, body: { error: 'invalid_grant', error_description: 'Invalid JWT Signature.' } };
    }
    if (request.method === 'POST' && request.path === `/v1/projects/${projectId}/messages:send`) {
      if (request.headers.authorization !== `Bearer ${ACCESS_TOKEN}`) return fcmError(401, 'UNAUTHENTICATED', 'THIRD_PARTY_AUTH_ERROR', 'Request had invalid authentication credentials.');
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
  };
}
