import { ApiKey } from '@notofine/db';
import { apiClient } from '@test/api-client';
import { buildUserBody } from '@test/factories';
import { TEST_API_KEY } from '@test/test-environment';
import { waitFor } from '@test/wait-for';
import { createApiKey, revokeApiKey } from '../src/api-keys/api-keys';
import { documentedRequest } from '@test/openapi-conformance';
import { startApi, type ApiHarness } from './api-harness';
import { expectNoStackTrace, expectProblem } from './expectations';

const AUTHORIZATION = `Bearer ${TEST_API_KEY}`;

let harness: ApiHarness;
beforeAll(async () => {
  harness = await startApi();
});
afterAll(() => harness.stop());

describe('request bodies', () => {
  it('answers malformed JSON with 400 problem+json, without a stack trace', async () => {
    const response = await documentedRequest(harness.api.app).post('/users').set('Authorization', AUTHORIZATION).set('Content-Type', 'application/json').send('{"full_name": "Jean",');

    expectProblem(response, 400, 'malformed-json');
    expect(response.body.detail).toMatch(/not valid JSON/);
  });

  it('answers a JSON body that is not an object with 400', async () => {
    const response = await documentedRequest(harness.api.app).post('/users').set('Authorization', AUTHORIZATION).set('Content-Type', 'application/json').send('[{"full_name": "Jean"}]');

    expectProblem(response, 400, 'validation-error');
    expect(response.body.detail).toMatch(/must be a JSON object/);
  });

  it.each([
    ['text/plain', 'full_name=Jean'],
    ['application/x-www-form-urlencoded', 'full_name=Jean'],
    ['application/xml', '<user><full_name>Jean</full_name></user>'],
  ])('answers a %s body with 415', async (contentType, body) => {
    const response = await documentedRequest(harness.api.app).post('/users').set('Authorization', AUTHORIZATION).set('Content-Type', contentType).send(body);

    expectProblem(response, 415, 'unsupported-media-type');
    expect(response.body.detail).toContain(contentType);
  });

  it('answers a JSON body in a charset other than UTF-8 with 415', async () => {
    const response = await documentedRequest(harness.api.app)
      .post('/users')
      .set('Authorization', AUTHORIZATION)
      .set('Content-Type', 'application/json; charset=latin1')
      .send(JSON.stringify(buildUserBody()));

    expectProblem(response, 415, 'unsupported-media-type');
  });

  describe('with HTTP_BODY_LIMIT=1kb', () => {
    let small: ApiHarness;
    beforeAll(async () => {
      small = await startApi({ HTTP_BODY_LIMIT: '1kb' });
    });
    afterAll(() => small.stop());

    it('answers a body over the limit with 413 and stores nothing', async () => {
      const response = await small.client.post('/notifications/send', { user_id: 1, channel: 'email', message: 'm'.repeat(1100) });

      expectProblem(response, 413, 'payload-too-large');
      expect(response.body.detail).toContain('1024 bytes');
      expect(await small.env.db.query('SELECT 1 FROM notifications')).toEqual([]);
    });

    it('accepts a body under the limit', async () => {
      const response = await small.client.post('/users', buildUserBody({ full_name: 'J'.repeat(200) }));

      expect(response.status).toBe(201);
    });
  });
});

describe('unknown routes', () => {
  it('answers 404 problem+json naming the method and path', async () => {
    const response = await harness.client.get('/contraventions');

    expectProblem(response, 404, 'route-not-found');
    expect(response.body.detail).toBe('No route answers GET /contraventions.');
  });

  it('answers 404 for a known path with a method it does not take', async () => {
    const response = await harness.client.put('/tickets/1', { status: 'paid' });

    expectProblem(response, 404, 'route-not-found');
  });
});

