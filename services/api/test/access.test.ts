import { createSecretKey } from 'node:crypto';
import { ApiKey, Notification } from '@notofine/db';
import { apiClient } from '@test/api-client';
import { insertUser } from '@test/factories';
import { TEST_API_KEY, TEST_USER_TOKEN_SECRET } from '@test/test-environment';
import { SignJWT } from 'jose';
import request from 'supertest';
import { EntityManager } from 'typeorm';
import { createApiKey, revokeApiKey } from '../src/api-keys/api-keys';
import { start } from '../src/api-service';
import { startApi, type ApiHarness } from './api-harness';

let harness: ApiHarness;
beforeAll(async () => {
  harness = await startApi();
});
afterAll(async () => {
  await harness.stop();
});

/**
 * A token signed like the API's, with the claims given (to forge expired or odd ones); issued now
 * unless `iat` says otherwise (`null`: no `iat` at all).
 */
function signToken(claims: { sub: string; akid: number; exp: number; iat?: number | null }, secret = TEST_USER_TOKEN_SECRET): Promise<string> {
  const jwt = new SignJWT({ akid: claims.akid }).setProtectedHeader({ alg: 'HS256' }).setIssuer('notofine').setAudience('notofine-api').setSubject(claims.sub).setJti('test');
  if (claims.iat !== null) jwt.setIssuedAt(claims.iat);
  return jwt.setExpirationTime(claims.exp).sign(createSecretKey(Buffer.from(secret)));
}

const nowSeconds = () => Math.floor(Date.now() / 1000);

async function expectUnauthorized(response: request.Response, detail: RegExp): Promise<void> {
  expect(response.status).toBe(401);
  expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
  expect(response.headers['www-authenticate']).toBe('Bearer realm="notofine"');
  expect(response.body).toMatchObject({ type: '/problems/unauthorized', status: 401 });
  expect(response.body.detail).toMatch(detail);
  expect(JSON.stringify(response.body)).not.toMatch(/at .+\.ts:\d+/);
}

