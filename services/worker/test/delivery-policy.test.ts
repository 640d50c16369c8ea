import { insertUser } from '@test/factories';
import { failWith } from '@test/scripted-providers';
import { waitFor } from '@test/wait-for';
import { settledNotification } from './notification-fixtures';
import { startWorker, type WorkerHarness } from './worker-harness';

// Limits of the delivery policy that the configuration sets: the throttle cap, the provider
// timeout, the per-channel rate limit.

let harness: WorkerHarness;
beforeAll(async () => {
  harness = await startWorker({ env: { MAX_THROTTLES: '2', PROVIDER_TIMEOUT_MS: '100', SMS_RATE_LIMIT: '2/1s', DELIVERY_ATTEMPTS: '3' } });
});
afterAll(() => harness.stop());

it('fails a notification its provider keeps throttling, once the cap is reached, without spending attempts', async () => {
  const user = await insertUser(harness.env.db);
  harness.providers.email.script(failWith('throttle', '429 Too Many Requests', 20), failWith('throttle', '429', 20), failWith('throttle', '429', 20));

  const pending = await harness.worker.notifications.sendNotification({ userId: user.id, channel: 'email', message: 'Rappel' });
  const row = await settledNotification(harness.env.db, pending.id);

  expect(row).toMatchObject({ status: 'failed', attempts: 0, errorMessage: 'Gave up after being throttled 3 times: scripted: 429' });
  expect(harness.providers.email.calls.filter((call) => call.notificationId === pending.id)).toHaveLength(3);
});

it('abandons a provider call that does not answer and retries it', async () => {
  const user = await insertUser(harness.env.db);
  harness.providers.email.script(() => new Promise<never>(() => undefined));

  const pending = await harness.worker.notifications.sendNotification({ userId: user.id, channel: 'email', message: 'Rappel' });
  const row = await settledNotification(harness.env.db, pending.id);

  expect(row).toMatchObject({ status: 'sent', attempts: 2, errorMessage: null });
  expect(harness.providers.email.calls.filter((call) => call.notificationId === pending.id)).toHaveLength(2);
});

it('never calls the SMS provider more often than SMS_RATE_LIMIT allows', async () => {
  const user = await insertUser(harness.env.db);
  const calls: number[] = [];
  const record = () => {
    calls.push(Date.now());
    return { providerMessageId: null };
  };
  harness.providers.sms.script(record, record, record, record, record, record);

  await Promise.all(Array.from({ length: 6 }, () => harness.worker.notifications.sendNotification({ userId: user.id, channel: 'sms', message: 'Rappel' })));
  await waitFor('six SMS sent', () => calls.length === 6, { timeoutMs: 15_000 });

  // BullMQ counts jobs in fixed windows of a second, two per window: call i and call i + 4 lie in
  // windows at least one window apart. (The calls come a little after the jobs start: 100 ms of slack.)
  for (let i = 0; i + 4 < calls.length; i += 1) expect(calls[i + 4]! - calls[i]!).toBeGreaterThanOrEqual(900);
});
