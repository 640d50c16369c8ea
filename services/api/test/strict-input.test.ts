import { connect, type AddressInfo } from 'node:net';
import { IdempotencyKey, Notification, User } from '@notofine/db';
import { insertUser } from '@test/factories';
import { documentedRequest } from '@test/openapi-conformance';
import { TEST_API_KEY } from '@test/test-environment';
import type { Response } from 'supertest';
import { start } from '../src/api-service';
import { MAX_JSON_DEPTH } from '../src/http/strict-json';
import { startApi, type ApiHarness } from './api-harness';
import { expectInvalidField, expectProblem } from './expectations';

// Input PostgreSQL, class-transformer or a strict reading of JSON cannot take: a NUL, a lone
// surrogate, a field given twice, a number beyond 2^53, deep nesting, bytes that are not UTF-8,
// percent-encoding that is not UTF-8. Each is a 400 naming where it is, before any work.

let harness: ApiHarness;
let userId: number;
beforeAll(async () => {
  harness = await startApi();
  userId = (await insertUser(harness.env.db, { phone: '+33612345678' })).id;
});
afterAll(() => harness.stop());

/** A raw JSON text, as a client may send it (duplicate keys and escapes as written). */
function postJson(path: string, text: string | Buffer, contentType = 'application/json') {
  const test = documentedRequest(harness.api.app).post(path).set('Authorization', `Bearer ${TEST_API_KEY}`).set('Content-Type', contentType);
  // Bytes go as they are, not serialised as JSON.
  return typeof text === 'string' ? test.send(text) : test.serialize((bytes: Buffer) => bytes as unknown as string).send(text);
}

/** What the API holds, to see that a refused request wrote nothing. */
async function rowCounts(): Promise<Record<string, number>> {
  const manager = harness.env.db.manager;
  return { users: await manager.count(User), notifications: await manager.count(Notification), idempotency: await manager.count(IdempotencyKey) };
}

const nested = (depth: number, open: string, close: string, inner = '1') => `${open.repeat(depth)}${inner}${close.repeat(depth)}`;

