import { captureLogs } from '@test/capture-logs';
import { TwilioSmsProvider } from '../src';
import type { LoopbackHttpServer } from './loopback/http-server';
import { startTwilioServer, twilioError } from './loopback/twilio-server';

const { logger } = captureLogs();
const accountSid = `AC${'a1'.repeat(16)}`;
const message = { notificationId: 3, to: '+33612345678', text: 'Rappel Notofine : votre contravention ABC123 est à régler.' };

let twilioApi: LoopbackHttpServer;
let provider: TwilioSmsProvider;
beforeAll(async () => {
  twilioApi = await startTwilioServer();
  provider = new TwilioSmsProvider(
    { accountSid, authToken: 'twilio-token', baseUrl: twilioApi.url, from: '+15005550006', timeoutMs: 500, statusCallbackUrl: 'https://notif.example/webhooks/twilio' },
    logger,
  );
});
afterAll(() => twilioApi.close());
beforeEach(() => twilioApi.requests.splice(0));

it('posts the message to the account’s Messages.json with basic auth and the status callback, and keeps the SID', async () => {
  const accepted = await provider.send(message);

  expect(accepted.providerMessageId).toMatch(/^SM\d{32}$/);
  const [request] = twilioApi.requests;
  expect(request?.path).toBe(`/2010-04-01/Accounts/${accountSid}/Messages.json`);
  expect(request?.headers.authorization).toBe(`Basic ${Buffer.from(`${accountSid}:twilio-token`).toString('base64')}`);
  expect(Object.fromEntries(new URLSearchParams(request!.body))).toEqual({
    To: '+33612345678',
    From: '+15005550006',
    Body: message.text,
    StatusCallback: 'https://notif.example/webhooks/twilio',
  });
});

it.each([
  ['429 with Retry-After: throttle', twilioError(429, 20429, 'Too Many Requests', { 'Retry-After': '3' }), { kind: 'throttle', retryAfterMs: 3000 }],
  ['503: retry', twilioError(503, 20503, 'Service Unavailable'), { kind: 'retry', retryAfterMs: undefined }],
  ['503 with Retry-After: retry, not before then', twilioError(503, 20503, 'Service Unavailable', { 'Retry-After': '5' }), { kind: 'retry', retryAfterMs: 5000 }],
  ['401 (20003): fail, credentials rejected', twilioError(401, 20003, 'Authenticate'), { kind: 'fail', message: expect.stringMatching(/^credentials rejected/) }],
  ['400 with 21211 (invalid To): fail, with Twilio’s message and code', twilioError(400, 21211, "The 'To' number +33000 is not a valid phone number."), { kind: 'fail', message: "HTTP 400: The 'To' number +33000 is not a valid phone number. (Twilio error 21211)" }],
  ['400 with 21610 (unsubscribed recipient): fail', twilioError(400, 21610, 'Attempt to send to unsubscribed recipient'), { kind: 'fail', message: expect.stringContaining('21610') }],
])('answers %s', async (_case, reply, expected) => {
  twilioApi.script(reply);

  await expect(provider.send(message)).rejects.toMatchObject(expected);
  expect(twilioApi.requests).toHaveLength(1);
});

it('masks the recipient’s number where Twilio quotes it back, with or without its plus, and keeps the rest', async () => {
  twilioApi.script(twilioError(400, 21211, "The 'To' number +33612345678 is not a valid phone number."), twilioError(503, 20503, 'No route to 33612345678'));

  const refused = await provider.send(message).catch((error: unknown) => error);
  const retried = await provider.send(message).catch((error: unknown) => error);

  expect(refused).toMatchObject({ kind: 'fail', message: "HTTP 400: The 'To' number +33******78 is not a valid phone number. (Twilio error 21211)" });
  expect(retried).toMatchObject({ kind: 'retry', message: 'HTTP 503: No route to +33******78 (Twilio error 20503)' });
  expect(String((refused as Error).stack)).not.toContain('612345678');
});

it('cuts off a server that does not answer, as a retriable error', async () => {
  twilioApi.script('hang');
  const started = Date.now();

  await expect(provider.send(message)).rejects.toMatchObject({ kind: 'retry' });

  expect(Date.now() - started).toBeLessThan(2000);
});

it('retries when nothing listens', async () => {
  const nobody = new TwilioSmsProvider({ accountSid, authToken: 't', baseUrl: 'http://127.0.0.1:1', from: '+15005550006', timeoutMs: 500, statusCallbackUrl: undefined }, logger);

  await expect(nobody.send(message)).rejects.toMatchObject({ kind: 'retry', message: expect.stringContaining('ECONNREFUSED') });
});
