import { mkdir } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { captureLogs } from '@test/capture-logs';
import { insertDevice, insertUser } from '@test/factories';
import { failWith, ScriptedProviders } from '@test/scripted-providers';
import { createTestEnvironment, TEST_API_KEY, type TestEnvironment } from '@test/test-environment';
import { waitFor } from '@test/wait-for';
import { Notification } from '@notofine/db';
import { Queue } from 'bullmq';
import { chromium, type Browser, type Page } from 'playwright-core';
import { SESSION_COOKIE } from '../../services/api/src/admin/session';
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
/** The API's log lines: one a request, with its status. */
const apiLogs = captureLogs('api');

beforeAll(async () => {
  env = await createTestEnvironment({ HOST: '127.0.0.1', PORT: '0' });
  api = await startApi({ config: env.config, logger: apiLogs.logger });
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

  // The page's own call, as its script makes it: with the session cookie, from the board's origin.
  const status = await page.evaluate(async (url) => (await fetch(url, { method: 'PUT' })).status, `${baseUrl}/admin/queues/api/queues/email/notification-${email!.id}/retry`);

  expect(status).toBe(204);
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

/** The session cookie the browser holds, as a `Cookie` header. */
async function sessionCookieHeader(): Promise<string> {
  const cookie = (await page.context().cookies(`${baseUrl}/admin/queues`)).find((c) => c.name === SESSION_COOKIE);
  if (!cookie) throw new Error('no session cookie in the browser');
  return `${cookie.name}=${cookie.value}`;
}

it('logs out from the board\'s menu: the session ends on the server, and a copy of the cookie no longer opens the board', async () => {
  await logIn(TEST_API_KEY);
  await page.waitForSelector('text=sms');
  const copied = await sessionCookieHeader();
  expect((await fetch(`${baseUrl}/admin/queues/api/queues`, { headers: { Cookie: copied } })).status).toBe(200);

  // The last entry of the board's header holds its menu of links, "Log out" among them.
  await page.locator('header li').last().locator('button').click();
  await Promise.all([page.waitForURL(`${baseUrl}/admin/logout`), page.click('text=Log out')]);
  await mkdir(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: join(ARTIFACTS, 'queue-board-logout.png') });
  await Promise.all([page.waitForURL(`${baseUrl}/admin/login`), page.click('button:text-is("Log out")')]);

  expect(await page.context().cookies(`${baseUrl}/admin/queues`)).toEqual([]);
  // The cookie copied before the logout: the board's API refuses it, its page sends to the login.
  expect((await fetch(`${baseUrl}/admin/queues/api/queues`, { headers: { Cookie: copied } })).status).toBe(401);
  const board = await fetch(`${baseUrl}/admin/queues`, { headers: { Cookie: copied }, redirect: 'manual' });
  expect({ status: board.status, location: board.headers.get('location') }).toEqual({ status: 303, location: '/admin/login' });
});

it('refuses what a page of another origin of the same site (localhost, another port) makes the operator\'s browser post to the board', async () => {
  await logIn(TEST_API_KEY);
  const before = await sessionCookieHeader();
  const queue = new Queue('email', { connection: { url: env.config.redis.url }, prefix: env.config.redis.queuePrefix });
  // The other origin's page: a form that posts itself to the board's logout, and a no-cors call
  // adding a job (a simple request: the browser sends it without asking, the SameSite=Strict cookie
  // with it, since localhost on another port is the same site).
  const attacker = createServer((_req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/html' }).end(`<!doctype html><html><body>
<form id="out" method="post" action="${baseUrl}/admin/logout"></form>
<script>
  fetch('${baseUrl}/admin/queues/api/queues/email/add', { method: 'POST', mode: 'no-cors', credentials: 'include', headers: { 'Content-Type': 'text/plain' }, body: JSON.stringify({ name: 'deliver', data: { notificationId: 1 } }) })
    .finally(() => document.getElementById('out').submit());
</script></body></html>`);
  });
  await new Promise<void>((resolve) => attacker.listen(0, '127.0.0.1', resolve));
  const refusals = () => apiLogs.entries().filter((entry) => entry.message === 'request' && entry.status === 403).map((entry) => entry.path);
  try {
    await page.goto(`http://localhost:${(attacker.address() as AddressInfo).port}/`);
    // The API's own record: the browser sent both (it then hides the answer of the no-cors call from the page).
    await waitFor('both requests to be refused', () => refusals().length >= 2);
  } finally {
    attacker.closeAllConnections();
    attacker.close();
  }

  expect(refusals().sort()).toEqual(['/admin/logout', '/admin/queues/api/queues/email/add']);
  expect(await queue.count()).toBe(0);
  await queue.close();
  expect(await sessionCookieHeader()).toBe(before);
  expect((await fetch(`${baseUrl}/admin/queues/api/queues`, { headers: { Cookie: before } })).status).toBe(200);
});
