import { mkdir } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { createTestEnvironment, TEST_API_KEY, type TestEnvironment } from '@test/test-environment';
import { chromium, type Browser, type Page } from 'playwright-core';
import { start as startApi, type ApiService } from '../../services/api/src/api-service';

// Swagger UI at /docs in a real browser (Debian's Chromium through playwright-core): it renders
// the document from this API alone, within its Content-Security-Policy, and tries a route.

const ARTIFACTS = join(__dirname, '..', '..', 'var', 'artifacts');

let env: TestEnvironment;
let api: ApiService;
let browser: Browser;
let page: Page;
let baseUrl: string;
/** Every URL the page asked for, and every CSP violation or console error it met. */
const requested: string[] = [];
const complaints: string[] = [];

beforeAll(async () => {
  env = await createTestEnvironment({ HOST: '127.0.0.1', PORT: '0' });
  api = await startApi({ config: env.config, logger: env.logger });
  baseUrl = `http://localhost:${(api.server!.address() as AddressInfo).port}`;
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu'] });
  page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
  page.on('request', (request) => requested.push(request.url()));
  page.on('console', (message) => {
    if (message.type() === 'error') complaints.push(message.text());
  });
  // Runs in the page: a violation becomes a console error.
  await page.addInitScript({
    content: "document.addEventListener('securitypolicyviolation', (event) => console.error('CSP violation: ' + event.violatedDirective + ' ' + event.blockedURI));",
  });
});
afterAll(async () => {
  await browser?.close();
  await api?.stop();
  await env?.cleanup();
});

it('renders every tag of the document from assets of its own, within its CSP', async () => {
  const response = await page.goto(`${baseUrl}/docs`);
  await page.waitForSelector('.opblock-tag', { timeout: 15_000 });

  expect(new URL(page.url()).pathname).toBe('/docs/');
  expect(response!.headers()['content-security-policy']).toContain("script-src 'self'");
  expect(await page.innerText('.info .title')).toContain('Notofine Notifications API');
  const tags = await page.$$eval('.opblock-tag', (elements) => elements.map((element) => element.getAttribute('data-tag')));
  expect(tags).toEqual(expect.arrayContaining(['Users', 'Notifications', 'Reminders', 'Tickets', 'Devices', 'Webhooks', 'Operations']));
  expect(requested.filter((url) => new URL(url).origin !== baseUrl)).toEqual([]);
  expect(complaints).toEqual([]);

  await mkdir(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: join(ARTIFACTS, 'api-docs.png'), fullPage: false });
});

it('tries a route with the key given in Authorize', async () => {
  await page.click('button.authorize');
  const apiKeyForm = page.locator('.auth-container').filter({ hasText: 'apiKey (http, Bearer)' });
  await apiKeyForm.locator('input').fill(TEST_API_KEY);
  await apiKeyForm.locator('button.authorize').click();
  await page.click('button.close-modal');

  await page.click('#operations-Notifications-getNotifications .opblock-summary');
  await page.click('#operations-Notifications-getNotifications button.try-out__btn');
  const [answer] = await Promise.all([
    page.waitForResponse((response) => new URL(response.url()).pathname === '/notifications'),
    page.click('#operations-Notifications-getNotifications button.execute'),
  ]);

  expect(answer.status()).toBe(200);
  expect(await answer.json()).toEqual({ notifications: [], next_cursor: null });
  expect(complaints).toEqual([]);
});
