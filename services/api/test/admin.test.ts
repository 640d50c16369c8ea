import { TEST_API_KEY } from '@test/test-environment';
import request from 'supertest';
import { createApiKey, revokeApiKey } from '../src/api-keys/api-keys';
import { AdminSessions, SESSION_COOKIE } from '../src/admin/session';
import { documentedRequest } from '@test/openapi-conformance';
import { startApi, type ApiHarness } from './api-harness';

// The operators' pages. The board itself, in a browser, is tested in test/e2e/queue-board.test.ts.

const SECRET = 'an admin session secret of the tests, 32+ chars';

let harness: ApiHarness;
beforeAll(async () => {
  harness = await startApi({ ADMIN_SESSION_SECRET: SECRET });
});
afterAll(() => harness.stop());

/** The login form sent with a key. */
function logIn(key: string) {
  return documentedRequest(harness.api.app).post('/admin/login').type('form').send({ api_key: key });
}

/** `name=value` of the session cookie a response sets. */
function sessionCookie(response: request.Response): string {
  const cookies = ([] as string[]).concat(response.headers['set-cookie'] ?? []);
  const cookie = cookies.find((c) => c.startsWith(`${SESSION_COOKIE}=`));
  if (!cookie) throw new Error(`no session cookie in ${JSON.stringify(response.headers)}`);
  return cookie.split(';')[0]!;
}

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
    expect(cookie).toMatch(new RegExp(`^${SESSION_COOKIE}=\\d+\\.\\d+\\.[\\w-]{43}; Max-Age=28800; Path=/admin; Expires=[^;]+; HttpOnly; Secure; SameSite=Strict$`));
    expect(cookie).not.toContain(TEST_API_KEY);

    const queues = await documentedRequest(harness.api.app).get('/admin/queues/api/queues').set('Cookie', sessionCookie(login)).expect(200);
    expect((queues.body as { queues: Array<{ name: string }> }).queues.map((queue) => queue.name).sort()).toEqual(['email', 'push', 'reminders', 'sms']);
    const page = await documentedRequest(harness.api.app).get('/admin/queues').set('Cookie', sessionCookie(login)).expect(200);
    expect(page.text).toContain('Notofine queues');
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

    await documentedRequest(harness.api.app).get('/admin/queues/api/queues').set('Cookie', cookie).expect(401);
  });

  it('refuses a forged, a tampered and an expired cookie', async () => {
    const cookie = sessionCookie(await logIn(TEST_API_KEY).expect(303));
    const [id, expires, signature] = cookie.slice(SESSION_COOKIE.length + 1).split('.') as [string, string, string];
    const otherSecret = new AdminSessions(harness.env.db.manager, 'another secret, also 32 characters long', 60_000);
    const sameSecret = new AdminSessions(harness.env.db.manager, SECRET, 60_000);
    const candidates = {
      forged: otherSecret.issue(Number(id)),
      'expiry pushed back': `${id}.${Number(expires) + 3600}.${signature}`,
      'another key': `${Number(id) + 1}.${expires}.${signature}`,
      expired: sameSecret.issue(Number(id), Date.now() - 61_000),
      garbage: 'x'.repeat(300),
    };

    for (const [name, value] of Object.entries(candidates)) {
      const response = await documentedRequest(harness.api.app).get('/admin/queues/api/queues').set('Cookie', `${SESSION_COOKIE}=${value}`);
      expect({ name, status: response.status }).toEqual({ name, status: 401 });
    }
    // The real one still works: the refusals above are about the cookie, not the key.
    await documentedRequest(harness.api.app).get('/admin/queues/api/queues').set('Cookie', cookie).expect(200);
  });

  it('logs out: the cookie is cleared', async () => {
    const logout = await documentedRequest(harness.api.app).post('/admin/logout').expect(303);

    expect(logout.headers.location).toBe('/admin/login');
    expect(String(logout.headers['set-cookie'])).toMatch(new RegExp(`^${SESSION_COOKIE}=; Path=/admin; Expires=Thu, 01 Jan 1970`));
  });
});

describe('read-only board', () => {
  let readOnly: ApiHarness;
  beforeAll(async () => {
    readOnly = await startApi({ BULL_BOARD_READ_ONLY: 'true' });
  });
  afterAll(() => readOnly.stop());

  it('shows the queues and refuses every action', async () => {
    const cookie = sessionCookie(await request(readOnly.api.app).post('/admin/login').type('form').send({ api_key: TEST_API_KEY }).expect(303));

    const { body } = await request(readOnly.api.app).get('/admin/queues/api/queues').set('Cookie', cookie).expect(200);
    expect((body as { queues: Array<{ readOnlyMode: boolean }> }).queues.map((queue) => queue.readOnlyMode)).toEqual([true, true, true, true]);
    const retry = await request(readOnly.api.app).put('/admin/queues/api/queues/email/retry/failed').set('Cookie', cookie);
    expect({ status: retry.status, body: retry.body as unknown }).toEqual({ status: 405, body: { error: { key: 'ERRORS.QUEUE_READ_ONLY' } } });
  });
});
