import { apiClient, type ApiClient } from '@test/api-client';
import { buildTicketBody, buildUserBody, insertDevice, insertReminder, insertTicket, insertUser, insertVerification } from '@test/factories';
import { databaseRows } from '@test/inspect';
import { TEST_API_KEY } from '@test/test-environment';
import request from 'supertest';
import { createApiKey } from '../src/api-keys/api-keys';
import { startApi, type ApiHarness } from './api-harness';
import { openDeliveryQueues, type DeliveryQueuesProbe } from './delivery-queues';
import { routesOf } from './routes';

// Who reaches what, route by route: the route list comes from the app itself, and every route of
// it must be classified below, so that a new route cannot go untested. Refusals change nothing:
// every table and every queue is compared before and after.

let harness: ApiHarness;
let queues: DeliveryQueuesProbe;
let asAlice: ApiClient;
let asSender: ApiClient;
/** Alice's resources (the token's user) and Bob's (another user), and ids no row has. */
const ids = { alice: {} as Ids, bob: {} as Ids, none: { user: 9_999_001, ticket: 9_999_002, reminder: 9_999_003, notification: 9_999_004, device: 9_999_005, code: '000000' } };
interface Ids {
  user: number;
  ticket: number;
  reminder: number;
  notification: number;
  device: number;
  /** The code sent to the user's new phone number, waiting to be proven. */
  code: string;
}

/** A user with one of everything: a ticket, a reminder, a push device, a notification and a phone number waiting for its code. */
async function resourcesOf(userId: number): Promise<Ids> {
  const ticket = await insertTicket(harness.env.db, userId);
  const reminder = await insertReminder(harness.env.db, userId, ['email']);
  const device = await insertDevice(harness.env.db, userId);
  const { body: notification } = await harness.client.post('/notifications/send', { user_id: userId, channel: 'email', message: 'Votre amende' }).expect(202);
  const { code } = await insertVerification(harness.env.db, userId, 'phone', { address: `+336${String(userId).padStart(8, '0')}` });
  return { user: userId, ticket: ticket.id, reminder: reminder.id, notification: notification.id, device: device.id, code: code! };
}

beforeAll(async () => {
  harness = await startApi({ USER_RATE_LIMIT: '100000/1m' });
  queues = openDeliveryQueues(harness.env);
  const alice = await insertUser(harness.env.db, { fullName: 'Alice' });
  const bob = await insertUser(harness.env.db, { fullName: 'Bob', email: 'bob.secret@example.com', phone: '+33699887766' });
  ids.alice = await resourcesOf(alice.id);
  ids.bob = await resourcesOf(bob.id);
  const { body } = await harness.client.post(`/users/${alice.id}/tokens`).expect(201);
  asAlice = apiClient(harness.api.app, body.token);
  asSender = apiClient(harness.api.app, (await createApiKey(harness.env.db.manager, 'backend-sender', 'send')).key);
});
afterAll(async () => {
  await queues.close();
  await harness.stop();
});

type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';

/** An authenticated route: who may call it besides an `admin` key, and a request on `of`'s resources that succeeds for them. */
interface RouteCase {
  /** A `send` key may call it. */
  readonly send: boolean;
  /** A user token may call it, on its own user's resources. */
  readonly user: boolean;
  readonly url: (of: Ids) => string;
  readonly body?: (of: Ids) => object;
}

