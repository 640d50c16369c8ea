import { captureLogs } from '@test/capture-logs';
import { VonageSmsProvider } from '../src';
import type { LoopbackHttpServer } from './loopback/http-server';
import { startVonageServer, vonageAnswer, vonagePart } from './loopback/vonage-server';

const { logger } = captureLogs();
const message = { notificationId: 12, to: '+33612345678', text: 'Rappel Notofine : votre contravention ABC123 est à régler avant le 15 décembre.' };

let vonage: LoopbackHttpServer;
let provider: VonageSmsProvider;
beforeAll(async () => {
  vonage = await startVonageServer();
  provider = new VonageSmsProvider(
    { apiKey: 'vonage-key', apiSecret: 'vonage-secret', baseUrl: vonage.url, from: 'Notofine', timeoutMs: 500, statusCallbackUrl: 'https://notif.example/webhooks/vonage' },
    logger,
  );
});
afterAll(() => vonage.close());
beforeEach(() => vonage.requests.splice(0));

it('posts the SMS to /sms/json with the account’s credentials and the receipt callback, and keeps the message id', async () => {
  const accepted = await provider.send(message);

  expect(accepted.providerMessageId).toMatch(/^vonage-/);
  const [request] = vonage.requests;
  expect(request?.headers.authorization).toBe(`Basic ${Buffer.from('vonage-key:vonage-secret').toString('base64')}`);
  expect(JSON.parse(request!.body)).toMatchObject({
    to: '33612345678',
    from: 'Notofine',
    text: message.text,
    callback: 'https://notif.example/webhooks/vonage',
    'client-ref': '12',
  });
  expect(JSON.parse(request!.body)).not.toHaveProperty('type');
});

it('asks for a unicode SMS when the text is outside the GSM alphabet', async () => {
  await provider.send({ ...message, text: 'Rappel : contravention à payer côté préfecture ✅' });

  expect(JSON.parse(vonage.requests[0]!.body)).toMatchObject({ type: 'unicode' });
});

it('accepts a long text sent in several parts when every part is accepted, keeping the first id', async () => {
  vonage.script(vonageAnswer(vonagePart('0', { 'message-id': 'part-1' }), vonagePart('0', { 'message-id': 'part-2' })));

  await expect(provider.send({ ...message, text: 'x'.repeat(300) })).resolves.toEqual({ providerMessageId: 'part-1' });
});

it.each([
  ['status 1 (throttled): throttle for a second', ['1'], { kind: 'throttle', retryAfterMs: 1000 }],
  ['status 5 (internal error): retry', ['5'], { kind: 'retry' }],
  ['status 10 (too many binds): retry', ['10'], { kind: 'retry' }],
  ['status 3 (invalid parameters): fail, with Vonage’s text', ['3'], { kind: 'fail', message: 'Vonage refused the SMS: status 3 (error 3)' }],
  ['status 29 (non-whitelisted destination): fail', ['29'], { kind: 'fail' }],
  ['one part refused out of two: the refusal decides', ['0', '6'], { kind: 'fail', message: expect.stringContaining('status 6') }],
])('answers %s', async (_case, statuses, expected) => {
  vonage.script(vonageAnswer(...statuses.map((status) => vonagePart(status))));

  await expect(provider.send(message)).rejects.toMatchObject(expected);
  expect(vonage.requests).toHaveLength(1);
});

it.each([
  ['HTTP 429: throttle', { status: 429, headers: { 'Retry-After': '2' } }, { kind: 'throttle', retryAfterMs: 2000 }],
  ['HTTP 500: retry', { status: 500 }, { kind: 'retry', retryAfterMs: undefined }],
  ['HTTP 503 with Retry-After: retry, not before then', { status: 503, headers: { 'Retry-After': '4' } }, { kind: 'retry', retryAfterMs: 4000 }],
  ['HTTP 401: fail, credentials rejected', { status: 401, body: { type: 'https://developer.nexmo.com/api-errors#unauthorized', title: 'Unauthorized' } }, { kind: 'fail', message: expect.stringMatching(/^credentials rejected/) }],
])('answers %s', async (_case, reply, expected) => {
  vonage.script(reply);

  await expect(provider.send(message)).rejects.toMatchObject(expected);
});

it('masks the recipient’s number where Vonage quotes it back', async () => {
  vonage.script(vonageAnswer(vonagePart('6', { 'error-text': 'Unroutable message - rejected for 33612345678' })));

  await expect(provider.send(message)).rejects.toMatchObject({ kind: 'fail', message: 'Vonage refused the SMS: status 6 (Unroutable message - rejected for +33******78)' });
});

it('cuts off a server that does not answer, as a retriable error', async () => {
  vonage.script('hang');
  const started = Date.now();

  await expect(provider.send(message)).rejects.toMatchObject({ kind: 'retry' });

  expect(Date.now() - started).toBeLessThan(2000);
});
