import { buildUserBody } from '@test/factories';
import { documentedRequest } from '@test/openapi-conformance';
import { startApi, type ApiHarness } from './api-harness';

let harness: ApiHarness;
beforeAll(async () => {
  harness = await startApi();
});
afterAll(() => harness.stop());

/** The value of one sample, 0 when absent. */
function sample(metrics: string, name: string, labels: Record<string, string>): number {
  const line = metrics.split('\n').find((candidate) => candidate.startsWith(`${name}{`) && Object.entries(labels).every(([key, value]) => candidate.includes(`${key}="${value}"`)));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
}

it('times requests by route pattern and status, never by raw path, and serves them without an API key', async () => {
  const { body: user } = await harness.client.post('/users', buildUserBody()).expect(201);
  await harness.client.get(`/users/${user.id}`).expect(200);
  await harness.client.get('/users/999999').expect(404);

  const response = await documentedRequest(harness.api.app).get('/metrics').expect(200);

  expect(response.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
  expect(sample(response.text, 'notofine_http_request_duration_seconds_count', { method: 'GET', route: '/users/:userId', status: '200', service: 'api' })).toBe(1);
  expect(sample(response.text, 'notofine_http_request_duration_seconds_count', { method: 'GET', route: '/users/:userId', status: '404' })).toBe(1);
  expect(sample(response.text, 'notofine_http_request_duration_seconds_count', { method: 'POST', route: '/users', status: '201' })).toBe(1);
  expect(response.text).not.toContain(`/users/${user.id}"`);
});

it('reports the depth of each delivery queue and the reminders processed', async () => {
  const { body: user } = await harness.client.post('/users', buildUserBody()).expect(201);
  await harness.client.post('/notifications/send', { user_id: user.id, channel: 'sms', message: 'Rappel' }).expect(202);
  await harness.client.post(`/users/${user.id}/reminders`, { frequency_days: 7, channels: ['email'], message: 'Rappel' }).expect(201);
  await harness.client.post('/reminders/process').expect(200);

  const { text } = await documentedRequest(harness.api.app).get('/metrics').expect(200);

  expect(sample(text, 'notofine_queue_jobs', { queue: 'sms', state: 'waiting' })).toBe(1);
  expect(sample(text, 'notofine_queue_jobs', { queue: 'email', state: 'waiting' })).toBe(1);
  expect(sample(text, 'notofine_reminders_processed_total', { result: 'processed' })).toBe(1);
});
