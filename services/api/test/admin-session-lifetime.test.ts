import { documentedRequest } from '@test/openapi-conformance';
import { Redis } from 'ioredis';
import { createApiKey } from '../src/api-keys/api-keys';
import { AdminSessions, SESSION_COOKIE } from '../src/admin/session';
import { startApi, type ApiHarness } from './api-harness';

// An operator's session lasts ADMIN_SESSION_TTL_MS as the API is configured today, whatever
// lifetime it was opened under: a session opened before the lifetime was shortened ends with it.

const EIGHT_HOURS_MS = 8 * 3_600_000;
const THIRTY_DAYS_MS = 30 * 24 * 3_600_000;

let harness: ApiHarness;
let redis: Redis;
beforeAll(async () => {
  harness = await startApi({ ADMIN_SESSION_TTL_MS: String(EIGHT_HOURS_MS) });
  redis = new Redis(harness.env.config.redis.url);
});
afterAll(async () => {
  redis.disconnect();
  await harness.stop();
});

const boardApi = (cookie: string) => documentedRequest(harness.api.app).get('/admin/queues/api/queues').set('Cookie', `${SESSION_COOKIE}=${cookie}`);
const sessionsLasting = (ttlMs: number) => new AdminSessions(harness.env.db.manager, redis, harness.env.config.redis.queuePrefix, ttlMs);

describe('admin sessions', () => {
  it('open the board within ADMIN_SESSION_TTL_MS, and not once older than it (opened under a longer lifetime since shortened)', async () => {
    const { apiKey } = await createApiKey(harness.env.db.manager, 'operator', 'admin');
    const fresh = await sessionsLasting(EIGHT_HOURS_MS).open(apiKey.id);
    // Opened nine hours ago by a replica that gave sessions thirty days: Redis still holds it.
    const old = await sessionsLasting(THIRTY_DAYS_MS).open(apiKey.id, Date.now() - 9 * 3_600_000);

    await boardApi(fresh).expect(200);
    const refused = await boardApi(old).expect(401);

    expect(refused.headers['content-type']).toMatch(/^application\/problem\+json/);
  });
});
