import { type Notification, User, insertPendingNotifications } from '@notofine/db';
import { DELIVERY_JOB, deliveryJobId } from '@notofine/queue';
import { apiClient } from '@test/api-client';
import { buildUserBody, insertUser } from '@test/factories';
import { createApiKey } from '../src/api-keys/api-keys';
import { startApi, type ApiHarness } from './api-harness';
import { openDeliveryQueues, type DeliveryQueuesProbe } from './delivery-queues';

let harness: ApiHarness;
let queues: DeliveryQueuesProbe;
let sendKey: ReturnType<typeof apiClient>;
beforeAll(async () => {
  harness = await startApi();
  queues = openDeliveryQueues(harness.env);
  const { key } = await createApiKey(harness.env.db.manager, 'backend-sender', 'send');
  sendKey = apiClient(harness.api.app, key);
});
afterAll(async () => {
  await queues.close();
  await harness.stop();
});

/**
 * A notification that ended `failed`, its spent job still kept in Redis as BullMQ keeps failed
 * jobs (marked by the throttle count it carries, so that a new job can be told from it).
 */
async function failedNotification(): Promise<Notification> {
  const user = await insertUser(harness.env.db);
  const [notification] = await insertPendingNotifications(harness.env.db.manager, [{ userId: user.id, channel: 'email', message: 'Rappel', subject: null, ticketId: null, reminderId: null }]);
  await harness.env.db.query(`UPDATE notifications SET status = 'failed', attempts = 5, error_message = 'Gave up after 5 attempts: smtp: 451' WHERE id = $1`, [notification!.id]);
  await queues.queue('email').add(DELIVERY_JOB, { notificationId: notification!.id, throttles: 3 }, { jobId: deliveryJobId(notification!.id) });
  return notification!;
}

describe('API key scopes', () => {
  it('lets a send key send notifications and read them', async () => {
    const user = await insertUser(harness.env.db);

    const sent = await sendKey.post('/notifications/send', { user_id: user.id, channel: 'email', message: 'Rappel' });

    expect(sent.status).toBe(202);
    await sendKey.get(`/notifications/${sent.body.id}`).expect(200);
    await sendKey.get(`/users/${user.id}/notifications`).expect(200);
  });

  it.each([
    ['POST', '/users'],
    ['GET', '/users/1'],
    ['POST', '/users/1/tickets'],
    ['POST', '/users/1/reminders'],
    ['POST', '/reminders/process'],
    ['GET', '/notifications?status=failed'],
    ['POST', '/notifications/1/retry'],
  ])('refuses a send key on %s %s with 403, and does nothing', async (method, path) => {
    const users = await harness.env.db.manager.count(User);

    const response = method === 'GET' ? await sendKey.get(path) : await sendKey.post(path, buildUserBody());

    expect(response.status).toBe(403);
    expect(response.body).toMatchObject({ type: '/problems/forbidden', detail: 'This route needs an API key of scope admin; this one is send.' });
    expect(await harness.env.db.manager.count(User)).toBe(users);
  });
});

describe('POST /notifications/{id}/retry', () => {
  it('puts a failed notification back to pending, errors cleared, with a new delivery job', async () => {
    const notification = await failedNotification();

    const response = await harness.client.post(`/notifications/${notification.id}/retry`);

    expect(response.status).toBe(202);
    expect(response.body).toMatchObject({ id: notification.id, status: 'pending', error_message: null, attempts: 5 });
    const job = await queues.job('email', notification.id);
    expect(await job?.getState()).toBe('waiting');
    expect(job?.data).toEqual({ notificationId: notification.id });
  });

  it('refuses a notification that is not failed with 409, and one that does not exist with 404', async () => {
    const user = await insertUser(harness.env.db);
    const { body: pending } = await harness.client.post('/notifications/send', { user_id: user.id, channel: 'email', message: 'Rappel' }).expect(202);

    const conflict = await harness.client.post(`/notifications/${pending.id}/retry`);
    const missing = await harness.client.post('/notifications/999999/retry');

    expect(conflict.status).toBe(409);
    expect(conflict.body.detail).toBe(`Notification ${pending.id} is pending: only a failed notification can be retried.`);
    expect(missing.status).toBe(404);
  });
});

describe('GET /notifications', () => {
  it('lists every user’s failed notifications for operators, newest first', async () => {
    const first = await failedNotification();
    const second = await failedNotification();

    const { body } = await harness.client.get('/notifications?status=failed&limit=100').expect(200);

    const ids = (body.notifications as Array<{ id: number; status: string }>).map((n) => n.id);
    expect(ids.indexOf(second.id)).toBeLessThan(ids.indexOf(first.id));
    expect((body.notifications as Array<{ status: string }>).every((n) => n.status === 'failed')).toBe(true);
  });
});
