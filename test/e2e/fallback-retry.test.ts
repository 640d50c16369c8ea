import { Notification } from '@notofine/db';
import { apiClient, type ApiClient } from '@test/api-client';
import { insertUser } from '@test/factories';
import { failWith, heldCall, ScriptedProviders } from '@test/scripted-providers';
import { createTestEnvironment, TEST_API_KEY, type TestEnvironment } from '@test/test-environment';
import { waitFor } from '@test/wait-for';
import request from 'supertest';
import { SESSION_COOKIE } from '../../services/api/src/admin/session';
import { start as startApi, type ApiService } from '../../services/api/src/api-service';
import { start as startWorker, type WorkerService } from '../../services/worker/src/worker-service';

// Retrying a failed notification of a fallback chain, by the route and from the queue board: a
// retry never sends again what the chain delivered. The API and a worker in-process, the worker
// sending through scripted providers that record every call.

let env: TestEnvironment;
let api: ApiService;
let worker: WorkerService;
let providers: ScriptedProviders;
let client: ApiClient;

beforeAll(async () => {
  env = await createTestEnvironment();
  api = await startApi({ config: env.config, logger: env.logger, listen: false });
  providers = new ScriptedProviders();
  worker = await startWorker({ config: env.config, logger: env.logger, providers, scheduleReminders: false });
  client = apiClient(api.app);
});
afterAll(async () => {
  await worker?.stop();
  await api?.stop();
  await env?.cleanup();
});

const rowsOf = (userId: number) => env.db.manager.find(Notification, { where: { userId }, order: { id: 'ASC' } });
/** Waits until none of the user's notifications is pending (a chain's later links included), and returns them. */
const settled = (userId: number) =>
  waitFor('every notification of the user to be final', async () => {
    const rows = await rowsOf(userId);
    return rows.every((row) => row.status !== 'pending') && rows;
  });
const callsFor = (calls: ReadonlyArray<{ notificationId: number }>, ids: readonly number[]) => calls.filter((call) => ids.includes(call.notificationId)).length;

/** An SMS that failed for good, and the email of its chain that went out instead. */
async function smsDeliveredByEmail(): Promise<{ userId: number; sms: Notification; email: Notification }> {
  const user = await insertUser(env.db);
  providers.sms.script(failWith('invalid-address', 'not a mobile number'));
  await client.post('/notifications/send', { user_id: user.id, channel: 'sms', message: 'Votre amende', fallback: ['email'] }).expect(202);
  const [sms, email] = await settled(user.id);
  expect({ sms: sms?.status, email: email?.status, chained: email?.fallbackFromId === sms?.id }).toEqual({ sms: 'failed', email: 'sent', chained: true });
  return { userId: user.id, sms: sms!, email: email! };
}

