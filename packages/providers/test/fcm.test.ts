import { generateKeyPairSync } from 'node:crypto';
import { captureLogs } from '@test/capture-logs';
import { FcmPushProvider } from '../src';
import { deviceQuotaExceeded, fcmError, projectQuotaExceeded, startFcmServer, unauthenticated, type LoopbackFcm } from './loopback/fcm-server';

const { logger } = captureLogs();
const projectId = 'notofine-test';
/** Long enough for the loopback to verify a signed JWT on a busy machine; a device that hangs costs that long. */
const TIMEOUT_MS = 2000;
const tokenRequests = () => fcm.server.requests.filter((request) => request.path === '/token').length;
const sendRequests = () => fcm.server.requests.filter((request) => request.path.endsWith('/messages:send'));
const push = (tokens: string[]) => ({ notificationId: 5, tokens, title: 'Rappel de paiement', body: 'Votre contravention ABC123 est due.' });

let fcm: LoopbackFcm;
let provider: FcmPushProvider;
beforeAll(async () => {
  fcm = await startFcmServer(projectId);
  provider = new FcmPushProvider({ projectId, credentials: fcm.serviceAccount, baseUrl: fcm.server.url, timeoutMs: TIMEOUT_MS }, logger);
});
afterAll(async () => {
  await provider.close();
  await fcm.server.close();
});
beforeEach(() => {
  fcm.server.requests.splice(0);
  fcm.replies.clear();
  fcm.tokenReply = undefined;
});

it('exchanges a JWT signed with the service account’s key for a token, then sends one message per device', async () => {
  const outcome = await provider.send(push(['token-a', 'token-b']));

  expect(outcome.refused).toEqual([]);
  expect(outcome.accepted.map((a) => a.token).sort()).toEqual(['token-a', 'token-b']);
  expect(outcome.accepted.every((a) => a.providerMessageId?.startsWith(`projects/${projectId}/messages/`))).toBe(true);
  expect(fcm.sends().sort()).toEqual(['token-a', 'token-b']);
  const send = fcm.server.requests.find((request) => request.path.endsWith('/messages:send'))!;
  expect(send.headers.authorization).toBe(`Bearer ${fcm.issuedAccessTokens().at(-1)}`);
  expect(JSON.parse(send.body)).toEqual({ message: { token: expect.any(String), notification: { title: 'Rappel de paiement', body: 'Votre contravention ABC123 est due.' } } });
});

it('reuses the access token until it nears its expiry', async () => {
  await provider.send(push(['token-a']));
  await provider.send(push(['token-b']));

  expect(tokenRequests()).toBe(0);
});

it('refuses only the devices FCM reports unregistered or invalid, and serves the others', async () => {
  fcm.replies.set('dead', fcmError(404, 'NOT_FOUND', 'UNREGISTERED', 'Requested entity was not found.'));
  fcm.replies.set('garbage', fcmError(400, 'INVALID_ARGUMENT', 'INVALID_ARGUMENT', 'The registration token is not a valid FCM registration token'));

  const outcome = await provider.send(push(['alive', 'dead', 'garbage']));

  expect(outcome.accepted.map((a) => a.token)).toEqual(['alive']);
  expect(outcome.refused.map((r) => [r.token, r.error.kind]).sort()).toEqual([
    ['dead', 'invalid-address'],
    ['garbage', 'invalid-address'],
  ]);
});

