import { Device, Notification } from '@notofine/db';
import { createProviders } from '@notofine/providers';
import { captureLogs } from '@test/capture-logs';
import { insertDevice, insertUser } from '@test/factories';
import { createTestEnvironment, type TestEnvironment } from '@test/test-environment';
import { waitFor } from '@test/wait-for';
import { fcmError, startFcmServer, type LoopbackFcm } from '../../../packages/providers/test/loopback/fcm-server';
import type { LoopbackHttpServer } from '../../../packages/providers/test/loopback/http-server';
import { startSendGridServer } from '../../../packages/providers/test/loopback/sendgrid-server';
import { startVonageServer, vonageAnswer, vonagePart } from '../../../packages/providers/test/loopback/vonage-server';
import { start, type WorkerService } from '../src/worker-service';

// The worker with providers built from the configuration, as in production: SendGrid for email,
// Vonage for SMS, FCM for push, each through its real SDK against a loopback that speaks its API.

const SENDGRID_KEY = 'SG.secret-sendgrid-key';
const VONAGE_SECRET = 'vonage-api-secret';

let sendgrid: LoopbackHttpServer;
let vonage: LoopbackHttpServer;
let fcm: LoopbackFcm;
let env: TestEnvironment;
let worker: WorkerService;
const logs = captureLogs('worker');

beforeAll(async () => {
  [sendgrid, vonage, fcm] = await Promise.all([startSendGridServer(), startVonageServer(), startFcmServer('notofine-test')]);
  env = await createTestEnvironment({
    DELIVERY_ATTEMPTS: '3',
    EMAIL_PROVIDER: 'sendgrid',
    SENDGRID_API_KEY: SENDGRID_KEY,
    SENDGRID_BASE_URL: sendgrid.url,
    EMAIL_FROM: 'Notofine <no-reply@notofine.fr>',
    SMS_PROVIDER: 'vonage',
    VONAGE_API_KEY: 'vonage-key',
    VONAGE_API_SECRET: VONAGE_SECRET,
    VONAGE_BASE_URL: vonage.url,
    SMS_FROM: 'Notofine',
    PUSH_PROVIDER: 'fcm',
    FCM_PROJECT_ID: 'notofine-test',
    FCM_CREDENTIALS: JSON.stringify(fcm.serviceAccount),
    FCM_BASE_URL: fcm.server.url,
    PROVIDER_TIMEOUT_MS: '1000',
  });
  worker = await start({ config: env.config, logger: logs.logger, providers: createProviders(env.config.providers, logs.logger), scheduleReminders: false });
});
afterAll(async () => {
  await worker.stop();
  await env.cleanup();
  await Promise.all([sendgrid.close(), vonage.close(), fcm.server.close()]);
});

function settled(id: number): Promise<Notification> {
  return waitFor(`notification ${id} to leave pending`, async () => {
    const row = await env.db.manager.findOneByOrFail(Notification, { id });
    return row.status !== 'pending' && row;
  });
}

describe('email through SendGrid', () => {
  it('retries a 500 and ends sent with the X-Message-Id', async () => {
    const user = await insertUser(env.db, { email: 'jean.dupont@example.com' });
    sendgrid.script({ status: 500, body: { errors: [{ message: 'internal error' }] } });

    const pending = await worker.notifications.sendNotification({ userId: user.id, channel: 'email', message: 'Votre contravention est due', subject: 'Rappel' });
    const row = await settled(pending.id);

    expect(row).toMatchObject({ status: 'sent', attempts: 2, provider: 'sendgrid', providerMessageId: expect.stringMatching(/^sg-\d+$/), errorMessage: null });
  });

  it('fails at once on a 400, with SendGrid’s message, after one call; no secret and no address in the logs', async () => {
    const user = await insertUser(env.db, { email: 'marie.curie@example.com' });
    const before = sendgrid.requests.length;
    sendgrid.script({ status: 400, body: { errors: [{ message: 'Does not contain a valid address.', field: 'personalizations.0.to.0.email' }] } });

    const pending = await worker.notifications.sendNotification({ userId: user.id, channel: 'email', message: 'Rappel' });
    const row = await settled(pending.id);

    expect(row).toMatchObject({ status: 'failed', attempts: 1, errorMessage: 'sendgrid: HTTP 400: personalizations.0.to.0.email: Does not contain a valid address.' });
    expect(sendgrid.requests.length - before).toBe(1);
    const written = logs.lines.join('\n');
    expect(written).toContain(`"notification_id":${pending.id}`);
    for (const secret of [SENDGRID_KEY, VONAGE_SECRET, 'marie.curie@example.com', fcm.serviceAccount.private_key.split('\n')[1]!]) expect(written).not.toContain(secret);
  });
});

