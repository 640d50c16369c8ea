import { Device, Notification, Reminder, Ticket, User } from '@notofine/db';
import { apiClient, type ApiClient } from '@test/api-client';
import { insertDevice, insertReminder, insertTicket, insertUser } from '@test/factories';
import { startApi, type ApiHarness } from './api-harness';
import { openDeliveryQueues, type DeliveryQueuesProbe } from './delivery-queues';

// A user token reaches its own user's resources and nothing else: another user's id answers
// exactly as an id that does not exist, and changes nothing.

let harness: ApiHarness;
let queues: DeliveryQueuesProbe;
let asAlice: ApiClient;
/** Alice's resources (the token's user) and Bob's (another user), and ids no row has. */
const ids = { alice: {} as Ids, bob: {} as Ids, none: { user: 9_999_001, ticket: 9_999_002, reminder: 9_999_003, notification: 9_999_004, device: 9_999_005 } };
interface Ids {
  user: number;
  ticket: number;
  reminder: number;
  notification: number;
  device: number;
}

async function resourcesOf(user: User): Promise<Ids> {
  const ticket = await insertTicket(harness.env.db, user.id);
  const reminder = await insertReminder(harness.env.db, user.id, ['email']);
  const device = await insertDevice(harness.env.db, user.id);
  const { body: notification } = await harness.client.post('/notifications/send', { user_id: user.id, channel: 'email', message: 'Votre amende' }).expect(202);
  return { user: user.id, ticket: ticket.id, reminder: reminder.id, notification: notification.id, device: device.id };
}

beforeAll(async () => {
  harness = await startApi();
  queues = openDeliveryQueues(harness.env);
  const alice = await insertUser(harness.env.db, { fullName: 'Alice' });
  const bob = await insertUser(harness.env.db, { fullName: 'Bob' });
  ids.alice = await resourcesOf(alice);
  ids.bob = await resourcesOf(bob);
  const { body } = await harness.client.post(`/users/${alice.id}/tokens`).expect(201);
  asAlice = apiClient(harness.api.app, body.token);
});
afterAll(async () => {
  await queues.close();
  await harness.stop();
});

type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';
/** Name, method, path and body of a request on the resources of `of`. */
type Route = [string, Method, (of: Ids) => string, ((of: Ids) => object) | undefined];
/** Every route a user token may use, for the resources of `of`. */
const OPEN_TO_USERS: Route[] = [
  ['GET /users/{user}', 'get', (of) => `/users/${of.user}`, undefined],
  ['PATCH /users/{user}', 'patch', (of) => `/users/${of.user}`, () => ({ full_name: 'Mallory' })],
  ['GET /users/{user}/preferences', 'get', (of) => `/users/${of.user}/preferences`, undefined],
  ['PUT /users/{user}/preferences', 'put', (of) => `/users/${of.user}/preferences`, () => ({ channels: { sms: false } })],
  ['GET /users/{user}/notifications', 'get', (of) => `/users/${of.user}/notifications`, undefined],
  ['GET /notifications/{notification}', 'get', (of) => `/notifications/${of.notification}`, undefined],
  ['POST /users/{user}/devices', 'post', (of) => `/users/${of.user}/devices`, () => ({ token: 'fcm-token-of-mallory-0123456789abcdefghijklmnopqrstuvwxyz', platform: 'android' })],
  ['GET /users/{user}/devices', 'get', (of) => `/users/${of.user}/devices`, undefined],
  ['DELETE /users/{user}/devices/{device}', 'delete', (of) => `/users/${of.user}/devices/${of.device}`, undefined],
  ['GET /users/{user}/tickets', 'get', (of) => `/users/${of.user}/tickets`, undefined],
  ['GET /tickets/{ticket}', 'get', (of) => `/tickets/${of.ticket}`, undefined],
  ['POST /users/{user}/reminders', 'post', (of) => `/users/${of.user}/reminders`, () => ({ frequency_days: 1, channels: ['email'] })],
  ['GET /users/{user}/reminders', 'get', (of) => `/users/${of.user}/reminders`, undefined],
  ['GET /reminders/{reminder}', 'get', (of) => `/reminders/${of.reminder}`, undefined],
  ['PATCH /reminders/{reminder}', 'patch', (of) => `/reminders/${of.reminder}`, () => ({ frequency_days: 1 })],
  ['DELETE /reminders/{reminder}', 'delete', (of) => `/reminders/${of.reminder}`, undefined],
];