describe('authentication', () => {
  const app = () => harness.api.app;

  it('refuses a request without credentials, with malformed ones, and with unknown or revoked keys, and writes nothing', async () => {
    const user = await insertUser(harness.env.db);
    const body = { user_id: user.id, channel: 'email', message: 'Rappel' };
    const { key: revoked, apiKey } = await createApiKey(harness.env.db.manager, 'revoked', 'admin');
    await revokeApiKey(harness.env.db.manager, apiKey.id);

    await expectUnauthorized(await request(app()).post('/notifications/send').send(body), /Authorization header/);
    await expectUnauthorized(await request(app()).post('/notifications/send').set('Authorization', `Basic ${TEST_API_KEY}`).send(body), /must read "Bearer <key>"/);
    await expectUnauthorized(await request(app()).post('/notifications/send').set('Authorization', 'Bearer').send(body), /must read "Bearer <key>"/);
    await expectUnauthorized(await apiClient(app(), 'nfk_not_a_key_at_all_000000000').post('/notifications/send', body), /not valid, or it has been revoked/);
    await expectUnauthorized(await apiClient(app(), revoked).post('/notifications/send', body), /not valid, or it has been revoked/);

    expect(await harness.env.db.manager.countBy(Notification, { userId: user.id })).toBe(0);
  });

  it('refuses credentials in the query string, even next to a valid header', async () => {
    await expectUnauthorized(await harness.client.get(`/notifications?api_key=${TEST_API_KEY}`), /never accepted in the query string \(found in "api_key"\)/);
    await expectUnauthorized(await harness.client.get(`/notifications?cursor=${TEST_API_KEY}`), /found in "cursor"/);
    await expectUnauthorized(await request(harness.api.app).get(`/notifications?access_token=abc`), /query string/);
  });

  it('refuses expired, forged, unsigned and malformed user tokens', async () => {
    const user = await insertUser(harness.env.db);
    const { apiKey } = await createApiKey(harness.env.db.manager, 'minter', 'admin');
    const expired = await signToken({ sub: String(user.id), akid: apiKey.id, exp: nowSeconds() - 60 });
    const forged = await signToken({ sub: String(user.id), akid: apiKey.id, exp: nowSeconds() + 60 }, 'another-secret-of-at-least-32-characters');
    const [header, payload] = (await signToken({ sub: String(user.id), akid: apiKey.id, exp: nowSeconds() + 60 })).split('.');
    const unsigned = `${Buffer.from(JSON.stringify({ alg: 'none' })).toString('base64url')}.${payload}.`;
    const url = `/users/${user.id}`;

    await expectUnauthorized(await apiClient(harness.api.app, expired).get(url), /user token has expired/);
    await expectUnauthorized(await apiClient(harness.api.app, forged).get(url), /user token is not valid/);
    await expectUnauthorized(await apiClient(harness.api.app, unsigned).get(url), /user token is not valid/);
    await expectUnauthorized(await apiClient(harness.api.app, `${header}.${payload}.AAAA`).get(url), /user token is not valid/);
    await expectUnauthorized(await apiClient(harness.api.app, 'a.b.c').get(url), /user token is not valid/);
  });

  // A token is signed by us, but a leaked signing secret, a backend minting by hand or a lifetime
  // shortened since must not make a token outlive USER_TOKEN_TTL_MS (15 min in these tests).
  it('refuses a well-signed token that would live longer than USER_TOKEN_TTL_MS, was issued in the future or has no issue time', async () => {
    const user = await insertUser(harness.env.db);
    const { apiKey } = await createApiKey(harness.env.db.manager, 'long-lived minter', 'admin');
    const claims = { sub: String(user.id), akid: apiKey.id };
    const now = nowSeconds();
    const url = `/users/${user.id}`;

    const longest = await signToken({ ...claims, iat: now, exp: now + 15 * 60 });
    const aDay = await signToken({ ...claims, iat: now, exp: now + 86_400 });
    const backdated = await signToken({ ...claims, iat: now - 3600, exp: now + 60 });
    const fromTheFuture = await signToken({ ...claims, iat: now + 3600, exp: now + 3600 + 60 });
    const withoutIssueTime = await signToken({ ...claims, iat: null, exp: now + 60 });

    await apiClient(harness.api.app, longest).get(url).expect(200);
    await expectUnauthorized(await apiClient(harness.api.app, aDay).get(url), /valid longer than this service allows/);
    await expectUnauthorized(await apiClient(harness.api.app, backdated).get(url), /expired|valid longer than this service allows/);
    await expectUnauthorized(await apiClient(harness.api.app, fromTheFuture).get(url), /issued in the future/);
    await expectUnauthorized(await apiClient(harness.api.app, withoutIssueTime).get(url), /not valid/);
  });

  // Number() reads all of these as the user's id; only its plain decimal writing names the user.
  it.each([
    ['with a leading zero', (id: number) => `0${id}`],
    ['with a plus sign', (id: number) => `+${id}`],
    ['with spaces around it', (id: number) => ` ${id} `],
    ['as a decimal', (id: number) => `${id}.0`],
    ['with an exponent', (id: number) => `${id}e0`],
    ['in hexadecimal', (id: number) => `0x${id.toString(16)}`],
    ['past the safe integers', () => '9007199254740993'],
    ['as zero', () => '0'],
    ['empty', () => ''],
  ])('refuses a well-signed token whose sub is the user id written %s', async (_case, writeSub) => {
    const user = await insertUser(harness.env.db);
    const { apiKey } = await createApiKey(harness.env.db.manager, 'odd subjects', 'admin');
    const token = await signToken({ sub: writeSub(user.id), akid: apiKey.id, exp: nowSeconds() + 60 });

    await expectUnauthorized(await apiClient(harness.api.app, token).get(`/users/${user.id}`), /does not name a user|not valid/);
  });

  // Under load, a key's cache entry expiring must not turn every request in flight into a lookup.
  it('looks a key up once for the requests that come with it at the same time, and each gets its answer', async () => {
    const user = await insertUser(harness.env.db);
    const { key } = await createApiKey(harness.env.db.manager, 'concurrent', 'admin');
    const { key: revoked, apiKey: revokedKey } = await createApiKey(harness.env.db.manager, 'concurrent revoked', 'admin');
    await revokeApiKey(harness.env.db.manager, revokedKey.id);
    const lookups = jest.spyOn(EntityManager.prototype, 'findOneBy');
    try {
      const [answers, refusals] = await Promise.all([
        Promise.all(Array.from({ length: 12 }, () => apiClient(harness.api.app, key).get(`/users/${user.id}`))),
        Promise.all(Array.from({ length: 6 }, () => apiClient(harness.api.app, revoked).get(`/users/${user.id}`))),
      ]);

      expect(answers.map((answer) => answer.status)).toEqual(Array(12).fill(200));
      for (const refusal of refusals) await expectUnauthorized(refusal, /not valid, or it has been revoked/);
      const keyLookups = lookups.mock.calls.filter(([entity]) => entity === ApiKey);
      expect(keyLookups).toHaveLength(2);
    } finally {
      lookups.mockRestore();
    }
  });

  it('looks a key in use up again before its cache entry expires, behind the requests, and a revocation still applies within 10 s', async () => {
    const user = await insertUser(harness.env.db);
    const { key, apiKey } = await createApiKey(harness.env.db.manager, 'refreshed', 'admin');
    const client = apiClient(harness.api.app, key);
    const url = `/users/${user.id}`;
    const realNow = Date.now.bind(Date);
    let ahead = 0;
    const clock = jest.spyOn(Date, 'now').mockImplementation(() => realNow() + ahead);
    const lookups = jest.spyOn(EntityManager.prototype, 'findOneBy');
    const keyLookups = () => lookups.mock.calls.filter(([entity]) => entity === ApiKey).length;
    try {
      expect((await client.get(url)).status).toBe(200);
      expect(keyLookups()).toBe(1);

      // 9 s later the key is revoked: past the refresh time, within the remembered answer's life.
      ahead = 9_000;
      await revokeApiKey(harness.env.db.manager, apiKey.id);
      expect((await client.get(url)).status).toBe(200); // answered from memory, not after a lookup
      expect(keyLookups()).toBe(2);
      await lookups.mock.results.at(-1)?.value;
      await new Promise((resolve) => setImmediate(resolve));

      // That lookup found the key revoked: refused from the next request on, before the 10 s are up.
      await expectUnauthorized(await client.get(url), /not valid, or it has been revoked/);
    } finally {
      clock.mockRestore();
      lookups.mockRestore();
    }
  });

  it('refuses a user token whose API key was revoked', async () => {
    const user = await insertUser(harness.env.db);
    const { apiKey } = await createApiKey(harness.env.db.manager, 'to revoke', 'admin');
    await revokeApiKey(harness.env.db.manager, apiKey.id);
    const token = await signToken({ sub: String(user.id), akid: apiKey.id, exp: nowSeconds() + 60 });

    await expectUnauthorized(await apiClient(harness.api.app, token).get(`/users/${user.id}`), /minted by an API key that has been revoked/);
  });
});

