import { insertUser } from '@test/factories';
import { failWith } from '@test/scripted-providers';
import { settledNotification } from './notification-fixtures';
import { startWorker, type WorkerHarness } from './worker-harness';

let harness: WorkerHarness;
beforeAll(async () => {
  harness = await startWorker({ env: { DELIVERY_ATTEMPTS: '2' } });
});
afterAll(() => harness.stop());

async function scrape(): Promise<string> {
  const response = await fetch(`http://127.0.0.1:${harness.worker.healthPort}/metrics`);
  expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return response.text();
}

/** The value of one sample, 0 when absent. */
function sample(metrics: string, name: string, labels: Record<string, string>): number {
  const line = metrics.split('\n').find((candidate) => candidate.startsWith(`${name}{`) && Object.entries(labels).every(([key, value]) => candidate.includes(`${key}="${value}"`)));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
}

it('counts notifications by channel and final status, provider calls by outcome, and send latency', async () => {
  const user = await insertUser(harness.env.db);
  harness.providers.sms.script(failWith('retry', '503'), failWith('fail', 'invalid number'));

  const sent = await harness.worker.notifications.sendNotification({ userId: user.id, channel: 'email', message: 'Rappel' });
  const failed = await harness.worker.notifications.sendNotification({ userId: user.id, channel: 'sms', message: 'Rappel' });
  await settledNotification(harness.env.db, sent.id);
  await settledNotification(harness.env.db, failed.id);
  const metrics = await scrape();

  expect(sample(metrics, 'notofine_notifications_finished_total', { channel: 'email', status: 'sent', service: 'worker' })).toBe(1);
  expect(sample(metrics, 'notofine_notifications_finished_total', { channel: 'sms', status: 'failed' })).toBe(1);
  expect(sample(metrics, 'notofine_provider_errors_total', { provider: 'scripted', kind: 'retry' })).toBe(1);
  expect(sample(metrics, 'notofine_provider_errors_total', { provider: 'scripted', kind: 'fail' })).toBe(1);
  expect(sample(metrics, 'notofine_provider_call_duration_seconds_count', { provider: 'scripted', outcome: 'ok' })).toBe(1);
  expect(sample(metrics, 'notofine_send_latency_seconds_count', { channel: 'email' })).toBe(1);
  expect(sample(metrics, 'notofine_queue_jobs', { queue: 'sms', state: 'failed' })).toBe(1);
  expect(sample(metrics, 'notofine_queue_jobs', { queue: 'email', state: 'waiting' })).toBe(0);
  expect(metrics).toContain('process_resident_memory_bytes');
});
