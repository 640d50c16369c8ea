import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { insertPendingNotifications } from '@notofine/db';
import { UnsubscribeLinks } from '@notofine/notifications';
import { buildReminderBody, buildTicketBody, buildUserBody, insertDevice, insertReminder, insertTicket, insertUser, insertVerification } from '@test/factories';
import { documented, openApiDocument } from '@test/openapi-conformance';
import { TEST_API_KEY } from '@test/test-environment';
import { Type } from 'class-transformer';
import { ArrayMaxSize, IsArray, IsIn, ValidateBy, ValidateNested } from 'class-validator';
import type { Express } from 'express';
import type { OpenAPIObject, SchemaObject } from 'openapi3-ts/oas31';
import request, { type Test } from 'supertest';
import { createApiKey } from '../src/api-keys/api-keys';
import { API_DOMAINS } from '../src/docs/api-domains';
import { openApiPath } from '../src/docs/document';
import type { ApiOperation } from '../src/docs/operation';
import { requestSchemas } from '../src/docs/request-schemas';
import { Required } from '../src/http/decorators';
import { startApi, type ApiHarness } from './api-harness';

// The OpenAPI document against the app: every route registered is documented and every
// documented one registered; the document is valid OpenAPI 3.1; each operation answers as
// documented, to the credentials it documents.

let harness: ApiHarness;
let app: Express;
let sendKey: string;
let workdir: string;
beforeAll(async () => {
  harness = await startApi({ RATE_LIMIT: '100000/1s', USER_RATE_LIMIT: '100000/1s' });
  app = harness.api.app;
  sendKey = (await createApiKey(harness.env.db.manager, 'openapi-test-sender', 'send')).key;
  workdir = await mkdtemp(join(tmpdir(), 'notofine-openapi-'));
});
afterAll(async () => {
  await rm(workdir, { recursive: true, force: true });
  await harness.stop();
});

const OPERATIONS: readonly ApiOperation[] = API_DOMAINS.flatMap((domain) => domain.operations);
const nameOf = (operation: Pick<ApiOperation, 'method' | 'path'>): string => `${operation.method.toUpperCase()} ${operation.path}`;

/** The routes Express has, as `METHOD path` (`ALL path` for `router.all`), and the paths where a sub-application is mounted. */
interface Layer {
  readonly route?: { readonly path: string; readonly methods: Readonly<Record<string, boolean>> };
  readonly handle: { readonly stack?: readonly Layer[] };
  readonly rawPath?: string;
}
function registered(stack: readonly Layer[], prefix = ''): { routes: string[]; mounts: string[] } {
  const routes: string[] = [];
  const mounts: string[] = [];
  for (const layer of stack) {
    if (layer.route) {
      for (const method of Object.keys(layer.route.methods)) routes.push(`${method === '_all' ? 'ALL' : method.toUpperCase()} ${prefix}${layer.route.path}`);
    } else if (layer.rawPath && layer.rawPath !== '/') {
      // A router or static files mounted at a path (Bull Board, Swagger UI): theirs, not ours.
      mounts.push(`${prefix}${layer.rawPath}`);
    } else if (layer.handle.stack) {
      const nested = registered(layer.handle.stack, prefix);
      routes.push(...nested.routes);
      mounts.push(...nested.mounts);
    }
  }
  return { routes: [...new Set(routes)], mounts: [...new Set(mounts)] };
}