it.each([
  ['INVALID_ARGUMENT about the message: fail', fcmError(400, 'INVALID_ARGUMENT', 'INVALID_ARGUMENT', 'Invalid value at message.notification.title'), { kind: 'fail' }],
  ['SENDER_ID_MISMATCH: fail', fcmError(403, 'PERMISSION_DENIED', 'SENDER_ID_MISMATCH', 'SenderId mismatch'), { kind: 'fail' }],
  ['THIRD_PARTY_AUTH_ERROR: fail', fcmError(401, 'UNAUTHENTICATED', 'THIRD_PARTY_AUTH_ERROR', 'APNs rejected the certificate'), { kind: 'fail' }],
  ['QUOTA_EXCEEDED: throttle for a minute', fcmError(429, 'RESOURCE_EXHAUSTED', 'QUOTA_EXCEEDED', 'Quota exceeded'), { kind: 'throttle', retryAfterMs: 60_000, scope: 'provider' }],
  ['QUOTA_EXCEEDED of the project: the whole channel waits, for its Retry-After', projectQuotaExceeded({ 'Retry-After': '12' }), { kind: 'throttle', retryAfterMs: 12_000, scope: 'provider' }],
  ['QUOTA_EXCEEDED of one device: only that device waits, a minute', deviceQuotaExceeded(), { kind: 'throttle', retryAfterMs: 60_000, scope: 'recipient' }],
  ['QUOTA_EXCEEDED of one device: only that device waits, for its Retry-After', deviceQuotaExceeded({ 'Retry-After': '20' }), { kind: 'throttle', retryAfterMs: 20_000, scope: 'recipient' }],
  ['INTERNAL: retry', fcmError(500, 'INTERNAL', 'INTERNAL', 'Internal error'), { kind: 'retry', retryAfterMs: undefined }],
  ['INTERNAL with Retry-After: retry, not before then', fcmError(500, 'INTERNAL', 'INTERNAL', 'Internal error', { headers: { 'Retry-After': '3' } }), { kind: 'retry', retryAfterMs: 3000 }],
  ['UNAVAILABLE with Retry-After: retry, not before then', fcmError(503, 'UNAVAILABLE', 'UNAVAILABLE', 'The service is currently unavailable.', { headers: { 'Retry-After': '7' } }), { kind: 'retry', retryAfterMs: 7000 }],
  ['a 503 that is not JSON: retry', { status: 503, body: 'upstream connect error or disconnect/reset before headers' }, { kind: 'retry', message: 'HTTP 503: upstream connect error or disconnect/reset before headers' }],
  ['UNREGISTERED: the device is gone', fcmError(404, 'NOT_FOUND', 'UNREGISTERED', 'Requested entity was not found.'), { kind: 'invalid-address', message: 'UNREGISTERED: Requested entity was not found.' }],
])('classifies %s', async (_case, reply, expected) => {
  fcm.replies.set('token-x', reply);

  const outcome = await provider.send(push(['token-x']));

  expect(outcome.accepted).toEqual([]);
  expect(outcome.refused).toEqual([{ token: 'token-x', error: expect.objectContaining(expected) }]);
  expect(fcm.sends()).toEqual(['token-x']);
});

it('classifies UNAVAILABLE as retry, and leaves the retrying to the worker (the SDK does not retry behind its back)', async () => {
  fcm.replies.set('token-x', fcmError(503, 'UNAVAILABLE', 'UNAVAILABLE', 'The service is currently unavailable.'));

  const outcome = await provider.send(push(['token-x']));

  expect(outcome.refused).toEqual([{ token: 'token-x', error: expect.objectContaining({ kind: 'retry' }) }]);
  expect(fcm.sends()).toEqual(['token-x']);
});

it('retries a device whose send does not answer', async () => {
  fcm.replies.set('slow', 'hang');

  const outcome = await provider.send(push(['slow']));

  expect(outcome.refused).toEqual([{ token: 'slow', error: expect.objectContaining({ kind: 'retry' }) }]);
});

