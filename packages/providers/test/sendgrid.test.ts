import { captureLogs } from '@test/capture-logs';
import { SendGridEmailProvider } from '../src';
import type { LoopbackHttpServer } from './loopback/http-server';
import { startSendGridServer } from './loopback/sendgrid-server';

const { logger } = captureLogs();
const message = { notificationId: 7, to: 'jean.dupont@example.com', subject: 'Rappel : contravention impayée', text: 'Votre contravention #ABC123 est due.' };

let sendgrid: LoopbackHttpServer;
let provider: SendGridEmailProvider;
beforeAll(async () => {
  sendgrid = await startSendGridServer();
  provider = new SendGridEmailProvider({ apiKey: 'SG.test-key', baseUrl: sendgrid.url, from: 'Notofine <no-reply@notofine.fr>', timeoutMs: 500 }, logger);
});
afterAll(() => sendgrid.close());
beforeEach(() => sendgrid.requests.splice(0));

it('posts the message to /v3/mail/send with the API key, and keeps the X-Message-Id', async () => {
  const accepted = await provider.send(message);

  expect(accepted.providerMessageId).toMatch(/^sg-\d+$/);
  expect(sendgrid.requests).toHaveLength(1);
  const [request] = sendgrid.requests;
  expect(request?.headers.authorization).toBe('Bearer SG.test-key');
  expect(JSON.parse(request!.body)).toMatchObject({
    personalizations: [{ to: [{ email: 'jean.dupont@example.com' }] }],
    from: { email: 'no-reply@notofine.fr', name: 'Notofine' },
    subject: 'Rappel : contravention impayée',
    content: [
      { type: 'text/plain', value: 'Votre contravention #ABC123 est due.' },
      { type: 'text/html', value: expect.stringContaining('<p>Votre contravention #ABC123 est due.</p>') },
    ],
    custom_args: { notification_id: '7' },
  });
});

it.each([
  ['429 with Retry-After: throttle for that long', { status: 429, headers: { 'Retry-After': '7' }, body: { errors: [{ message: 'too many requests' }] } }, { kind: 'throttle', retryAfterMs: 7000 }],
  ['500: retry', { status: 500, body: { errors: [{ message: 'internal error' }] } }, { kind: 'retry' }],
  ['400: fail, with SendGrid’s message', { status: 400, body: { errors: [{ message: 'Does not contain a valid address.', field: 'personalizations.0.to.0.email' }] } }, { kind: 'fail', message: 'HTTP 400: personalizations.0.to.0.email: Does not contain a valid address.' }],
  ['401: fail, credentials rejected', { status: 401, body: { errors: [{ message: 'The provided authorization grant is invalid' }] } }, { kind: 'fail', message: expect.stringMatching(/^credentials rejected/) }],
  ['413: fail', { status: 413, body: { errors: [{ message: 'Payload too large' }] } }, { kind: 'fail' }],
])('answers %s', async (_case, reply, expected) => {
  sendgrid.script(reply);

  await expect(provider.send(message)).rejects.toMatchObject(expected);
  expect(sendgrid.requests).toHaveLength(1);
});

it('reads the reset time of the rate-limit window when there is no Retry-After', async () => {
  sendgrid.script({ status: 429, headers: { 'X-RateLimit-Reset': String(Math.floor(Date.now() / 1000) + 30) }, body: { errors: [] } });

  const failure = provider.send(message);

  await expect(failure).rejects.toMatchObject({ kind: 'throttle', retryAfterMs: expect.any(Number) });
  const { retryAfterMs } = (await failure.catch((error: { retryAfterMs: number }) => error)) as { retryAfterMs: number };
  expect(retryAfterMs).toBeGreaterThan(25_000);
  expect(retryAfterMs).toBeLessThanOrEqual(31_000);
});

it('cuts off a server that does not answer, as a retriable error', async () => {
  sendgrid.script('hang');
  const started = Date.now();

  await expect(provider.send(message)).rejects.toMatchObject({ kind: 'retry' });

  expect(Date.now() - started).toBeLessThan(2000);
});

it('retries when nothing listens', async () => {
  const nobody = new SendGridEmailProvider({ apiKey: 'SG.test-key', baseUrl: 'http://127.0.0.1:1', from: 'no-reply@notofine.fr', timeoutMs: 500 }, logger);

  await expect(nobody.send(message)).rejects.toMatchObject({ kind: 'retry', message: expect.stringContaining('ECONNREFUSED') });
});