/** Every route behind an API key or user token, by the method and pattern the app registers. */
const ROUTES: Record<string, RouteCase> = {
  'POST /users': { send: false, user: false, url: () => '/users', body: () => buildUserBody({ full_name: 'Mallory' }) },
  'GET /users/:userId': { send: false, user: true, url: (of) => `/users/${of.user}` },
  'PATCH /users/:userId': { send: false, user: true, url: (of) => `/users/${of.user}`, body: () => ({ full_name: 'Mallory' }) },
  'DELETE /users/:userId': { send: false, user: false, url: (of) => `/users/${of.user}` },
  'POST /users/:userId/tokens': { send: false, user: false, url: (of) => `/users/${of.user}/tokens` },
  'POST /users/:userId/verifications': { send: false, user: true, url: (of) => `/users/${of.user}/verifications`, body: () => ({ contact: 'email' }) },
  'POST /users/:userId/verifications/confirm': { send: false, user: true, url: (of) => `/users/${of.user}/verifications/confirm`, body: (of) => ({ contact: 'phone', code: of.code }) },
  'GET /users/:userId/preferences': { send: false, user: true, url: (of) => `/users/${of.user}/preferences` },
  'PUT /users/:userId/preferences': { send: false, user: true, url: (of) => `/users/${of.user}/preferences`, body: () => ({ channels: { sms: false } }) },
  'POST /users/:userId/devices': {
    send: false,
    user: true,
    url: (of) => `/users/${of.user}/devices`,
    body: (of) => ({ token: `fcm-token-registered-for-${of.user}-0123456789abcdefghijklmnopqrstuvwxyz`, platform: 'android' }),
  },
  'GET /users/:userId/devices': { send: false, user: true, url: (of) => `/users/${of.user}/devices` },
  'DELETE /users/:userId/devices/:deviceId': { send: false, user: true, url: (of) => `/users/${of.user}/devices/${of.device}` },
  'POST /users/:userId/tickets': { send: false, user: false, url: (of) => `/users/${of.user}/tickets`, body: () => buildTicketBody() },
  'GET /users/:userId/tickets': { send: false, user: true, url: (of) => `/users/${of.user}/tickets` },
  'GET /tickets/:ticketId': { send: false, user: true, url: (of) => `/tickets/${of.ticket}` },
  'PATCH /tickets/:ticketId': { send: false, user: false, url: (of) => `/tickets/${of.ticket}`, body: () => ({ status: 'paid' }) },
  'POST /tickets/:ticketId/notify': { send: true, user: false, url: (of) => `/tickets/${of.ticket}/notify`, body: () => ({ message: 'Votre amende est due' }) },
  'POST /users/:userId/reminders': { send: false, user: true, url: (of) => `/users/${of.user}/reminders`, body: (of) => ({ frequency_days: 1, channels: ['email'], ticket_id: of.ticket }) },
  'GET /users/:userId/reminders': { send: false, user: true, url: (of) => `/users/${of.user}/reminders` },
  'POST /reminders/process': { send: false, user: false, url: () => '/reminders/process' },
  'GET /reminders/:reminderId': { send: false, user: true, url: (of) => `/reminders/${of.reminder}` },
  'PATCH /reminders/:reminderId': { send: false, user: true, url: (of) => `/reminders/${of.reminder}`, body: () => ({ frequency_days: 1 }) },
  'DELETE /reminders/:reminderId': { send: false, user: true, url: (of) => `/reminders/${of.reminder}` },
  'POST /notifications/send': { send: true, user: false, url: () => '/notifications/send', body: (of) => ({ user_id: of.user, channel: 'email', message: 'Rappel' }) },
  'POST /notifications/batch': { send: true, user: false, url: () => '/notifications/batch', body: (of) => ({ notifications: [{ user_id: of.user, channel: 'email', message: 'Rappel' }] }) },
  'GET /notifications': { send: false, user: false, url: () => '/notifications?status=failed' },
  'GET /notifications/:notificationId': { send: true, user: true, url: (of) => `/notifications/${of.notification}` },
  'GET /users/:userId/notifications': { send: true, user: true, url: (of) => `/users/${of.user}/notifications` },
  'POST /notifications/:notificationId/cancel': { send: true, user: false, url: (of) => `/notifications/${of.notification}/cancel` },
  'POST /notifications/:notificationId/retry': { send: false, user: false, url: (of) => `/notifications/${of.notification}/retry` },
};

