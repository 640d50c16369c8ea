import { createHash } from 'node:crypto';
import { ServiceUnavailableError } from '@notofine/errors';
import { redisText } from '@test/inspect';
import { documentedRequest } from '@test/openapi-conformance';
import { TEST_API_KEY } from '@test/test-environment';
import { waitFor } from '@test/wait-for';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import request from 'supertest';
import { createApiKey, revokeApiKey } from '../src/api-keys/api-keys';
import { start, type ApiService } from '../src/api-service';
import { AdminSessions, SESSION_COOKIE } from '../src/admin/session';
import { startApi, type ApiHarness } from './api-harness';

// The operators' pages. The board itself, in a browser, is tested in test/e2e/queue-board.test.ts.

let harness: ApiHarness;
let redis: Redis;
beforeAll(async () => {
  harness = await startApi({ PUBLIC_BASE_URL: 'https://notifications.notofine.test' });
  redis = new Redis(harness.env.config.redis.url);
});
afterAll(async () => {
  redis.disconnect();
  await harness.stop();
});

/** What a browser adds to the requests of the board's own pages. */
const SAME_ORIGIN = { 'Sec-Fetch-Site': 'same-origin' };

/** The login form sent with a key, from the login page. */
function logIn(key: string, app = harness.api.app) {
  return documentedRequest(app).post('/admin/login').set(SAME_ORIGIN).type('form').send({ api_key: key });
}

/** The logout form, from the logout page. */
function logOut(cookie: string, app = harness.api.app) {
  return documentedRequest(app).post('/admin/logout').set(SAME_ORIGIN).set('Cookie', cookie).type('form').send('');
}

/** `name=value` of the session cookie a response sets. */
function sessionCookie(response: request.Response): string {
  const cookies = ([] as string[]).concat(response.headers['set-cookie'] ?? []);
  const cookie = cookies.find((c) => c.startsWith(`${SESSION_COOKIE}=`));
  if (!cookie) throw new Error(`no session cookie in ${JSON.stringify(response.headers)}`);
  return cookie.split(';')[0]!;
}

/** The Redis key of a session, from its cookie. */
const sessionKey = (cookie: string) => `${harness.env.config.redis.queuePrefix}:admin-session:${createHash('sha256').update(cookie.split('=')[1]!).digest('hex')}`;

const boardApi = (cookie: string, app = harness.api.app) => documentedRequest(app).get('/admin/queues/api/queues').set('Cookie', cookie);