describe('API keys', () => {
  it.each([
    ['no Authorization header', undefined],
    ['a Basic Authorization header', 'Basic dXNlcjpwYXNz'],
    ['a Bearer header without a key', 'Bearer '],
    ['a key with no scheme', TEST_API_KEY],
    ['an unknown key', 'Bearer nfk_unknown_key_0000000000000000000'],
  ])('refuse %s with 401 and a WWW-Authenticate challenge', async (_case, authorization) => {
    const call = documentedRequest(harness.api.app).get('/users/1');
    const response = await (authorization === undefined ? call : call.set('Authorization', authorization));

    expectProblem(response, 401, 'unauthorized');
    expect(response.headers['www-authenticate']).toBe('Bearer realm="notofine"');
  });

  it('accept a key created with the API-key tools, and record its use', async () => {
    const { apiKey, key } = await createApiKey(harness.env.db.manager, 'back-office');

    const response = await apiClient(harness.api.app, key).get('/users/1');

    expect(response.status).toBe(404);
    // The use is recorded after the answer, without holding it up.
    const used = await waitFor('the key use to be recorded', async () => (await harness.env.db.manager.findOneByOrFail(ApiKey, { id: apiKey.id })).lastUsedAt);
    expect(used).toBeInstanceOf(Date);
  });

  it('refuse a revoked key with 401', async () => {
    const { apiKey, key } = await createApiKey(harness.env.db.manager, 'former partner');
    await revokeApiKey(harness.env.db.manager, apiKey.id);

    const response = await apiClient(harness.api.app, key).post('/users', buildUserBody());

    expectProblem(response, 401, 'unauthorized');
    expect(response.body.detail).toMatch(/revoked/);
  });

  it('store only the hash of a key, never the key itself', async () => {
    const { apiKey, key } = await createApiKey(harness.env.db.manager, 'audit');

    const [row]: Array<Record<string, unknown>> = await harness.env.db.query('SELECT * FROM api_keys WHERE id = $1', [apiKey.id]);

    expect(JSON.stringify(row)).not.toContain(key);
    expect(row!.key_hash).toMatch(/^[0-9a-f]{64}$/);
  });

  it('are checked before routing: an unknown route without a key answers 401', async () => {
    expectProblem(await documentedRequest(harness.api.app).get('/contraventions'), 401, 'unauthorized');
  });
});

describe('response headers', () => {
  it.each([
    ['a success', () => harness.client.post('/users', buildUserBody())],
    ['an error', () => harness.client.get('/users/987654321')],
    ['a refusal before authentication', () => documentedRequest(harness.api.app).get('/users/1')],
  ])("carry helmet's headers and forbid caching (%s)", async (_case, send) => {
    const response = await send();

    expect(response.headers).toMatchObject({
      'strict-transport-security': expect.stringMatching(/^max-age=\d+/),
      'x-content-type-options': 'nosniff',
      'x-frame-options': 'SAMEORIGIN',
      'content-security-policy': expect.stringContaining("default-src 'self'"),
      'referrer-policy': 'no-referrer',
      'cross-origin-resource-policy': 'same-origin',
      'cache-control': 'no-store',
    });
    expect(response.headers['x-powered-by']).toBeUndefined();
  });
});

describe('health and readiness', () => {
  it('/healthz answers 200 without a key', async () => {
    const response = await documentedRequest(harness.api.app).get('/healthz');

    expect(response.status).toBe(200);
    expect(response.body).toEqual({ status: 'ok' });
  });

  it('/readyz answers 200 without a key once PostgreSQL and Redis answer', async () => {
    const response = await documentedRequest(harness.api.app).get('/readyz');

    expect(response.status).toBe(200);
    expect(response.body).toEqual({ status: 'ready', checks: { postgres: 'ok', redis: 'ok' } });
  });
});

describe('request ids', () => {
  it('echoes a well-formed X-Request-Id, on errors too', async () => {
    const response = await harness.client.get('/users/987654321').set('X-Request-Id', 'client-req-42');

    expect(response.headers['x-request-id']).toBe('client-req-42');
    expect(response.body.request_id).toBe('client-req-42');
  });

  it('gives a request without one an id of its own', async () => {
    const response = await documentedRequest(harness.api.app).get('/healthz');

    expect(response.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('replaces a malformed X-Request-Id rather than echo it', async () => {
    const response = await documentedRequest(harness.api.app).get('/healthz').set('X-Request-Id', 'bad id with spaces <script>');

    expect(response.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe('error bodies', () => {
  it.each([
    ['malformed JSON', () => documentedRequest(harness.api.app).post('/users').set('Authorization', AUTHORIZATION).set('Content-Type', 'application/json').send('{oops')],
    ['a validation error', () => harness.client.post('/users', { full_name: 42 })],
    ['an unknown user', () => harness.client.get('/users/987654321')],
    ['a malformed id', () => harness.client.get('/users/abc')],
    ['a missing key', () => documentedRequest(harness.api.app).get('/users/1')],
    ['an unknown route', () => harness.client.get('/nowhere')],
    ['a refused content type', () => documentedRequest(harness.api.app).post('/users').set('Authorization', AUTHORIZATION).set('Content-Type', 'text/plain').send('x')],
  ])('never carry a stack trace (%s)', async (_case, send) => {
    const response = await send();

    expect(response.status).toBeGreaterThanOrEqual(400);
    expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
    expectNoStackTrace(response);
    expect(Object.keys(response.body)).toEqual(expect.arrayContaining(['type', 'title', 'status', 'detail']));
  });
});