/** Routes without an API key: probes and metrics, the providers' signed webhooks, the operators' login, signed unsubscribe links. */
const PUBLIC_ROUTES = [
  'GET /healthz',
  'GET /readyz',
  'GET /metrics',
  'POST /webhooks/sendgrid',
  'ALL /webhooks/vonage',
  'ALL /webhooks/vonage/inbound',
  'POST /webhooks/twilio',
  'POST /webhooks/twilio/inbound',
  'GET /admin/login',
  'POST /admin/login',
  'GET /admin/logout',
  'POST /admin/logout',
  'USE /admin/queues',
  'GET /unsubscribe/:token',
  'POST /unsubscribe/:token',
  'GET /openapi.json',
  'USE /docs',
];

const entries = Object.entries(ROUTES);
const methodOf = (route: string): Method => route.split(' ')[0]!.toLowerCase() as Method;

function call(client: ApiClient, route: string, of: Ids): request.Test {
  const { url, body } = ROUTES[route]!;
  const method = methodOf(route);
  return method === 'get' || method === 'delete' ? client[method](url(of)) : client[method](url(of), body?.(of));
}

/** The problem body without what differs between two requests (the request id, the URL, the ids asked). */
function comparable(body: Record<string, unknown>): Record<string, unknown> {
  const rest = { ...body };
  delete rest.request_id;
  delete rest.instance;
  return { ...rest, detail: String(rest.detail).replace(/\d+/g, '#'), ...(Array.isArray(rest.errors) && { errors: JSON.parse(JSON.stringify(rest.errors).replace(/\d+/g, '#')) as unknown }) };
}

/** Everything a request could have changed: every row of every table, every job of every queue. */
async function snapshot(): Promise<unknown> {
  return { rows: await databaseRows(harness.env), jobs: await queues.jobs() };
}

/** A 2xx answer; otherwise the failure shows the route and what it answered. */
function expectSuccess(route: string, response: request.Response): void {
  const succeeded = response.status >= 200 && response.status < 300;
  expect({ route, status: response.status, body: succeeded ? 'ok' : (response.body as unknown) }).toEqual({ route, status: response.status, body: 'ok' });
}

/** A user of their own, with fresh resources, for requests that succeed (and may delete what they act on). */
async function freshUser(): Promise<{ ids: Ids; token: ApiClient }> {
  const user = await insertUser(harness.env.db);
  const fresh = await resourcesOf(user.id);
  const { body } = await harness.client.post(`/users/${user.id}/tokens`).expect(201);
  return { ids: fresh, token: apiClient(harness.api.app, body.token) };
}

describe('the route list', () => {
  it('classifies every route the app answers, and only those', () => {
    expect(routesOf(harness.api.app)).toEqual([...PUBLIC_ROUTES, ...Object.keys(ROUTES)].sort());
  });
});

describe('without valid credentials', () => {
  it.each(entries.map(([route]) => route))('%s: 401 without a key and with a key in the query string, nothing written or queued', async (route) => {
    const before = await snapshot();
    const { url, body } = ROUTES[route]!;

    const noKey = await call(apiClient(harness.api.app, null), route, ids.alice);
    const target = url(ids.alice);
    const keyInQuery = await request(harness.api.app)[methodOf(route)](`${target}${target.includes('?') ? '&' : '?'}api_key=${TEST_API_KEY}`)
      .set('Authorization', `Bearer ${TEST_API_KEY}`)
      .send(body?.(ids.alice));

    for (const [response, detail] of [
      [noKey, /Authorization header/],
      [keyInQuery, /never accepted in the query string/],
    ] as const) {
      expect(response.status).toBe(401);
      expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(response.body).toMatchObject({ type: '/problems/unauthorized', detail: expect.stringMatching(detail) });
    }
    expect(await snapshot()).toEqual(before);
  });
});

