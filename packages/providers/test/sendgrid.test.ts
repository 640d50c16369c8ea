import { inspect } from 'node:util';
import { captureLogs } from '@test/capture-logs';
import { SendGridEmailProvider, type EmailMessage, type ProviderError } from '../src';
import { sendGridError, startSendGridServer, type LoopbackSendGrid } from './loopback/sendgrid-server';

const { logger } = captureLogs();
const API_KEY = 'SG.test-key.0123456789abcdef';
const timeoutMs = 500;
const message: EmailMessage = {
  notificationId: 7,
  to: 'jean.dupont@example.com',
  subject: 'Rappel : contravention impayée à régler',
  text: 'Bonjour,\n\nVotre contravention #ABC123 est due.',
};

let sendgrid: LoopbackSendGrid;
let provider: SendGridEmailProvider;
beforeAll(async () => {
  sendgrid = await startSendGridServer({ apiKey: API_KEY });
  provider = new SendGridEmailProvider({ apiKey: API_KEY, baseUrl: sendgrid.url, from: 'Notofine <no-reply@notofine.fr>', timeoutMs }, logger);
});
afterAll(async () => {
  await provider.close();
  await sendgrid.close();
});
beforeEach(() => sendgrid.reset());

/** The error a send was rejected with. */
async function failureOf(sending: Promise<unknown>): Promise<ProviderError> {
  return sending.then(
    () => {
      throw new Error('the send was accepted');
    },
    (error: ProviderError) => error,
  );
}

it('posts the message to /v3/mail/send with the API key, a text and an HTML part, and keeps the X-Message-Id', async () => {
  const accepted = await provider.send(message);

  expect(accepted.providerMessageId).toBe('sg-1');
  expect(sendgrid.requests).toHaveLength(1);
  const [request] = sendgrid.requests;
  expect(request).toMatchObject({ method: 'POST', path: '/v3/mail/send' });
  expect(request?.headers.authorization).toBe(`Bearer ${API_KEY}`);
  expect(request?.headers['content-type']).toMatch(/^application\/json/);
  expect(sendgrid.mails()).toEqual([
    {
      personalizations: [{ to: [{ email: 'jean.dupont@example.com' }] }],
      from: { email: 'no-reply@notofine.fr', name: 'Notofine' },
      subject: 'Rappel : contravention impayée à régler',
      content: [
        { type: 'text/plain', value: message.text },
        { type: 'text/html', value: expect.stringContaining('<p>Bonjour,</p>\n<p>Votre contravention #ABC123 est due.</p>') },
      ],
      custom_args: { notification_id: '7' },
    },
  ]);
});

it('sends the one-click unsubscribe headers (RFC 8058), and the link in the HTML part', async () => {
  const url = 'https://notify.example.test/unsubscribe/MTIuZW1haWw.sig';

  await provider.send({ ...message, text: `${message.text}\n\n-- \nNe plus recevoir ces emails : ${url}`, unsubscribeUrl: url });

  const [mail] = sendgrid.mails().slice(-1);
  expect(mail!.headers).toEqual({ 'List-Unsubscribe': `<${url}>`, 'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click' });
  expect(mail!.content[1]!.value).toContain(`Ne plus recevoir ces emails : <a href="${url}">${url}</a>`);
});

it('sends a template\'s own HTML body as the HTML part, in the message\'s language, next to the text', async () => {
  await provider.send({ ...message, html: '<p>Your ticket <strong>AB-123</strong></p>', lang: 'en' });

  const [mail] = sendgrid.mails().slice(-1);
  expect(mail!.content[0]).toEqual({ type: 'text/plain', value: message.text });
  expect(mail!.content[1]!.value).toMatch(/<html lang="en">.*<body>\n<p>Your ticket <strong>AB-123<\/strong><\/p>\n<\/body>/s);
});

it.each([
  ['500: retry', sendGridError(500, ['internal error']), { kind: 'retry', message: 'HTTP 500: internal error' }],
  ['503: retry', { status: 503, body: 'upstream connect error' }, { kind: 'retry', message: 'HTTP 503: upstream connect error', retryAfterMs: undefined }],
  ['503 with Retry-After: retry, not before then', { status: 503, headers: { 'Retry-After': '30' }, body: 'maintenance' }, { kind: 'retry', retryAfterMs: 30_000 }],
  [
    '500 with X-RateLimit-Reset only: retry, the reset says nothing of when SendGrid is back',
    sendGridError(500, ['internal error'], { 'X-RateLimit-Reset': String(Math.floor(Date.now() / 1000) + 600) }),
    { kind: 'retry', retryAfterMs: undefined },
  ],
  [
    '400: fail, with SendGrid’s messages',
    sendGridError(400, [
      { field: 'personalizations.0.to.0.email', message: 'Does not contain a valid address.' },
      { field: 'subject', message: 'The subject is required.' },
    ]),
    { kind: 'fail', message: 'HTTP 400: personalizations.0.to.0.email: Does not contain a valid address.; subject: The subject is required.' },
  ],
  [
    '403: fail, credentials rejected',
    sendGridError(403, ['The from address does not match a verified Sender Identity.']),
    { kind: 'fail', message: 'credentials rejected (HTTP 403: The from address does not match a verified Sender Identity.)' },
  ],
  ['413: fail', sendGridError(413, ['Payload Too Large']), { kind: 'fail', message: 'HTTP 413: Payload Too Large' }],
  [
    '400 quoting the address: fail, the address masked',
    sendGridError(400, ['jean.dupont@example.com is on a suppression list.']),
    { kind: 'fail', message: 'HTTP 400: j***@example.com is on a suppression list.' },
  ],
])('classifies %s, after a single call', async (_case, reply, expected) => {
  sendgrid.respondWith(reply);

  await expect(provider.send(message)).rejects.toMatchObject(expected);
  expect(sendgrid.sendCalls()).toBe(1);
});