it('fails the whole call, before any device, when Google refuses the service account', async () => {
  const strangerKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const stranger = new FcmPushProvider({ projectId, credentials: { ...fcm.serviceAccount, private_key: strangerKey }, baseUrl: fcm.server.url, timeoutMs: TIMEOUT_MS }, logger);

  const sending = stranger.send(push(['token-a']));

  await expect(sending).rejects.toMatchObject({ kind: 'fail', message: expect.stringMatching(/^credentials rejected \(token endpoint: invalid_grant/) });
  expect(fcm.sends()).toEqual([]);
  await stranger.close();
});

it('retries when the token endpoint is down', async () => {
  const cold = new FcmPushProvider({ projectId, credentials: fcm.serviceAccount, baseUrl: fcm.server.url, timeoutMs: TIMEOUT_MS }, logger);
  fcm.tokenReply = { status: 503, body: { error: 'backend_error' } };

  await expect(cold.send(push(['token-a']))).rejects.toMatchObject({ kind: 'retry' });
  await cold.close();
});

describe('an access token FCM no longer takes (401 UNAUTHENTICATED)', () => {
  it('is dropped: a new one is fetched and the device sent to again, once', async () => {
    await provider.send(push(['token-a']));
    fcm.revokeAccessTokens();
    fcm.server.requests.splice(0);

    const outcome = await provider.send(push(['token-b']));

    expect(outcome).toEqual({ accepted: [{ token: 'token-b', providerMessageId: expect.stringMatching(/^projects\//) }], refused: [] });
    expect(tokenRequests()).toBe(1);
    const [refused, retried] = sendRequests();
    expect(sendRequests()).toHaveLength(2);
    expect(retried!.headers.authorization).toBe(`Bearer ${fcm.issuedAccessTokens().at(-1)}`);
    expect(refused!.headers.authorization).not.toBe(retried!.headers.authorization);
  });

  it('is replaced by one new token for all the devices of a call', async () => {
    await provider.send(push(['token-a']));
    fcm.revokeAccessTokens();
    fcm.server.requests.splice(0);

    const outcome = await provider.send(push(['token-a', 'token-b', 'token-c']));

    expect(outcome.accepted.map((accepted) => accepted.token).sort()).toEqual(['token-a', 'token-b', 'token-c']);
    expect(tokenRequests()).toBe(1);
  });

  it('fails the devices as rejected credentials when the token endpoint then refuses the key', async () => {
    await provider.send(push(['token-a']));
    fcm.revokeAccessTokens();
    fcm.tokenReply = { status: 400, body: { error: 'invalid_grant', error_description: 'Invalid JWT Signature.' } };

    const outcome = await provider.send(push(['token-a']));

    expect(outcome.accepted).toEqual([]);
    expect(outcome.refused).toEqual([{ token: 'token-a', error: expect.objectContaining({ kind: 'fail', message: expect.stringMatching(/^credentials rejected \(token endpoint: invalid_grant/) }) }]);
  });

  it('is retried later, not failed, when FCM refuses the new token as well', async () => {
    await provider.send(push(['token-a']));
    fcm.server.requests.splice(0);
    fcm.replies.set('token-x', unauthenticated('ACCESS_TOKEN_TYPE_UNSUPPORTED'));

    const outcome = await provider.send(push(['token-x']));

    expect(outcome.refused).toEqual([{ token: 'token-x', error: expect.objectContaining({ kind: 'retry', message: expect.stringContaining('UNAUTHENTICATED') }) }]);
    expect(fcm.sends()).toEqual(['token-x', 'token-x']);
    expect(tokenRequests()).toBe(1);
  });

  it('is kept when the 401 is about APNs or web push credentials (THIRD_PARTY_AUTH_ERROR): that device fails, once', async () => {
    await provider.send(push(['token-a']));
    fcm.server.requests.splice(0);
    fcm.replies.set('token-x', fcmError(401, 'UNAUTHENTICATED', 'THIRD_PARTY_AUTH_ERROR', 'APNs rejected the certificate'));

    const outcome = await provider.send(push(['token-x']));

    expect(outcome.refused).toEqual([{ token: 'token-x', error: expect.objectContaining({ kind: 'fail' }) }]);
    expect(fcm.sends()).toEqual(['token-x']);
    expect(tokenRequests()).toBe(0);
  });
});