describe('retrying a failed notification of a fallback chain', () => {
  it('refuses, with 409, a failed link whose chain a later channel delivered: the email is not sent twice', async () => {
    const { userId, sms, email } = await smsDeliveredByEmail();
    providers.sms.script(failWith('invalid-address', 'not a mobile number'));

    const retry = await client.post(`/notifications/${sms.id}/retry`);
    const rows = await settled(userId);

    expect(retry.status).toBe(409);
    expect(retry.body.detail).toBe(`Notification ${sms.id}'s fallback chain was delivered by notification ${email.id} (email): sending it again would send the message twice.`);
    expect(rows.map((row) => row.id)).toEqual([sms.id, email.id]);
    expect(callsFor(providers.email.calls, rows.map((row) => row.id))).toBe(1);
    expect(callsFor(providers.sms.calls, [sms.id])).toBe(1);
  });

  it('refuses, with 409, a failed link whose chain is still being tried on a later channel', async () => {
    const user = await insertUser(env.db);
    const held = heldCall((message: { notificationId: number }) => ({ providerMessageId: `email-${message.notificationId}` }));
    providers.sms.script(failWith('invalid-address', 'not a mobile number'));
    providers.email.script(held.step);
    await client.post('/notifications/send', { user_id: user.id, channel: 'sms', message: 'Votre amende', fallback: ['email'] }).expect(202);
    const emailing = await held.reached;
    const [sms] = await rowsOf(user.id);

    const retry = await client.post(`/notifications/${sms!.id}/retry`);
    held.release();
    const rows = await settled(user.id);

    expect(retry.status).toBe(409);
    expect(retry.body.detail).toBe(`Notification ${sms!.id}'s fallback chain is still being tried, by notification ${emailing.notificationId} (email): retry once that one has failed.`);
    expect(rows.map((row) => row.status)).toEqual(['failed', 'sent']);
    expect(callsFor(providers.sms.calls, [sms!.id])).toBe(1);
  });

  it('sends a retried link alone once its chain went on: failing again, it does not run the rest of the chain again', async () => {
    const user = await insertUser(env.db);
    providers.sms.script(failWith('invalid-address', 'not a mobile number'));
    providers.email.script(failWith('invalid-address', 'mailbox does not exist'));
    await client.post('/notifications/send', { user_id: user.id, channel: 'sms', message: 'Votre amende', fallback: ['email'] }).expect(202);
    const [sms, email] = await settled(user.id);
    expect([sms?.status, email?.status]).toEqual(['failed', 'failed']);
    providers.sms.script(failWith('invalid-address', 'not a mobile number'));

    await client.post(`/notifications/${sms!.id}/retry`).expect(202);
    const rows = await settled(user.id);

    expect(rows.map((row) => [row.id, row.status])).toEqual([
      [sms!.id, 'failed'],
      [email!.id, 'failed'],
    ]);
    expect(rows[0]).toMatchObject({ fallbackToId: email!.id });
    expect(callsFor(providers.sms.calls, [sms!.id])).toBe(2);
    expect(callsFor(providers.email.calls, [email!.id])).toBe(1);
  });

  it('from the queue board: one job retried gets 409 saying why, "retry all" leaves it failed, and no email goes out twice', async () => {
    const { userId, sms, email } = await smsDeliveredByEmail();
    // As the board's own page sends them: the board refuses changes from another origin.
    const login = await request(api.app).post('/admin/login').set('Sec-Fetch-Site', 'same-origin').type('form').send({ api_key: TEST_API_KEY }).expect(303);
    const cookie = ([] as string[]).concat(login.headers['set-cookie'] ?? []).find((c) => c.startsWith(`${SESSION_COOKIE}=`))!.split(';')[0]!;

    const one = await request(api.app).put(`/admin/queues/api/queues/sms/notification-${sms.id}/retry`).set('Sec-Fetch-Site', 'same-origin').set('Cookie', cookie);
    const all = await request(api.app).put('/admin/queues/api/queues/sms/retry/failed').set('Sec-Fetch-Site', 'same-origin').set('Cookie', cookie);
    const rows = await settled(userId);

    expect(one.status).toBe(409);
    expect(one.body.message).toContain(`delivered by notification ${email.id} (email)`);
    expect(all.status).toBe(200);
    expect(rows.map((row) => [row.id, row.status])).toEqual([
      [sms.id, 'failed'],
      [email.id, 'sent'],
    ]);
    expect(callsFor(providers.email.calls, [email.id])).toBe(1);
    expect(callsFor(providers.sms.calls, [sms.id])).toBe(1);
  });

  it('still retries a failed notification whose chain delivered nothing, and sends it', async () => {
    const user = await insertUser(env.db);
    providers.email.script(failWith('invalid-address', 'mailbox does not exist'));
    await client.post('/notifications/send', { user_id: user.id, channel: 'email', message: 'Votre amende' }).expect(202);
    const [failed] = await settled(user.id);

    await client.post(`/notifications/${failed!.id}/retry`).expect(202);
    const [retried] = await settled(user.id);

    expect(retried).toMatchObject({ id: failed!.id, status: 'sent' });
  });
});
