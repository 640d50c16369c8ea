import { mkdir } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { insertDevice, insertUser } from '@test/factories';
import { failWith, ScriptedProviders } from '@test/scripted-providers';
import { createTestEnvironment, TEST_API_KEY, type TestEnvironment } from '@test/test-environment';
import { waitFor } from '@test/wait-for';
import { Notification } from '@notofine/db';
import { Queue } from 'bullmq';
import { chromium, type Browser, type Page } from 'playwright-core';
import { start as startApi, type ApiService } from '../../services/api/src/api-service';
import { start as startWorker, type WorkerService } from '../../services/worker/src/worker-service';

// Bull Board in a real browser (Debian's Chromium through playwright-core): the API listening on
// a port, a worker delivering through scripted providers, an operator logging in.

const ARTIFACTS = join(__dirname, '..', '..', 'var', 'artifacts');

let env: TestEnvironment;
let api: ApiService;
let worker: WorkerService;
let providers: ScriptedProviders;
let browser: Browser;
let page: Page;
let baseUrl: string;

beforeAll(async () => {
  env = await createTestEnvironment({ HOST: '127.0.0.1', PORT: '0', ADMIN_SESSION_SECRET: 'the queue board test session secret, 32+ chars' });
  api = await startApi({ config: env.config, logger: env.logger });
  providers = new ScriptedProviders();
  worker = await startWorker({ config: env.config, logger: env.logger, providers, scheduleReminders: false });
  // Browsers keep Secure cookies on http://localhost only: the operator comes through localhost.
  baseUrl = `http://localhost:${(api.server!.address() as AddressInfo).port}`;
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu'] });
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
});
afterAll(async () => {
  await browser?.close();
  await worker?.stop();
  await api?.stop();
  await env?.cleanup();
});

/** Sends a notification on each channel, SMS twice, the email failing for good; waits until all are final. */
async function sendOnEveryChannel(): Promise<Notification[]> {
  const user = await insertUser(env.db);
  await insertDevice(env.db, user.id);
  providers.email.script(failWith('fail', 'smtp: 550 mailbox unavailable'));
  for (const channel of ['email', 'sms', 'push', 'sms'] as const) {
    await api.notifications.sendNotification({ userId: user.id, channel, message: 'Rappel' });
  }
  return waitFor('every notification to be final', async () => {
    const rows = await env.db.manager.find(Notification, { where: { userId: user.id }, order: { id: 'ASC' } });
    return rows.every((row) => row.status !== 'pending') && rows;
  });
}

async function logIn(key: string): Promise<void> {
  await page.goto(`${baseUrl}/admin/login`);
  await page.fill('#api_key', key);
  await Promise.all([page.waitForLoadState('load'), page.click('button[type=submit]')]);
}

it('turns away an operator who has not logged in, and a wrong key', async () => {
  await page.goto(`${baseUrl}/admin/queues`);
  expect(new URL(page.url()).pathname).toBe('/admin/login');
  expect((await page.request.get(`${baseUrl}/admin/queues/api/queues`)).status()).toBe(401);

  await logIn('nfk_this_is_not_a_key_of_this_service');

  expect(await page.innerText('[role=alert]')).toBe('This key is unknown, revoked, or not an admin key.');
  expect((await page.request.get(`${baseUrl}/admin/queues/api/queues`)).status()).toBe(401);
});

it('once logged in, shows every queue with its counts, and a failed job retried from the page is sent', async () => {
  const [email] = await sendOnEveryChannel();
  expect(email).toMatchObject({ channel: 'email', status: 'failed' });

  await logIn(TEST_API_KEY);
  expect(new URL(page.url()).pathname).toBe('/admin/queues');
  const overview = await waitFor('the board to show the queues', async () => {
    const text = await page.innerText('main');
    return text.includes('sms') && text;
  });
  await mkdir(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: join(ARTIFACTS, 'queue-board.png'), fullPage: true });
  // Each card: the queue's name, its failed count if any, its number of jobs. ("rate limited 1s",
  // when shown, is the limiter through which the workers honour a provider's throttling.)
  expect(overview.replace(/\nrate limited \d+s/g, '')).toMatch(/\nemail\nFAILED\n1\n1 Job\npush\n1 Job\nreminders\nNo workers\n0 Jobs\nsms\n2 Jobs$/);

  await page.goto(`${baseUrl}/admin/queues/queue/email?status=failed`);
  await page.waitForSelector('text=notification-' + String(email!.id));
  await page.click('text=Retry all');
  await page.click('button:text-is("Confirm")');

  const retried = await waitFor('the retried notification to be sent', async () => {
    const row = await env.db.manager.findOneByOrFail(Notification, { id: email!.id });
    return row.status === 'sent' && row;
  });
  expect(retried).toMatchObject({ errorMessage: null, provider: 'scripted' });
  expect(providers.email.calls.filter((call) => call.notificationId === email!.id)).toHaveLength(2);
  await page.screenshot({ path: join(ARTIFACTS, 'queue-board-retried.png'), fullPage: true });
});

it('retrying one failed job (the board\'s per-job action) sends it again, with a fresh set of attempts', async () => {
  const [email] = await sendOnEveryChannel();
  await logIn(TEST_API_KEY);

  // The page's own call, with the browser's session cookie.
  const response = await page.request.put(`${baseUrl}/admin/queues/api/queues/email/notification-${email!.id}/retry`);

  expect(response.status()).toBe(204);
  const retried = await waitFor('the retried notification to be sent', async () => {
    const row = await env.db.manager.findOneByOrFail(Notification, { id: email!.id });
    return row.status === 'sent' && row;
  });
  // Two provider calls in all, and the job's own count started again from zero.
  expect(retried.attempts).toBe(2);
  const queue = new Queue('email', { connection: { url: env.config.redis.url }, prefix: env.config.redis.queuePrefix });
  const job = await queue.getJob(`notification-${email!.id}`);
  const state = await job?.getState();
  await queue.close();
  expect({ state, attemptsMade: job?.attemptsMade }).toEqual({ state: 'completed', attemptsMade: 1 });
});
