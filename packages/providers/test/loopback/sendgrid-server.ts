import { startHttpServer, type LoopbackHttpServer } from './http-server';

/**
 * SendGrid's v3 mail API as a loopback: `POST /v3/mail/send` with a bearer key answers 202 and an
 * `X-Message-Id` (`sg-<n>`); anything else 404.
 */
export function startSendGridServer(): Promise<LoopbackHttpServer> {
  let sent = 0;
  return startHttpServer((request) => {
    if (request.method !== 'POST' || request.path !== '/v3/mail/send') return { status: 404, body: { errors: [{ message: 'not found' }] } };
    sent += 1;
    return { status: 202, headers: { 'X-Message-Id': `sg-${sent}` } };
  });
}