describe('admin login', () => {
  it('without a session, sends the board page to the login and refuses its API with 401 problem+json', async () => {
    const page = await documentedRequest(harness.api.app).get('/admin/queues').expect(303);
    expect(page.headers.location).toBe('/admin/login');

    const api = await documentedRequest(harness.api.app).get('/admin/queues/api/queues').expect(401);
    expect(api.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(api.body).toMatchObject({ status: 401, detail: expect.stringContaining('/admin/login') });
  });

  it('serves a login form', async () => {
    const form = await documentedRequest(harness.api.app).get('/admin/login').expect(200);

    expect(form.headers['content-type']).toMatch(/^text\/html/);
    expect(form.text).toContain('<form method="post" action="/admin/login">');
    expect(form.text).toContain('name="api_key"');
  });

  it('with an admin key, sets an HttpOnly, Secure, SameSite=Strict session cookie that opens the board', async () => {
    const login = await logIn(TEST_API_KEY).expect(303);

    expect(login.headers.location).toBe('/admin/queues');
    const [cookie] = ([] as string[]).concat(login.headers['set-cookie'] ?? []);
    expect(cookie).toMatch(new RegExp(`^${SESSION_COOKIE}=[\\w-]{43}; Max-Age=28800; Path=/admin; Expires=[^;]+; HttpOnly; Secure; SameSite=Strict$`));
    expect(cookie).not.toContain(TEST_API_KEY);

    const queues = await boardApi(sessionCookie(login)).expect(200);
    expect((queues.body as { queues: Array<{ name: string }> }).queues.map((queue) => queue.name).sort()).toEqual(['email', 'push', 'reminders', 'sms']);
    const page = await documentedRequest(harness.api.app).get('/admin/queues').set('Cookie', sessionCookie(login)).expect(200);
    expect(page.text).toContain('Notofine queues');
  });

  it('offers "Log out" in the board\'s menu, to the logout page', async () => {
    const page = await documentedRequest(harness.api.app).get('/admin/queues').set('Cookie', sessionCookie(await logIn(TEST_API_KEY).expect(303))).expect(200);

    const uiConfig = JSON.parse(/<script id="__UI_CONFIG__" type="application\/json">(.*?)<\/script>/s.exec(page.text)![1]!) as { miscLinks: unknown };
    expect(uiConfig.miscLinks).toEqual([{ text: 'Log out', url: '/admin/logout' }]);
  });

  it.each([
    ['an unknown key', 'nfk_not_a_key_of_this_service_at_all'],
    ['an empty key', ''],
  ])('refuses %s with 401 and the form again, and sets no cookie', async (_case, key) => {
    const refused = await logIn(key).expect(401);

    expect(refused.text).toContain('This key is unknown, revoked, or not an admin key.');
    expect(refused.headers['set-cookie']).toBeUndefined();
  });

  it('refuses a send key: the board is for admins', async () => {
    const { key } = await createApiKey(harness.env.db.manager, 'backend-sender', 'send');

    await logIn(key).expect(401);
  });

  it('ends the sessions of a key when the key is revoked', async () => {
    const { apiKey, key } = await createApiKey(harness.env.db.manager, 'operator on leave');
    const cookie = sessionCookie(await logIn(key).expect(303));

    await revokeApiKey(harness.env.db.manager, apiKey.id);

    await boardApi(cookie).expect(401);
  });

  it('refuses a made-up, a tampered and an expired session', async () => {
    const cookie = sessionCookie(await logIn(TEST_API_KEY).expect(303));
    const id = cookie.slice(SESSION_COOKIE.length + 1);
    const expired = sessionCookie(await logIn(TEST_API_KEY).expect(303));
    await redis.pexpire(sessionKey(expired), 1);
    await waitFor('the session to expire in Redis', async () => (await redis.exists(sessionKey(expired))) === 0);
    const candidates = {
      'made up': 'A'.repeat(43),
      'one character changed': `${id.slice(0, -1)}${id.endsWith('A') ? 'B' : 'A'}`,
      'its Redis key instead': createHash('sha256').update(id).digest('hex'),
      expired: expired.slice(SESSION_COOKIE.length + 1),
      garbage: 'x'.repeat(300),
    };

    for (const [name, value] of Object.entries(candidates)) {
      const response = await boardApi(`${SESSION_COOKIE}=${value}`);
      expect({ name, status: response.status }).toEqual({ name, status: 401 });
    }
    // The real one still works: the refusals above are about the cookie, not the key.
    await boardApi(cookie).expect(200);
  });

  it('keeps the session in Redis under a hash of its id, with its key id, for the session lifetime; neither the id nor the key', async () => {
    const cookie = sessionCookie(await logIn(TEST_API_KEY).expect(303));

    const [stored, ttl] = await Promise.all([redis.get(sessionKey(cookie)), redis.pttl(sessionKey(cookie))]);

    expect(stored).toMatch(/^\d+\.\d+$/);
    expect(ttl).toBeGreaterThan(28_800_000 - 60_000);
    expect(ttl).toBeLessThanOrEqual(28_800_000);
    const everything = await redisText(harness.env);
    expect(everything).toContain(sessionKey(cookie));
    expect([cookie.split('=')[1]!, TEST_API_KEY].filter((secret) => everything.includes(secret))).toEqual([]);
  });

  it('logs out on the server: the cookie is cleared, and a copy of it no longer opens anything', async () => {
    const cookie = sessionCookie(await logIn(TEST_API_KEY).expect(303));
    await boardApi(cookie).expect(200);

    const logout = await logOut(cookie).expect(303);

    expect(logout.headers.location).toBe('/admin/login');
    expect(String(logout.headers['set-cookie'])).toMatch(new RegExp(`^${SESSION_COOKIE}=; Path=/admin; Expires=Thu, 01 Jan 1970`));
    await boardApi(cookie).expect(401);
    expect((await documentedRequest(harness.api.app).get('/admin/queues').set('Cookie', cookie).expect(303)).headers.location).toBe('/admin/login');
    expect(await redis.exists(sessionKey(cookie))).toBe(0);
  });

  it('logging out without a session, or with an unknown one, clears the cookie and nothing else', async () => {
    const other = sessionCookie(await logIn(TEST_API_KEY).expect(303));

    await logOut(`${SESSION_COOKIE}=${'B'.repeat(43)}`).expect(303);
    await documentedRequest(harness.api.app).post('/admin/logout').set(SAME_ORIGIN).expect(303);

    await boardApi(other).expect(200);
  });

  it('shows a logout page with one button that posts the logout', async () => {
    const page = await documentedRequest(harness.api.app).get('/admin/logout').expect(200);

    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.text).toContain('<form method="post" action="/admin/logout">');
    expect(page.text).toContain('<button type="submit">Log out</button>');
  });

  it('answers 503 when Redis, which keeps the sessions, cannot be reached: neither a refusal nor an open door', async () => {
    const away = new Redis({ port: 1, lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: () => null });
    const sessions = new AdminSessions(harness.env.db.manager, away, harness.env.config.redis.queuePrefix, 60_000);
    try {
      await expect(sessions.verify('C'.repeat(43))).rejects.toBeInstanceOf(ServiceUnavailableError);
      await expect(sessions.open(1)).rejects.toBeInstanceOf(ServiceUnavailableError);
      await expect(sessions.end('C'.repeat(43))).rejects.toBeInstanceOf(ServiceUnavailableError);
    } finally {
      away.disconnect();
    }
  });
});