describe('the routes and the document', () => {
  const appRoutes = () => registered((app as unknown as { router: { stack: Layer[] } }).router.stack);

  it('documents every route the app registers', () => {
    const { routes, mounts } = appRoutes();
    const documented = new Set(OPERATIONS.map(nameOf));
    const documentedPaths = new Set(OPERATIONS.map((operation) => operation.path));

    const undocumented = [
      ...routes.filter((route) => (route.startsWith('ALL ') ? !documentedPaths.has(route.slice(4)) : !documented.has(route))),
      ...mounts.filter((mount) => !documentedPaths.has(mount)).map((mount) => `(mounted) ${mount}`),
    ];
    expect(routes.length).toBeGreaterThan(30);
    expect(undocumented).toEqual([]);
  });

  it('registers every route the document lists', () => {
    const { routes, mounts } = appRoutes();
    const answered = (operation: ApiOperation) => routes.includes(nameOf(operation)) || routes.includes(`ALL ${operation.path}`) || mounts.includes(operation.path);

    expect(OPERATIONS.filter((operation) => !answered(operation)).map(nameOf)).toEqual([]);
  });

  it('serves the document at /openapi.json, without a key, with a path and method for each operation', async () => {
    const response = await documented(request(app).get('/openapi.json')).expect(200);
    const document = response.body as OpenAPIObject;

    expect(document).toEqual(openApiDocument);
    const listed = Object.entries(document.paths ?? {}).flatMap(([path, item]) => Object.keys(item as object).map((method) => `${method} ${path}`));
    expect(listed.sort()).toEqual(OPERATIONS.map((operation) => `${operation.method} ${openApiPath(operation.path)}`).sort());
  });

  it('generates the request bodies from the validation classes', () => {
    const schemas = openApiDocument.components!.schemas as Record<string, SchemaObject>;

    expect(schemas.CreateUserBody).toMatchObject({ required: ['full_name'], additionalProperties: false });
    // @IsOptional() lets null through: the schema says so; a field that may only be left out does not.
    expect(schemas.CreateUserBody!.properties!.email).toMatchObject({ type: ['string', 'null'], format: 'email', maxLength: 254 });
    expect(schemas.CreateUserBody!.properties!.locale).toEqual({ type: 'string' });
    expect(schemas.CreateReminderBody!.properties!.frequency_days).toMatchObject({ type: 'integer', minimum: 1, maximum: 365, description: expect.stringContaining('between 1 and 365') });
    expect(schemas.CreateUserBody!.properties!.quiet_hours).toMatchObject({ anyOf: [{ $ref: '#/components/schemas/QuietHoursBody' }, { type: 'null' }] });
    expect(schemas.QuietHoursBody).toMatchObject({ required: ['start', 'end'], additionalProperties: false });
    expect(schemas.SendNotificationBody!.required).toEqual(['user_id', 'channel']);
  });
});

describe('request schemas of classes to come', () => {
  class Item {
    @Required() @IsIn(['a', 'b']) kind!: string;
  }
  class Batch {
    @Required() @IsArray() @ArrayMaxSize(1000) @ValidateNested({ each: true }) @Type(() => Item) items!: Item[];
  }
  class Odd {
    @ValidateBy({ name: 'isOdd', validator: { validate: (value: unknown) => typeof value === 'number' && value % 2 === 1 } }) value!: number;
  }

  it('follows lists of nested classes (a batch of sends)', () => {
    const schemas = requestSchemas([Batch]);

    expect(Object.keys(schemas)).toEqual(['Batch', 'Item']);
    expect(schemas.Batch!.properties!.items).toMatchObject({ type: 'array', maxItems: 1000, items: { $ref: '#/components/schemas/Item' } });
    expect(schemas.Item).toMatchObject({ required: ['kind'], properties: { kind: { enum: ['a', 'b'] } }, additionalProperties: false });
  });

  it('refuses a validator it has no schema for, rather than document less than is checked', () => {
    expect(() => requestSchemas([Odd])).toThrow(/no schema for the validator "isOdd" of Odd\.value/);
  });

  it('names the API version of the package', async () => {
    const { version } = JSON.parse(await readFile(join(__dirname, '..', 'package.json'), 'utf8')) as { version: string };

    expect(openApiDocument.info.version).toBe(version);
  });
});

describe('validity', () => {
  /** Runs @seriousme/openapi-schema-validator (ES modules only: in a Node process of its own), offline. */
  async function validateDocument(document: unknown): Promise<{ valid: boolean; errors?: unknown }> {
    const file = join(workdir, `openapi-${Date.now()}-${Math.random()}.json`);
    await writeFile(file, JSON.stringify(document));
    const cli = require.resolve('@seriousme/openapi-schema-validator/bin/validate-api-cli.js');
    try {
      const { stdout } = await promisify(execFile)(process.execPath, [cli, file]);
      return JSON.parse(stdout) as { valid: boolean };
    } catch (error) {
      // It exits 1 on an invalid document, its verdict on stdout.
      return JSON.parse((error as { stdout: string }).stdout) as { valid: boolean; errors: unknown };
    }
  }

  it('is a valid OpenAPI 3.1 document', async () => {
    const { body } = await request(app).get('/openapi.json').expect(200);

    expect(body.openapi).toBe('3.1.0');
    expect(await validateDocument(body)).toEqual({ valid: true });
  });

  it('the validator does refuse a broken document: a dangling $ref, a response without a description', async () => {
    const dangling = structuredClone(openApiDocument);
    dangling.paths!['/healthz']!.get!.responses!['200'].content['application/json'].schema = { $ref: '#/components/schemas/Nothing' };
    const undescribed = structuredClone(openApiDocument);
    delete undescribed.paths!['/healthz']!.get!.responses!['200'].description;

    expect((await validateDocument(dangling)).valid).toBe(false);
    expect((await validateDocument(undescribed)).valid).toBe(false);
  });
});