describe('POST /users/{id}/tokens', () => {
  it('mints a short-lived token for one user, never cached', async () => {
    const user = await insertUser(harness.env.db);

    const response = await harness.client.post(`/users/${user.id}/tokens`, { ttl_seconds: 120 }).expect(201);

    expect(response.headers['cache-control']).toBe('no-store');
    expect(response.body).toEqual({ token: expect.stringMatching(/^[\w-]+\.[\w-]+\.[\w-]+$/), token_type: 'Bearer', user_id: user.id, expires_at: expect.any(String), expires_in: 120 });
    const lifetime = Date.parse(response.body.expires_at) - Date.now();
    expect(lifetime).toBeGreaterThan(118_000);
    expect(lifetime).toBeLessThanOrEqual(120_000);
    const claims = JSON.parse(Buffer.from(response.body.token.split('.')[1], 'base64url').toString());
    expect(claims).toMatchObject({ sub: String(user.id), iss: 'notofine', aud: 'notofine-api' });
  });

  it('gives the configured lifetime by default and never more', async () => {
    const user = await insertUser(harness.env.db);

    const byDefault = await harness.client.post(`/users/${user.id}/tokens`).expect(201);
    const tooLong = await harness.client.post(`/users/${user.id}/tokens`, { ttl_seconds: 86_400 }).expect(201);

    expect(byDefault.body.expires_in).toBe(15 * 60);
    expect(tooLong.body.expires_in).toBe(15 * 60);
  });

  it('answers 404 for a user that does not exist, 400 for a bad lifetime, 403 for a send key or a user token', async () => {
    const user = await insertUser(harness.env.db);
    const { key: sendKey } = await createApiKey(harness.env.db.manager, 'sender', 'send');
    const { body: minted } = await harness.client.post(`/users/${user.id}/tokens`).expect(201);

    const missing = await harness.client.post('/users/999999/tokens').expect(404);
    const invalid = await harness.client.post(`/users/${user.id}/tokens`, { ttl_seconds: 5, scope: 'admin' }).expect(400);
    await apiClient(harness.api.app, sendKey).post(`/users/${user.id}/tokens`).expect(403);
    const byUser = await apiClient(harness.api.app, minted.token).post(`/users/${user.id}/tokens`).expect(403);

    expect(missing.body).toMatchObject({ type: '/problems/not-found', detail: 'User 999999 does not exist' });
    expect(invalid.body.errors).toEqual(
      expect.arrayContaining([
        { field: 'ttl_seconds', message: 'must be at least 60' },
        { field: 'scope', message: 'is not a known field (known fields: ttl_seconds)' },
      ]),
    );
    expect(byUser.body.detail).toBe('This route is not open to user tokens: it needs an API key of scope admin.');
  });
});