describe('SMS through Vonage', () => {
  it('waits out a throttle without spending an attempt, then sends', async () => {
    const user = await insertUser(env.db);
    vonage.script(vonageAnswer(vonagePart('1', { 'error-text': 'Throughput Rate Exceeded' })));

    const pending = await worker.notifications.sendNotification({ userId: user.id, channel: 'sms', message: 'Rappel Notofine' });
    const row = await waitFor('the SMS to be sent', async () => {
      const current = await env.db.manager.findOneByOrFail(Notification, { id: pending.id });
      return current.status === 'sent' && current;
    }, { timeoutMs: 15_000 });

    expect(row).toMatchObject({ attempts: 1, provider: 'vonage', providerMessageId: expect.stringMatching(/^vonage-/) });
  });

  it('fails at once on a permanent status', async () => {
    const user = await insertUser(env.db);
    vonage.script(vonageAnswer(vonagePart('6', { 'error-text': 'Unroutable message' })));

    const row = await settled((await worker.notifications.sendNotification({ userId: user.id, channel: 'sms', message: 'Rappel' })).id);

    expect(row).toMatchObject({ status: 'failed', attempts: 1, errorMessage: 'vonage: Vonage refused the SMS: status 6 (Unroutable message)' });
  });
});

describe('push through FCM', () => {
  it('sends to every active device, disables the one FCM reports unregistered and keeps the others', async () => {
    const user = await insertUser(env.db);
    const [alive, dead, other] = await Promise.all([insertDevice(env.db, user.id), insertDevice(env.db, user.id), insertDevice(env.db, user.id)]);
    fcm.replies.set(dead!.token, fcmError(404, 'NOT_FOUND', 'UNREGISTERED', 'Requested entity was not found.'));

    const row = await settled((await worker.notifications.sendNotification({ userId: user.id, channel: 'push', message: 'Rappel', subject: 'Notofine' })).id);

    expect(row).toMatchObject({ status: 'sent', provider: 'fcm', providerMessageId: expect.stringMatching(/^projects\/notofine-test\/messages\//) });
    const devices = await env.db.manager.find(Device, { where: { userId: user.id }, order: { id: 'ASC' } });
    // The three inserts ran concurrently: their ids are in no particular order.
    const active = new Map(devices.map((d) => [d.id, d.disabledAt === null]));
    expect(active).toEqual(new Map([[alive!.id, true], [dead!.id, false], [other!.id, true]]));
  });

  it('sends with a new access token, at the first attempt, when FCM stops taking the one it cached', async () => {
    const user = await insertUser(env.db);
    await insertDevice(env.db, user.id);
    await settled((await worker.notifications.sendNotification({ userId: user.id, channel: 'push', message: 'Rappel' })).id);
    fcm.revokeAccessTokens();
    const issued = fcm.issuedAccessTokens().length;

    const row = await settled((await worker.notifications.sendNotification({ userId: user.id, channel: 'push', message: 'Rappel' })).id);

    expect(row).toMatchObject({ status: 'sent', attempts: 1, errorMessage: null });
    expect(fcm.issuedAccessTokens()).toHaveLength(issued + 1);
  });

  it('fails when every device is unregistered, and disables them all', async () => {
    const user = await insertUser(env.db);
    const devices = await Promise.all([insertDevice(env.db, user.id), insertDevice(env.db, user.id)]);
    for (const device of devices) fcm.replies.set(device.token, fcmError(404, 'NOT_FOUND', 'UNREGISTERED', 'Requested entity was not found.'));

    const row = await settled((await worker.notifications.sendNotification({ userId: user.id, channel: 'push', message: 'Rappel' })).id);

    expect(row).toMatchObject({ status: 'failed', errorMessage: expect.stringContaining('No device accepted the notification') });
    const active = await env.db.query('SELECT count(*)::int AS n FROM devices WHERE user_id = $1 AND disabled_at IS NULL', [user.id]);
    expect(active).toEqual([{ n: 0 }]);
    expect(logs.lines.join('\n')).not.toContain(devices[0]!.token);
  });
});