describe('JSON bodies', () => {
  it.each([
    ['a NUL in a name', () => `{"full_name": "Jean\\u0000Dupont"}`, 'full_name', /NUL character/],
    ['a NUL in a nested field', () => `{"full_name": "Jean", "quiet_hours": {"start": "22:00\\u0000", "end": "07:00"}}`, 'quiet_hours.start', /NUL character/],
    ['a NUL in a field name', () => `{"full_name": "Jean", "a\\u0000b": 1}`, 'a\\u0000b', /NUL character/],
    ['a lone high surrogate', () => `{"full_name": "Jean \\ud83d"}`, 'full_name', /lone UTF-16 surrogate \(\\ud83d\)/],
    ['a lone low surrogate', () => `{"full_name": "\\udca5 Jean"}`, 'full_name', /lone UTF-16 surrogate \(\\udca5\)/],
    ['surrogates the wrong way round', () => `{"full_name": "\\udca5\\ud83d"}`, 'full_name', /lone UTF-16 surrogate/],
    ['a field given twice', () => `{"full_name": "Jean", "full_name": "Pierre"}`, 'full_name', /more than once/],
    ['a field given twice, once escaped', () => `{"full_name": "Jean", "full_n\\u0061me": "Pierre"}`, 'full_name', /more than once/],
    ['a nested field given twice', () => `{"full_name": "Jean", "quiet_hours": {"start": "22:00", "end": "07:00", "start": "23:00"}}`, 'quiet_hours.start', /more than once/],
    ['a number too large to be a number', () => `{"full_name": "Jean", "x": 1e400}`, 'x', /beyond ±9007199254740991/],
    ['an integer beyond 2^53', () => `{"full_name": "Jean", "x": [1, 123456789012345678901234567890]}`, 'x[1]', /beyond/],
    ['a negative one', () => `{"full_name": "Jean", "x": -1e309}`, 'x', /beyond/],
    ['10,000 nested lists', () => `{"full_name": "Jean", "quiet_hours": ${nested(10_000, '[', ']')}}`, `quiet_hours${'[0]'.repeat(MAX_JSON_DEPTH - 1)}`, /more than 32 levels/],
    ['10,000 nested objects', () => `{"full_name": "Jean", "quiet_hours": ${nested(10_000, '{"a":', '}')}}`, `quiet_hours${'.a'.repeat(MAX_JSON_DEPTH - 1)}`, /more than 32 levels/],
    ['10,000 nested objects at the top', () => nested(10_000, '{"a":', '}'), `a${'.a'.repeat(MAX_JSON_DEPTH - 1)}`, /more than 32 levels/],
  ])('refuses %s in POST /users with 400 naming it, and writes nothing', async (_case, text, field, message) => {
    const before = await rowCounts();

    const response = await postJson('/users', text()).set('Idempotency-Key', `strict-${Math.random()}`);

    expectInvalidField(response, field);
    expect(response.body.errors).toEqual([{ field, message: expect.stringMatching(message) }]);
    expect(await rowCounts()).toEqual(before);
  });

  it('refuses a body that is not UTF-8 (a Latin-1 "é"), instead of storing a replacement character', async () => {
    const response = await postJson('/users', Buffer.concat([Buffer.from('{"full_name": "Ren'), Buffer.from([0xe9]), Buffer.from('"}')]));

    expectProblem(response, 400, 'validation-error');
    expect(response.body.detail).toMatch(/not valid UTF-8/);
  });

  it('refuses a JSON body declared in UTF-16 with 415', async () => {
    const response = await postJson('/users', Buffer.from('{"full_name": "Jean"}', 'utf16le'), 'application/json; charset=utf-16');

    expectProblem(response, 415, 'unsupported-media-type');
  });

  it('still takes what is well-formed: paired surrogates (an emoji, escaped or not), a number at 2^53 − 1, 32 levels of nesting', async () => {
    const emoji = await postJson('/users', '{"full_name": "Jean \\ud83d\\udca5 💥", "phone": "+33612345678"}').expect(201);
    const deep = await postJson('/users', `{"full_name": "Jean", "quiet_hours": ${nested(MAX_JSON_DEPTH - 1, '{"a":', '}')}}`);
    const largest = await postJson('/users', `{"full_name": "Jean", "x": ${Number.MAX_SAFE_INTEGER}}`);

    expect(emoji.body.full_name).toBe('Jean 💥 💥');
    // Those two reach the class validation, which names the unknown or malformed field.
    expectInvalidField(deep, 'quiet_hours.a');
    expectInvalidField(largest, 'x');
  });

  it.each([
    ['POST /notifications/send', () => '/notifications/send', () => `{"user_id": ${userId}, "channel": "sms", "message": "Rappel\\u0000"}`, 'message'],
    ['POST /notifications/batch', () => '/notifications/batch', () => `{"notifications": [{"user_id": ${userId}, "channel": "sms", "message": "ok"}, {"user_id": ${userId}, "channel": "sms", "template": "ticket_due", "data": {"reference": "AB\\u0000"}}]}`, 'notifications[1].data.reference'],
    ['POST /users/{id}/reminders', () => `/users/${userId}/reminders`, () => '{"frequency_days": 7, "channels": ["sms"], "message": "\\u0000"}', 'message'],
    ['POST /users/{id}/tickets', () => `/users/${userId}/tickets`, () => '{"reference": "AB\\u0000", "amount_cents": 100, "due_date": "2026-12-15"}', 'reference'],
    ['POST /users/{id}/devices', () => `/users/${userId}/devices`, () => '{"token": "fcm\\u0000token-token-token-token-token-token", "platform": "ios"}', 'token'],
    ['POST /reminders/process (which takes no body)', () => '/reminders/process', () => '{"x": "\\u0000"}', 'x'],
  ])('refuses a NUL on %s too, before any work', async (_case, path, text, field) => {
    const before = await rowCounts();

    const response = await postJson(path(), text());

    expectInvalidField(response, field);
    expect(await rowCounts()).toEqual(before);
  });

  it('refuses a NUL in a PATCH, and the user is unchanged', async () => {
    const response = await documentedRequest(harness.api.app)
      .patch(`/users/${userId}`)
      .set('Authorization', `Bearer ${TEST_API_KEY}`)
      .set('Content-Type', 'application/json')
      .send('{"full_name": "\\u0000"}');

    expectInvalidField(response, 'full_name');
    expect((await harness.env.db.manager.findOneByOrFail(User, { id: userId })).fullName).toBe('Jean Dupont');
  });
});