describe('rate limits', () => {
  let limited: ApiHarness;
  beforeAll(async () => {
    limited = await startApi({ RATE_LIMIT: '5/1m', USER_RATE_LIMIT: '3/1m' });
  });
  afterAll(async () => {
    await limited.stop();
  });

  it('counts each key on its own: past the limit 429 with Retry-After, below it unaffected', async () => {
    const { key: other } = await createApiKey(limited.env.db.manager, 'other', 'admin');

    const statuses: number[] = [];
    let last!: request.Response;
    for (let i = 0; i < 6; i++) {
      last = await limited.client.get('/notifications');
      statuses.push(last.status);
    }
    const otherKey = await apiClient(limited.api.app, other).get('/notifications');

    expect(statuses).toEqual([200, 200, 200, 200, 200, 429]);
    expect(last.headers['retry-after']).toMatch(/^\d+$/);
    expect(Number(last.headers['retry-after'])).toBeGreaterThan(0);
    expect(Number(last.headers['retry-after'])).toBeLessThanOrEqual(60);
    expect(last.body).toMatchObject({ type: '/problems/rate-limited', status: 429, detail: expect.stringMatching(/more than 5 requests in 60 s/) });
    expect(otherKey.status).toBe(200);
    expect(otherKey.headers).toMatchObject({ 'ratelimit-limit': '5', 'ratelimit-remaining': '4' });
  });

  it('refuses a request over the limit without doing it', async () => {
    const { key } = await createApiKey(limited.env.db.manager, 'sender', 'send');
    const user = await insertUser(limited.env.db);
    const client = apiClient(limited.api.app, key);

    const statuses: number[] = [];
    for (let i = 0; i < 7; i++) statuses.push((await client.post('/notifications/send', { user_id: user.id, channel: 'email', message: `n°${i}` })).status);

    expect(statuses).toEqual([202, 202, 202, 202, 202, 429, 429]);
    expect(await limited.env.db.manager.countBy(Notification, { userId: user.id })).toBe(5);
  });

  it('gives each user token its own, smaller budget', async () => {
    const { key } = await createApiKey(limited.env.db.manager, 'minter', 'admin');
    const user = await insertUser(limited.env.db);
    const { body } = await apiClient(limited.api.app, key).post(`/users/${user.id}/tokens`).expect(201);
    const asUser = apiClient(limited.api.app, body.token);

    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await asUser.get(`/users/${user.id}/notifications`)).status);

    expect(statuses).toEqual([200, 200, 200, 429]);
  });

  it('holds across API replicas: the counters are in Redis', async () => {
    const { key } = await createApiKey(limited.env.db.manager, 'shared', 'admin');
    const replica = await start({ config: limited.env.config, logger: limited.env.logger, listen: false });
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 6; i++) statuses.push((await apiClient(i % 2 ? replica.app : limited.api.app, key).get('/notifications')).status);
      expect(statuses).toEqual([200, 200, 200, 200, 200, 429]);
    } finally {
      await replica.stop();
    }
  });
});

describe('CORS', () => {
  it('is closed by default: no cross-origin headers, preflights not granted', async () => {
    const preflight = await request(harness.api.app)
      .options('/notifications/send')
      .set('Origin', 'https://app.example.com')
      .set('Access-Control-Request-Method', 'POST');

    expect(preflight.headers['access-control-allow-origin']).toBeUndefined();
    expect(preflight.status).toBe(401);
  });

  it('grants the configured origins only', async () => {
    const open = await startApi({ CORS_ORIGINS: 'https://app.example.com, https://admin.example.com' });
    try {
      const granted = await request(open.api.app)
        .options('/notifications/send')
        .set('Origin', 'https://app.example.com')
        .set('Access-Control-Request-Method', 'POST')
        .set('Access-Control-Request-Headers', 'authorization,content-type,idempotency-key');
      const other = await request(open.api.app).options('/notifications/send').set('Origin', 'https://evil.example.com').set('Access-Control-Request-Method', 'POST');
      const simple = await apiClient(open.api.app).get('/notifications').set('Origin', 'https://admin.example.com').expect(200);

      expect(granted.status).toBe(204);
      expect(granted.headers).toMatchObject({ 'access-control-allow-origin': 'https://app.example.com', 'access-control-max-age': '600' });
      expect(granted.headers['access-control-allow-headers']).toMatch(/Idempotency-Key/);
      expect(granted.headers['access-control-allow-credentials']).toBeUndefined();
      expect(other.headers['access-control-allow-origin']).toBeUndefined();
      expect(simple.headers['access-control-allow-origin']).toBe('https://admin.example.com');
      expect(simple.headers['access-control-expose-headers']).toMatch(/Retry-After/);
    } finally {
      await open.stop();
    }
  });
});