/**
 * Fresh rows for one request: a reachable user with a ticket, a reminder, a device, a pending and a
 * failed notification, and a new phone number waiting for its code.
 */
interface Ids {
  user: number;
  ticket: number;
  reminder: number;
  device: number;
  pending: number;
  failed: number;
  /** The code sent to the phone number waiting. */
  code: string;
}
async function freshIds(): Promise<Ids> {
  const { db } = harness.env;
  const user = await insertUser(db);
  const device = await insertDevice(db, user.id);
  const ticket = await insertTicket(db, user.id);
  const reminder = await insertReminder(db, user.id, ['email']);
  const row = { userId: user.id, channel: 'email' as const, message: 'Rappel', subject: null, ticketId: null, reminderId: null };
  const [pending, failed] = await insertPendingNotifications(db.manager, [row, row]);
  await db.query(`UPDATE notifications SET status = 'failed', attempts = 5, error_message = 'Gave up after 5 attempts: smtp: 451' WHERE id = $1`, [failed!.id]);
  const { code } = await insertVerification(db, user.id, 'phone', { address: '+33687654321' });
  return { user: user.id, ticket: ticket.id, reminder: reminder.id, device: device.id, pending: pending!.id, failed: failed!.id, code: code! };
}

/** One request an operation is shown with, and the documented status it gets with the right credentials. */
interface Example {
  readonly url: (ids: Ids) => string;
  readonly json?: (ids: Ids) => object;
  readonly form?: (ids: Ids) => Record<string, string>;
  /** What a browser adds, for the operators' pages. */
  readonly headers?: Record<string, string>;
  readonly status: number;
}
/** A request from one of the operators' own pages (see admin/same-origin.ts). */
const SAME_ORIGIN = { 'Sec-Fetch-Site': 'same-origin' };
const unsubscribeToken = (ids: Ids) => new UnsubscribeLinks(harness.env.config.security.unsubscribeSecret, undefined).token(ids.user, 'email');