describe('paths and query strings', () => {
  const get = (url: string) => documentedRequest(harness.api.app).get(url).set('Authorization', `Bearer ${TEST_API_KEY}`);

  it.each([
    ['a NUL in an id', '/users/1%00', 'path', /NUL character/],
    ['a lone surrogate, percent-encoded', '/users/%ED%A0%80', 'path', /not valid percent-encoded UTF-8/],
    ['a byte that is not UTF-8', '/users/%ff', 'path', /not valid percent-encoded UTF-8/],
    ['a cut percent-escape', '/users/%E0%A4%A', 'path', /not valid percent-encoded UTF-8/],
    ['a NUL in a cursor', `/users/${1}/notifications?cursor=%00`, 'query.cursor', /NUL character/],
    ['a byte that is not UTF-8 in a status', '/notifications?status=%ff', 'query.status', /not valid percent-encoded UTF-8/],
    ['a NUL in a parameter name', '/notifications?st%00atus=sent', 'query.st%00atus', /NUL character/],
    ['a NUL in an unsubscribe link', '/unsubscribe/abc%00def', 'path', /NUL character/],
    ['a NUL on a route without a key', '/healthz?probe=%00', 'query.probe', /NUL character/],
    ['a byte that is not UTF-8 in a webhook query', '/webhooks/vonage?messageId=%ff&status=delivered', 'query.messageId', /not valid percent-encoded UTF-8/],
  ])('refuses %s with 400 naming it', async (_case, url, field, message) => {
    const response = await get(url);

    expectInvalidField(response, field);
    expect(response.body.errors).toEqual([{ field, message: expect.stringMatching(message) }]);
  });

  it('still takes well-formed percent-encoding', async () => {
    await get(`/users/${userId}/notifications?status=%73ent`).expect(200);
  });
});

describe('headers', () => {
  it('a NUL in a header (an Idempotency-Key) is refused by Node before the routes, with 400 problem+json', async () => {
    const listening = await start({ config: { ...harness.env.config, http: { ...harness.env.config.http, host: '127.0.0.1', port: 0 } }, logger: harness.env.logger });
    try {
      const { port } = listening.server!.address() as AddressInfo;
      const answer = await new Promise<string>((resolve, reject) => {
        const socket = connect(port, '127.0.0.1', () => {
          socket.write(`POST /users HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${TEST_API_KEY}\r\nIdempotency-Key: a\u0000b\r\nContent-Length: 2\r\n\r\n{}`);
        });
        let text = '';
        socket.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
        socket.on('close', () => resolve(text));
        socket.on('error', reject);
      });

      expect(answer).toMatch(/^HTTP\/1\.1 400 /);
      expect(answer).toContain('Content-Type: application/problem+json');
    } finally {
      await listening.stop();
    }
  });
});

describe('webhooks and forms', () => {
  // No signature secret: Vonage's receipts are taken unsigned, so they reach the database.
  const vonage = () => documentedRequest(harness.api.app).post('/webhooks/vonage');

  it.each<[string, (test: ReturnType<typeof vonage>) => Promise<Response>, string]>([
    ['a NUL in a form field', (test) => test.type('form').send('messageId=m%00&status=delivered'), 'messageId'],
    ['a NUL in a JSON field', (test) => test.set('Content-Type', 'application/json').send('{"messageId": "m\\u0000", "status": "delivered"}'), 'messageId'],
    ['a lone surrogate in JSON', (test) => test.set('Content-Type', 'application/json').send('{"messageId": "\\ud800", "status": "delivered"}'), 'messageId'],
    ['10,000 nested lists in JSON', (test) => test.set('Content-Type', 'application/json').send(`{"messageId": "m", "status": ${nested(10_000, '[', ']')}}`), `status${'[0]'.repeat(MAX_JSON_DEPTH - 1)}`],
    ['a parameter given twice in a form', (test) => test.type('form').send('messageId=m1&status=delivered&messageId=m2'), 'messageId'],
    ['a parameter given twice in JSON', (test) => test.set('Content-Type', 'application/json').send('{"messageId": "m1", "status": "delivered", "messageId": "m2"}'), 'messageId'],
    ['a parameter in the query and the body', (test) => test.query({ messageId: 'm1' }).type('form').send('messageId=m2&status=delivered'), 'messageId'],
    ['a parameter given twice in the query', (test) => test.query('messageId=m1&messageId=m2&status=delivered'), 'messageId'],
    ['a form field that is not UTF-8 once decoded', (test) => test.type('form').send('messageId=%ff&status=delivered'), 'messageId'],
  ])('refuses a Vonage receipt with %s with 400 naming it', async (_case, send, field) => {
    const response = await send(vonage());

    expectInvalidField(response, field);
  });

  it('refuses a NUL in the unsubscribe form', async () => {
    const response = await documentedRequest(harness.api.app).post('/unsubscribe/not-a-link').type('form').send('List-Unsubscribe=One%00Click');

    expectInvalidField(response, 'List-Unsubscribe');
  });
});
