import { createHmac } from 'node:crypto';
import { documentedRequest } from '@test/openapi-conformance';
import { createApiKey } from '../src/api-keys/api-keys';
import { AdminSessions, SESSION_COOKIE } from '../src/admin/session';
import { startApi, type ApiHarness } from './api-harness';

// An operator's session cookie is signed by the API: what it says is trusted only within the
// bounds the API sets today (ADMIN_SESSION_TTL_MS), whatever it was signed with before.

const SECRET = 'an admin session secret of the tests, 32+ chars';
const EIGHT_HOURS_MS = 8 * 3_600_000;

let harness: ApiHarness;
beforeAll(async () => {
  harness = await startApi({ ADMIN_SESSION_SECRET: SECRET, ADMIN_SESSION_TTL_MS: String(EIGHT_HOURS_MS) });
});
afterAll(() => harness.stop());

const boardApi = (cookie: string) => documentedRequest(harness.api.app).get('/admin/queues/api/queues').set('Cookie', `${SESSION_COOKIE}=${cookie}`);

describe('admin session cookies', () => {
  it('open the board within ADMIN_SESSION_TTL_MS, and not when signed to last longer (issued under a longer lifetime since shortened)', async () => {
    const { apiKey } = await createApiKey(harness.env.db.manager, 'operator', 'admin');
    const today = new AdminSessions(harness.env.db.manager, SECRET, EIGHT_HOURS_MS);
    const before = new AdminSessions(harness.env.db.manager, SECRET, 30 * 24 * 3_600_000);

    await boardApi(today.issue(apiKey.id)).expect(200);
    const longLived = await boardApi(before.issue(apiKey.id)).expect(401);

    expect(longLived.headers['content-type']).toMatch(/^application\/problem\+json/);
  });

  it('are refused when the key id is not written as the API writes it (leading zeros)', async () => {
    const { apiKey } = await createApiKey(harness.env.db.manager, 'operator 2', 'admin');
    const sessions = new AdminSessions(harness.env.db.manager, SECRET, EIGHT_HOURS_MS);
    const [, expires] = sessions.issue(apiKey.id).split('.');
    // Signed with the secret as the API signs, so that only the shape can refuse it.
    const payload = `00${apiKey.id}.${expires}`;
    const cookie = `${payload}.${createHmac('sha256', SECRET).update(payload).digest('base64url')}`;

    await boardApi(cookie).expect(401);
  });
});