/** Every documented operation, by `METHOD path`. Webhooks without their secrets configured answer as documented too; their signed requests are in webhooks.test.ts. */
const EXAMPLES: Record<string, Example> = {
  'POST /users': { url: () => '/users', json: () => buildUserBody(), status: 201 },
  'GET /users/:userId': { url: (ids) => `/users/${ids.user}`, status: 200 },
  'PATCH /users/:userId': { url: (ids) => `/users/${ids.user}`, json: () => ({ full_name: 'Jeanne Dupont', quiet_hours: { start: '22:00', end: '07:00' } }), status: 200 },
  'DELETE /users/:userId': { url: (ids) => `/users/${ids.user}`, status: 204 },
  'GET /users/:userId/preferences': { url: (ids) => `/users/${ids.user}/preferences`, status: 200 },
  'PUT /users/:userId/preferences': { url: (ids) => `/users/${ids.user}/preferences`, json: () => ({ channels: { sms: false } }), status: 200 },
  'POST /users/:userId/verifications': { url: (ids) => `/users/${ids.user}/verifications`, json: () => ({ contact: 'email' }), status: 202 },
  'POST /users/:userId/verifications/confirm': { url: (ids) => `/users/${ids.user}/verifications/confirm`, json: (ids) => ({ contact: 'phone', code: ids.code }), status: 200 },
  'POST /users/:userId/tokens': { url: (ids) => `/users/${ids.user}/tokens`, json: () => ({ ttl_seconds: 600 }), status: 201 },
  'POST /users/:userId/devices': { url: (ids) => `/users/${ids.user}/devices`, json: () => ({ token: `fcm-${Date.now()}-${'y'.repeat(40)}`, platform: 'ios' }), status: 201 },
  'GET /users/:userId/devices': { url: (ids) => `/users/${ids.user}/devices`, status: 200 },
  'DELETE /users/:userId/devices/:deviceId': { url: (ids) => `/users/${ids.user}/devices/${ids.device}`, status: 204 },
  'POST /users/:userId/tickets': { url: (ids) => `/users/${ids.user}/tickets`, json: () => buildTicketBody(), status: 201 },
  'GET /users/:userId/tickets': { url: (ids) => `/users/${ids.user}/tickets?status=unpaid`, status: 200 },
  'GET /tickets/:ticketId': { url: (ids) => `/tickets/${ids.ticket}`, status: 200 },
  'PATCH /tickets/:ticketId': { url: (ids) => `/tickets/${ids.ticket}`, json: () => ({ amount_cents: 9000 }), status: 200 },
  'POST /users/:userId/reminders': { url: (ids) => `/users/${ids.user}/reminders`, json: (ids) => buildReminderBody({ ticket_id: ids.ticket, end_at: '2027-06-30T23:59:00+02:00' }), status: 201 },
  'GET /users/:userId/reminders': { url: (ids) => `/users/${ids.user}/reminders`, status: 200 },
  'POST /reminders/process': { url: () => '/reminders/process', status: 200 },
  'GET /reminders/:reminderId': { url: (ids) => `/reminders/${ids.reminder}`, status: 200 },
  'PATCH /reminders/:reminderId': { url: (ids) => `/reminders/${ids.reminder}`, json: () => ({ channels: ['sms'], message: null }), status: 200 },
  'DELETE /reminders/:reminderId': { url: (ids) => `/reminders/${ids.reminder}`, status: 204 },
  'POST /notifications/send': {
    url: () => '/notifications/send',
    json: (ids) => ({ user_id: ids.user, channel: 'email', message: 'Votre contravention est due', subject: 'Rappel', ticket_id: ids.ticket, fallback: ['sms'], send_at: '2026-01-01T09:00+01:00' }),
    status: 202,
  },
  'POST /notifications/batch': {
    url: () => '/notifications/batch',
    json: (ids) => ({ notifications: [{ user_id: ids.user, channel: 'email', message: 'Votre contravention est due', ticket_id: ids.ticket }, { user_id: ids.user, channel: 'push', template: 'ticket_due', data: { reference: 'AB-123', amount_cents: 13500, due_date: '2026-12-15' } }] }),
    status: 202,
  },
  'POST /tickets/:ticketId/notify': { url: (ids) => `/tickets/${ids.ticket}/notify`, json: () => ({ message: 'Votre contravention est due' }), status: 202 },
  'GET /notifications/:notificationId': { url: (ids) => `/notifications/${ids.failed}`, status: 200 },
  'GET /users/:userId/notifications': { url: (ids) => `/users/${ids.user}/notifications?limit=1`, status: 200 },
  'GET /notifications': { url: () => '/notifications?status=failed&limit=2', status: 200 },
  'POST /notifications/:notificationId/cancel': { url: (ids) => `/notifications/${ids.pending}/cancel`, status: 200 },
  'POST /notifications/:notificationId/retry': { url: (ids) => `/notifications/${ids.failed}/retry`, status: 202 },
  'POST /webhooks/sendgrid': { url: () => '/webhooks/sendgrid', json: () => [], status: 404 },
  'GET /webhooks/vonage': { url: () => '/webhooks/vonage?messageId=unknown&status=delivered', status: 200 },
  'POST /webhooks/vonage': { url: () => '/webhooks/vonage', form: () => ({ messageId: 'unknown', status: 'delivered' }), status: 200 },
  'GET /webhooks/vonage/inbound': { url: () => '/webhooks/vonage/inbound?msisdn=33600000000&text=Merci', status: 404 },
  'POST /webhooks/vonage/inbound': { url: () => '/webhooks/vonage/inbound', json: () => ({ msisdn: '33600000000', text: 'STOP' }), status: 404 },
  'POST /webhooks/twilio': { url: () => '/webhooks/twilio', form: () => ({ MessageSid: 'SM1', MessageStatus: 'delivered' }), status: 404 },
  'POST /webhooks/twilio/inbound': { url: () => '/webhooks/twilio/inbound', form: () => ({ From: '+33600000000', Body: 'STOP' }), status: 404 },
  'GET /unsubscribe/:token': { url: (ids) => `/unsubscribe/${unsubscribeToken(ids)}`, status: 200 },
  'POST /unsubscribe/:token': { url: (ids) => `/unsubscribe/${unsubscribeToken(ids)}`, form: () => ({ 'List-Unsubscribe': 'One-Click' }), status: 200 },
  'GET /admin/login': { url: () => '/admin/login', status: 200 },
  'POST /admin/login': { url: () => '/admin/login', form: () => ({ api_key: TEST_API_KEY }), headers: SAME_ORIGIN, status: 303 },
  'GET /admin/logout': { url: () => '/admin/logout', status: 200 },
  'POST /admin/logout': { url: () => '/admin/logout', headers: SAME_ORIGIN, status: 303 },
  'GET /admin/queues': { url: () => '/admin/queues', status: 200 },
  'GET /healthz': { url: () => '/healthz', status: 200 },
  'GET /readyz': { url: () => '/readyz', status: 200 },
  'GET /metrics': { url: () => '/metrics', status: 200 },
  'GET /openapi.json': { url: () => '/openapi.json', status: 200 },
  'GET /docs': { url: () => '/docs/', status: 200 },
};