describe('sessions across API replicas', () => {
  let other: ApiService;
  beforeAll(async () => {
    other = await start({ config: harness.env.config, logger: harness.env.logger, listen: false });
  });
  afterAll(() => other.stop());

  it('a session opened on one replica works on another, and logging out on one ends it on both at once', async () => {
    const cookie = sessionCookie(await logIn(TEST_API_KEY).expect(303));
    await boardApi(cookie, other.app).expect(200);

    await logOut(cookie, other.app).expect(303);

    await boardApi(cookie).expect(401);
    await boardApi(cookie, other.app).expect(401);
  });
});

describe('changes from another origin', () => {
  let cookie: string;
  let queue: Queue;
  beforeAll(async () => {
    cookie = sessionCookie(await logIn(TEST_API_KEY).expect(303));
    queue = new Queue('email', { connection: { url: harness.env.config.redis.url }, prefix: harness.env.config.redis.queuePrefix });
  });
  afterAll(() => queue.close());

  const CROSS_ORIGIN: Array<[string, Record<string, string>]> = [
    ['a page of another site', { 'Sec-Fetch-Site': 'cross-site', Origin: 'https://attacker.example' }],
    ['a page of another origin of the same site (a sibling subdomain)', { 'Sec-Fetch-Site': 'same-site', Origin: 'https://blog.notofine.test' }],
    ['an older browser on another origin (Origin only)', { Origin: 'https://attacker.example' }],
    ['a sandboxed frame (Origin: null)', { Origin: 'null' }],
    ['a request that says nothing of where it comes from', {}],
  ];

  it.each(CROSS_ORIGIN)('refuses the board\'s actions from %s with 403, and nothing happens', async (_case, headers) => {
    const response = await documentedRequest(harness.api.app).put('/admin/queues/api/queues/pause').set('Cookie', cookie).set(headers);

    expect(response.status).toBe(403);
    expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(response.body).toMatchObject({ type: '/problems/cross-origin-request', detail: expect.stringContaining('/admin/queues') });
    expect(await queue.isPaused()).toBe(false);
  });

  it.each(CROSS_ORIGIN)('refuses a login from %s: no session is opened', async (_case, headers) => {
    const response = await documentedRequest(harness.api.app).post('/admin/login').set(headers).type('form').send({ api_key: TEST_API_KEY });

    expect(response.status).toBe(403);
    expect(response.headers['set-cookie']).toBeUndefined();
  });

  it.each(CROSS_ORIGIN)('refuses a logout from %s: the session goes on', async (_case, headers) => {
    const mine = sessionCookie(await logIn(TEST_API_KEY).expect(303));

    const response = await documentedRequest(harness.api.app).post('/admin/logout').set('Cookie', mine).set(headers);

    expect(response.status).toBe(403);
    await boardApi(mine).expect(200);
  });

  it.each([
    ['text/plain, which any page may send without asking the browser first', 'text/plain', '{"x": 1}'],
    ['a form', 'application/x-www-form-urlencoded', 'x=1'],
  ])('refuses a board action with a %s body with 415, even from its own pages', async (_case, type, body) => {
    const response = await documentedRequest(harness.api.app).put('/admin/queues/api/queues/pause').set('Cookie', cookie).set(SAME_ORIGIN).set('Content-Type', type).send(body);

    expect(response.status).toBe(415);
    expect(await queue.isPaused()).toBe(false);
  });

  it('refuses a login posted as text/plain or JSON with 415', async () => {
    await documentedRequest(harness.api.app).post('/admin/login').set(SAME_ORIGIN).set('Content-Type', 'text/plain').send(`api_key=${TEST_API_KEY}`).expect(415);
    await documentedRequest(harness.api.app).post('/admin/login').set(SAME_ORIGIN).send({ api_key: TEST_API_KEY }).expect(415);
  });

  it.each([
    ['Sec-Fetch-Site: same-origin', SAME_ORIGIN],
    ['an Origin naming the host it was sent to', { Host: 'board.internal:3000', Origin: 'http://board.internal:3000' }],
    ['an Origin naming PUBLIC_BASE_URL, behind a proxy that changed the host', { Host: '10.0.0.7:3000', Origin: 'https://notifications.notofine.test' }],
  ])('takes the board\'s actions from its own pages: %s', async (_case, headers) => {
    await documentedRequest(harness.api.app).put('/admin/queues/api/queues/pause').set('Cookie', cookie).set(headers).expect(200);
    expect(await queue.isPaused()).toBe(true);

    await documentedRequest(harness.api.app).put('/admin/queues/api/queues/resume').set('Cookie', cookie).set(headers).set('Content-Type', 'application/json').send('{}').expect(200);
    expect(await queue.isPaused()).toBe(false);
  });
});

describe('read-only board', () => {
  let readOnly: ApiHarness;
  beforeAll(async () => {
    readOnly = await startApi({ BULL_BOARD_READ_ONLY: 'true' });
  });
  afterAll(() => readOnly.stop());

  it('shows the queues and refuses every action', async () => {
    const cookie = sessionCookie(await request(readOnly.api.app).post('/admin/login').set(SAME_ORIGIN).type('form').send({ api_key: TEST_API_KEY }).expect(303));

    const { body } = await request(readOnly.api.app).get('/admin/queues/api/queues').set('Cookie', cookie).expect(200);
    expect((body as { queues: Array<{ readOnlyMode: boolean }> }).queues.map((queue) => queue.readOnlyMode)).toEqual([true, true, true, true]);
    const retry = await request(readOnly.api.app).put('/admin/queues/api/queues/email/retry/failed').set('Cookie', cookie).set(SAME_ORIGIN);
    expect({ status: retry.status, body: retry.body as unknown }).toEqual({ status: 405, body: { error: { key: 'ERRORS.QUEUE_READ_ONLY' } } });
  });
});