it('fails with rejected credentials when SendGrid refuses the API key (401), after a single call', async () => {
  const wrongKey = new SendGridEmailProvider({ apiKey: 'SG.revoked-key', baseUrl: sendgrid.url, from: 'no-reply@notofine.fr', timeoutMs }, logger);

  await expect(wrongKey.send(message)).rejects.toMatchObject({
    kind: 'fail',
    message: 'credentials rejected (HTTP 401: The provided authorization grant is invalid, expired, or revoked)',
  });
  expect(sendgrid.sendCalls()).toBe(1);
  await wrongKey.close();
});

it('throttles for the Retry-After of a 429, after a single call', async () => {
  sendgrid.respondWith(sendGridError(429, ['too many requests'], { 'Retry-After': '7' }));

  await expect(provider.send(message)).rejects.toMatchObject({ kind: 'throttle', retryAfterMs: 7000 });
  expect(sendgrid.sendCalls()).toBe(1);
});

it('throttles until the X-RateLimit-Reset of a 429 that has no Retry-After', async () => {
  sendgrid.respondWith(sendGridError(429, ['too many requests'], { 'X-RateLimit-Limit': '600', 'X-RateLimit-Remaining': '0', 'X-RateLimit-Reset': String(Math.floor(Date.now() / 1000) + 30) }));

  const failure = await failureOf(provider.send(message));

  expect(failure.kind).toBe('throttle');
  expect(failure.retryAfterMs).toBeGreaterThan(28_000);
  expect(failure.retryAfterMs).toBeLessThanOrEqual(30_000);
});

it('throttles without a delay of its own when a 429 says nothing of when to come back', async () => {
  sendgrid.respondWith(sendGridError(429, ['too many requests']));

  await expect(provider.send(message)).rejects.toMatchObject({ kind: 'throttle', retryAfterMs: undefined });
});

it.each([
  ['never answers', 'hang' as const],
  ['sends its headers, then trickles a body that never ends', 'trickle' as const],
])('gives up on a server that %s after about the timeout, as a retriable error, after a single call', async (_case, reply) => {
  sendgrid.respondWith(reply);
  const started = Date.now();

  await expect(provider.send(message)).rejects.toMatchObject({ kind: 'retry', message: `SendGrid did not answer within ${timeoutMs} ms` });

  const elapsed = Date.now() - started;
  expect(elapsed).toBeGreaterThanOrEqual(timeoutMs - 50);
  expect(elapsed).toBeLessThan(timeoutMs + 1000);
  expect(sendgrid.sendCalls()).toBe(1);
});

it('does not follow a redirect, so the API key goes nowhere else: the 3xx fails the call', async () => {
  sendgrid.respondWith({ status: 307, headers: { Location: `${sendgrid.url}/elsewhere` } });

  await expect(provider.send(message)).rejects.toMatchObject({ kind: 'fail', message: 'HTTP 307' });
  expect(sendgrid.requests.map((request) => request.path)).toEqual(['/v3/mail/send']);
});

it('retries when nothing listens', async () => {
  const nobody = new SendGridEmailProvider({ apiKey: API_KEY, baseUrl: 'http://127.0.0.1:1', from: 'no-reply@notofine.fr', timeoutMs }, logger);

  await expect(nobody.send(message)).rejects.toMatchObject({ kind: 'retry', message: expect.stringContaining('ECONNREFUSED') });
  await nobody.close();
});

it('keeps the API key out of the error, whatever shows it', async () => {
  const nobody = new SendGridEmailProvider({ apiKey: API_KEY, baseUrl: 'http://127.0.0.1:1', from: 'no-reply@notofine.fr', timeoutMs }, logger);
  sendgrid.respondWith('hang', sendGridError(400, ['Bad Request']));

  const timedOut = await failureOf(provider.send(message));
  const rejected = await failureOf(provider.send(message));
  const refused = await failureOf(nobody.send(message));
  await nobody.close();

  for (const failure of [timedOut, refused, rejected]) {
    expect(inspect(failure, { depth: 10 })).not.toContain(API_KEY);
    expect(JSON.stringify(failure)).not.toContain(API_KEY);
    expect(failure.cause).toBeDefined();
  }
});