type Credentials = { bearer: string } | { cookie: string } | undefined;

async function call(operation: ApiOperation, ids: Ids, credentials: Credentials): Promise<request.Response> {
  const example = EXAMPLES[nameOf(operation)]!;
  let test: Test = request(app)[operation.method](example.url(ids));
  if (credentials && 'bearer' in credentials) test = test.set('Authorization', `Bearer ${credentials.bearer}`);
  if (credentials && 'cookie' in credentials) test = test.set('Cookie', credentials.cookie);
  if (example.headers) test = test.set(example.headers);
  const body = example.json?.(ids);
  if (body) test = test.send(body);
  if (example.form) test = test.type('form').send(example.form(ids));
  return documented(test, body);
}

async function sessionCookie(): Promise<string> {
  const login = await request(app).post('/admin/login').set(SAME_ORIGIN).type('form').send({ api_key: TEST_API_KEY }).expect(303);
  return String(login.headers['set-cookie']).split(';')[0]!;
}

async function credentialsFor(operation: ApiOperation): Promise<Credentials> {
  if (operation.access.kind === 'key') return { bearer: TEST_API_KEY };
  if (operation.access.kind === 'session') return { cookie: await sessionCookie() };
  return undefined;
}

async function userToken(userId: number): Promise<string> {
  const { body } = await request(app).post(`/users/${userId}/tokens`).set('Authorization', `Bearer ${TEST_API_KEY}`).expect(201);
  return body.token as string;
}

describe('each operation', () => {
  it('has an example here', () => {
    expect(Object.keys(EXAMPLES).sort()).toEqual(OPERATIONS.map(nameOf).sort());
  });

  it.each(OPERATIONS.map((operation) => [nameOf(operation), operation] as const))('%s answers as documented', async (_name, operation) => {
    const response = await call(operation, await freshIds(), await credentialsFor(operation));

    expect({ status: response.status, body: response.body as unknown }).toEqual({ status: EXAMPLES[nameOf(operation)]!.status, body: expect.anything() });
  });
});

describe('the credentials each operation documents', () => {
  const keyed = OPERATIONS.filter((operation) => operation.access.kind === 'key');
  const scopeOf = (operation: ApiOperation) => (operation.access.kind === 'key' ? operation.access : undefined)!;

  it.each(keyed.map((operation) => [nameOf(operation), operation] as const))('%s: 401 without, 403 for a key or user token it does not list', async (_name, operation) => {
    const { scope, userToken: forUsers } = scopeOf(operation);
    const ids = await freshIds();

    const anonymous = await call(operation, ids, undefined);
    const withSendKey = await call(operation, await freshIds(), { bearer: sendKey });
    const asTheUser = await call(operation, ids, { bearer: await userToken(ids.user) });

    expect(anonymous.status).toBe(401);
    expect(withSendKey.status === 403).toBe(scope === 'admin');
    expect(asTheUser.status === 403).toBe(forUsers === undefined);
  });

  it.each(OPERATIONS.filter((operation) => operation.access.kind !== 'key').map((operation) => [nameOf(operation), operation] as const))(
    '%s: no API key asked',
    async (_name, operation) => {
      const response = await call(operation, await freshIds(), undefined);

      expect(response.body.type).not.toBe('/problems/unauthorized');
      if (operation.access.kind === 'session') expect(response.headers.location).toBe('/admin/login');
    },
  );
});