describe('a send key', () => {
  it.each(entries.filter(([, c]) => !c.send).map(([route]) => route))('%s: 403, nothing written or queued', async (route) => {
    const before = await snapshot();

    const response = await call(asSender, route, ids.bob);

    expect(response.status).toBe(403);
    expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(response.body).toMatchObject({ type: '/problems/forbidden', detail: 'This route needs an API key of scope admin; this one is send.' });
    expect(await snapshot()).toEqual(before);
  });

  it.each(entries.filter(([, c]) => c.send).map(([route]) => route))('%s: allowed', async (route) => {
    const { ids: fresh } = await freshUser();

    const response = await call(asSender, route, fresh);

    expectSuccess(route, response);
  });
});

describe('a user token on another user', () => {
  it.each(entries.filter(([, c]) => c.user).map(([route]) => route))('%s: 404 with the body of an id that does not exist, nothing written or queued', async (route) => {
    const before = await snapshot();

    const other = await call(asAlice, route, ids.bob);
    const missing = await call(asAlice, route, ids.none);

    expect(other.status).toBe(404);
    expect(other.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(missing.status).toBe(404);
    expect(comparable(other.body)).toEqual(comparable(missing.body));
    expect(JSON.stringify(other.body)).not.toMatch(/Bob|bob\.secret|\+33699887766/);
    expect(await snapshot()).toEqual(before);
  });

  // The user in the path is the token's own; the other id is someone else's.
  const MIXED: Array<[string, (foreign: Ids) => request.Test]> = [
    ['DELETE /users/{own}/devices/{theirs}', (foreign) => asAlice.delete(`/users/${ids.alice.user}/devices/${foreign.device}`)],
    ['POST /users/{own}/reminders with their ticket_id', (foreign) => asAlice.post(`/users/${ids.alice.user}/reminders`, { frequency_days: 7, channels: ['email'], ticket_id: foreign.ticket })],
  ];
  it.each(MIXED)('%s: 404 with the body of an id that does not exist, nothing written or queued', async (_name, send) => {
    const before = await snapshot();

    const other = await send(ids.bob);
    const missing = await send(ids.none);

    expect(other.status).toBe(404);
    expect(other.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(comparable(other.body)).toEqual(comparable(missing.body));
    expect(await snapshot()).toEqual(before);
  });
});

describe('a user token on routes for the backend only', () => {
  it.each(entries.filter(([, c]) => !c.user).map(([route]) => route))('%s: 403 for its own user as for another, nothing written or queued', async (route) => {
    const before = await snapshot();

    const own = await call(asAlice, route, ids.alice);
    const other = await call(asAlice, route, ids.bob);

    for (const response of [own, other]) {
      expect(response.status).toBe(403);
      expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(response.body).toMatchObject({ type: '/problems/forbidden', detail: expect.stringMatching(/^This route is not open to user tokens: it needs an API key of scope (admin|send)\.$/) });
    }
    expect(await snapshot()).toEqual(before);
  });
});

describe('a user token on its own user', () => {
  it.each(entries.filter(([, c]) => c.user).map(([route]) => route))('%s: allowed', async (route) => {
    const { ids: own, token } = await freshUser();

    const response = await call(token, route, own);

    expectSuccess(route, response);
  });

  it('lists only its own notifications', async () => {
    const { body } = await asAlice.get(`/users/${ids.alice.user}/notifications`).expect(200);

    expect(body.notifications.map((n: { id: number }) => n.id)).toEqual([ids.alice.notification]);
  });

  it('cannot move a reminder to another user through a body', async () => {
    const before = await snapshot();

    const response = await asAlice.patch(`/reminders/${ids.alice.reminder}`, { user_id: ids.bob.user });

    expect(response.status).toBe(400);
    expect(response.body.errors).toEqual([{ field: 'user_id', message: expect.stringMatching(/^is not a known field/) }]);
    expect(await snapshot()).toEqual(before);
  });
});
