import { CHANNELS, Notification } from '@notofine/db';
import { apiClient } from '@test/api-client';
import { captureLogs } from '@test/capture-logs';
import { failWith, ScriptedProviders } from '@test/scripted-providers';
import { createTestEnvironment, TEST_API_KEY, type TestEnvironment } from '@test/test-environment';
import { waitFor } from '@test/wait-for';
import type { Response } from 'supertest';
import { start as startApi, type ApiService } from '../../services/api/src/api-service';
import { start as startWorker } from '../../services/worker/src/worker-service';

// What the services write to their logs, as production writes it (JSON): one JSON object a line,
// the request's id on every line of a request, the job's id on every line of a delivery, and no
// personal data or credential anywhere, error messages of providers included.

const PERSON = { full_name: 'Marie Curie', email: 'marie.curie@example.com', phone: '+33698765432' };
const PUSH_TOKEN = 'fcm-device:APA91bGq7RzK2m5Lx8Vt3Nw0Pd9Hs6Jy4Fb1Qc7Ze2Ua5Xo8Ir3Tk6Mv9Lg0Wn';

let env: TestEnvironment;
let api: ApiService;
const apiLogs = captureLogs('api');
const workerLogs = captureLogs('worker');
afterAll(async () => {
  await api?.stop();
  await env?.cleanup();
});

/** The fields every line has, and whether it parses as one JSON object. */
function expectJsonLines(lines: readonly string[]): Array<Record<string, unknown>> {
  const entries = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
  for (const entry of entries) expect(entry).toMatchObject({ level: expect.any(String), message: expect.any(String), service: expect.any(String), timestamp: expect.any(String) });
  return entries;
}

it('logs JSON lines with the request or job id, and no personal data, provider errors included', async () => {
  env = await createTestEnvironment({ LOG_LEVEL: 'debug' });
  api = await startApi({ config: env.config, logger: apiLogs.logger, listen: false });
  const client = apiClient(api.app);
  const responses: Response[] = [];
  const firstRequestLine = apiLogs.lines.length;

  const user = await client.post('/users', PERSON).expect(201);
  responses.push(user);
  responses.push(await client.post(`/users/${user.body.id}/devices`, { token: PUSH_TOKEN, platform: 'android' }).expect(201));
  const token = await client.post(`/users/${user.body.id}/tokens`).expect(201);
  responses.push(token);
  for (const channel of CHANNELS) {
    responses.push(await client.post('/notifications/send', { user_id: user.body.id, channel, message: 'Votre contravention est due' }).expect(202));
  }
  responses.push(await client.post('/users', { ...PERSON, email: 'not an address' }).expect(400));
  const lastRequestLine = apiLogs.lines.length;

  // The SMS provider refuses the number, naming it and the email, as providers' messages do.
  const providers = new ScriptedProviders();
  providers.sms.script(failWith('invalid-address', `21211 The 'To' number ${PERSON.phone} is not valid (account of ${PERSON.email})`));
  const worker = await startWorker({ config: env.config, logger: workerLogs.logger, providers, scheduleReminders: false });
  try {
    await waitFor('the notifications to be final', async () => {
      const rows = await env.db.manager.findBy(Notification, { userId: user.body.id as number });
      return rows.length === 3 && rows.every((row) => row.status !== 'pending');
    });
  } finally {
    await worker.stop();
  }

  const apiEntries = expectJsonLines(apiLogs.lines);
  const workerEntries = expectJsonLines(workerLogs.lines);
  const requestIds = responses.map((response) => response.headers['x-request-id'] as string);
  // Each request's own line, and every line written while requests ran, carry a request id.
  expect(apiEntries.filter((entry) => entry.message === 'request').map((entry) => entry.request_id)).toEqual(expect.arrayContaining(requestIds));
  const duringRequests = apiEntries.slice(firstRequestLine, lastRequestLine);
  expect(duringRequests.length).toBeGreaterThanOrEqual(requestIds.length);
  expect(duringRequests.filter((entry) => typeof entry.request_id !== 'string')).toEqual([]);
  // Each delivery's lines carry their job's id.
  const deliveries = workerEntries.filter((entry) => entry.notification_id !== undefined);
  expect(deliveries.map((entry) => entry.message)).toEqual(expect.arrayContaining(['notification sent', 'notification failed permanently']));
  expect(deliveries.filter((entry) => typeof entry.job_id !== 'string')).toEqual([]);

  const everything = [...apiLogs.lines, ...workerLogs.lines].join('\n');
  for (const secret of [PERSON.email, PERSON.phone, PERSON.phone.slice(3), PERSON.full_name, PUSH_TOKEN.slice(0, 24), TEST_API_KEY, token.body.token as string]) {
    expect({ secret, logged: everything.includes(secret) }).toEqual({ secret, logged: false });
  }
});