/** Routes for the backend only: a user token gets 403 on them, whatever the ids. */
const CLOSED_TO_USERS: Route[] = [
  ['POST /users', 'post', () => '/users', () => ({ full_name: 'Mallory', email: 'mallory@example.com' })],
  ['DELETE /users/{user}', 'delete', (of) => `/users/${of.user}`, undefined],
  ['POST /users/{user}/tokens', 'post', (of) => `/users/${of.user}/tokens`, undefined],
  ['POST /users/{user}/tickets', 'post', (of) => `/users/${of.user}/tickets`, () => ({ reference: 'XYZ999', amount_cents: 100, due_date: '2026-12-31' })],
  ['PATCH /tickets/{ticket}', 'patch', (of) => `/tickets/${of.ticket}`, () => ({ status: 'paid' })],
  ['POST /tickets/{ticket}/notify', 'post', (of) => `/tickets/${of.ticket}/notify`, () => ({ message: 'Spam' })],
  ['POST /notifications/send', 'post', () => '/notifications/send', (of) => ({ user_id: of.user, channel: 'sms', message: 'Spam' })],
  ['GET /notifications?status=failed', 'get', () => '/notifications?status=failed', undefined],
  ['POST /notifications/{notification}/cancel', 'post', (of) => `/notifications/${of.notification}/cancel`, undefined],
  ['POST /notifications/{notification}/retry', 'post', (of) => `/notifications/${of.notification}/retry`, undefined],
  ['POST /reminders/process', 'post', () => '/reminders/process', undefined],
];

function call(client: ApiClient, method: Method, url: string, body: object | undefined) {
  return method === 'get' || method === 'delete' ? client[method](url) : client[method](url, body);
}

function request(client: ApiClient, [, method, path, body]: Route, of: Ids) {
  return call(client, method, path(of), body?.(of));
}

/** The problem body without what differs between two requests (the request id, the URL, the ids asked). */
function comparable(body: Record<string, unknown>): Record<string, unknown> {
  const rest = { ...body };
  delete rest.request_id;
  delete rest.instance;
  return { ...rest, detail: String(rest.detail).replace(/\d+/g, '#') };
}

/** Everything a request could have changed: every table's rows and every queue's jobs. */
async function snapshot(): Promise<unknown> {
  const { manager } = harness.env.db;
  return {
    users: await manager.find(User, { order: { id: 'ASC' } }),
    tickets: await manager.find(Ticket, { order: { id: 'ASC' } }),
    reminders: await manager.find(Reminder, { order: { id: 'ASC' }, relations: { channels: true } }),
    devices: await manager.find(Device, { order: { id: 'ASC' } }),
    notifications: await manager.find(Notification, { order: { id: 'ASC' } }),
    jobs: await queues.waiting(),
  };
}

describe('a user token on another user', () => {
  it.each(OPEN_TO_USERS)('%s: 404 with the body of an id that does not exist, nothing written or queued', async (...route) => {
    const before = await snapshot();

    const other = await request(asAlice, route, ids.bob);
    const missing = await request(asAlice, route, ids.none);

    expect(other.status).toBe(404);
    expect(other.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(missing.status).toBe(404);
    expect(comparable(other.body)).toEqual(comparable(missing.body));
    expect(JSON.stringify(other.body)).not.toMatch(/Bob|example\.com|\+33/);
    expect(await snapshot()).toEqual(before);
  });
});

describe('a user token on routes for the backend only', () => {
  it.each(CLOSED_TO_USERS)('%s: 403 for its own user as for another, nothing written or queued', async (...route) => {
    const before = await snapshot();

    const own = await request(asAlice, route, ids.alice);
    const other = await request(asAlice, route, ids.bob);

    for (const response of [own, other]) {
      expect(response.status).toBe(403);
      expect(response.body).toMatchObject({ type: '/problems/forbidden', detail: expect.stringMatching(/^This route is not open to user tokens: it needs an API key of scope (admin|send)\.$/) });
    }
    expect(await snapshot()).toEqual(before);
  });
});

describe('a user token on its own user', () => {
  it('reads and manages what is its own', async () => {
    const { alice } = ids;

    await call(asAlice, 'get', `/users/${alice.user}`, undefined).expect(200);
    await call(asAlice, 'put', `/users/${alice.user}/preferences`, { channels: { push: false } }).expect(200);
    const notifications = await call(asAlice, 'get', `/users/${alice.user}/notifications`, undefined).expect(200);
    await call(asAlice, 'get', `/notifications/${alice.notification}`, undefined).expect(200);
    await call(asAlice, 'get', `/tickets/${alice.ticket}`, undefined).expect(200);
    await call(asAlice, 'post', `/users/${alice.user}/devices`, { token: 'fcm-token-of-alice-0123456789abcdefghijklmnopqrstuvwxyz', platform: 'ios' }).expect(201);
    const reminder = await call(asAlice, 'post', `/users/${alice.user}/reminders`, { frequency_days: 3, channels: ['email'] }).expect(201);
    await call(asAlice, 'patch', `/reminders/${reminder.body.id}`, { frequency_days: 5 }).expect(200);
    await call(asAlice, 'delete', `/reminders/${reminder.body.id}`, undefined).expect(204);

    expect(notifications.body.notifications.map((n: { id: number }) => n.id)).toEqual([alice.notification]);
  });

  it('cannot move a notification, reminder or device to another user through a body', async () => {
    const response = await call(asAlice, 'patch', `/reminders/${ids.alice.reminder}`, { user_id: ids.bob.user });

    expect(response.status).toBe(400);
    expect(response.body.errors).toEqual([{ field: 'user_id', message: expect.stringMatching(/^is not a known field/) }]);
    expect((await harness.env.db.manager.findOneByOrFail(Reminder, { id: ids.alice.reminder })).userId).toBe(ids.alice.user);
  });
});
