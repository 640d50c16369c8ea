import fc from 'fast-check';
import type { Response } from 'supertest';
import { TEST_API_KEY } from '@test/test-environment';
import type { AddressInfo } from 'node:net';
import { start } from '../src/api-service';
import { documentedRequest } from '@test/openapi-conformance';
import { startApi, type ApiHarness } from './api-harness';
import { routesOf } from './routes';

// Property-based fuzzing of every route the app answers (read from its router, so that a new route
// is fuzzed too): whatever the path parameters, query, body, headers and caller (an admin key or a
// user token), the API answers a client error as problem+json, never a 5xx and never a stack trace.
// The seed is in the test's name. Replay a failure with FUZZ_SEED=<seed> FUZZ_ROUTE='<route>'
// FUZZ_PATH=<path> (all three printed with it); FUZZ_RUNS=<n> runs n cases a route (150 by default).

const SEED = Number(process.env.FUZZ_SEED ?? 20_261_125);
const RUNS = Number(process.env.FUZZ_RUNS ?? 150);

let harness: ApiHarness;
let userToken: string;
beforeAll(async () => {
  harness = await startApi({ RATE_LIMIT: '1000000/1s', USER_RATE_LIMIT: '1000000/1s', SMS_DAILY_CAP: '0', HTTP_BODY_LIMIT: '64kb' });
  const { body: user } = await harness.client.post('/users', { full_name: 'Fuzz', email: 'fuzz@example.com', phone: '+33612345678' }).expect(201);
  userToken = ((await harness.client.post(`/users/${user.id as number}/tokens`).expect(201)).body as { token: string }).token;
});
afterAll(async () => {
  await harness.stop();
});

type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';

/**
 * The operators' pages answer HTML (a login form, Bull Board's own application): they are not the
 * API's, and are tested in admin.test.ts and in a browser (test/e2e/queue-board.test.ts).
 */
const NOT_FUZZED = /^\S+ \/admin\//;

/** `[method, path pattern]` of every route of the app but the operators' pages; `ALL` routes with GET and POST. */
function fuzzedRoutes(): Array<[Method, string]> {
  return routesOf(harness.api.app)
    .filter((route) => !NOT_FUZZED.test(route) && !route.startsWith('USE '))
    .flatMap((route): Array<[Method, string]> => {
      const [method, path] = route.split(' ') as [string, string];
      return method === 'ALL' ? [['get', path], ['post', path]] : [[method.toLowerCase() as Method, path]];
    });
}

/** Strings that have broken parsers before: unicode, control characters, SQL and path tricks. */
const shortString = fc.oneof(
  fc.string(),
  fc.string({ unit: 'grapheme', maxLength: 50 }),
  fc.string({ unit: 'binary', maxLength: 50 }),
  fc.constantFrom('', ' ', '0', '-1', '1.5', '1e309', '9'.repeat(30), 'NaN', 'null', 'true', '__proto__', 'constructor', "' OR 1=1 --", '../../etc/passwd', '%00', '\u0000', '\ud800', '💥'.repeat(40)),
);
/** The same, and huge ones (bodies only: a URL over 16 KB is refused by Node's parser, see the last test). */
const nastyString = fc.oneof(shortString, fc.constantFrom('A'.repeat(70_000), 'é'.repeat(20_000)));
const idLike = fc.oneof(fc.integer({ min: 1, max: 50 }).map(String), fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }).map(String), shortString);
const number = fc.oneof(fc.integer(), fc.double(), fc.constantFrom(Number.MAX_SAFE_INTEGER + 2, -0, 1e308));
/** JSON values of every shape, with the keys a body may not have. */
const key = fc.oneof(fc.constantFrom('user_id', 'channel', 'message', 'email', 'phone', 'status', 'attempts', 'channels', 'frequency_days', 'token', 'platform', '__proto__', 'constructor', 'prototype'), fc.string());
const jsonValue = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: 'small' }, fc.constant(null), fc.boolean(), number, nastyString, tie('array'), tie('object')),
  array: fc.array(tie('value'), { maxLength: 5 }),
  object: fc.dictionary(key, tie('value'), { maxKeys: 6 }),
})).value;
/** A body as sent on the wire: JSON of any shape, or text that is not JSON at all. */
const body = fc.oneof(
  { weight: 5, arbitrary: jsonValue.map((value) => ({ type: 'application/json', text: JSON.stringify(value) ?? 'null' })) },
  { weight: 1, arbitrary: nastyString.map((text) => ({ type: 'application/json', text })) },
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom('text/plain', 'application/x-www-form-urlencoded', 'application/xml'), nastyString).map(([type, text]) => ({ type, text })) },
);
const query = fc.dictionary(fc.oneof(fc.constantFrom('limit', 'cursor', 'status', '__proto__', 'limit[]'), fc.string({ maxLength: 10 })), fc.oneof(shortString, fc.array(shortString, { minLength: 2, maxLength: 3 })), {
  maxKeys: 3,
});

/** The string with lone surrogates replaced (String.prototype.toWellFormed, ES2024). */
const wellFormed = (text: string): string => text.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD');

/** Header values as a client may send them (printable ASCII), valid or not. */
const headerValue = fc.oneof(fc.string({ maxLength: 300 }), fc.uuid(), fc.constantFrom('', ' ', 'k'.repeat(256), '../etc', 'Bearer x'));
const headers = fc.record({ 'Idempotency-Key': headerValue, 'X-Request-Id': headerValue }, { requiredKeys: [] });
const caller = fc.constantFrom('admin key', 'user token');

function urlOf(template: string, ids: readonly string[], params: Record<string, string | string[]>): string {
  let i = 0;
  // Lone surrogates cannot be percent-encoded: they are sent as the replacement character.
  const path = template.replace(/:\w+/g, () => encodeURIComponent(wellFormed(ids[i++] ?? '1')));
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) for (const v of Array.isArray(value) ? value : [value]) search.append(wellFormed(name), wellFormed(v));
  const qs = search.toString();
  return qs ? `${path}?${qs}` : path;
}

const STACK_TRACE = /\bat .+\((?:\/|node:)|\.ts:\d+:\d+|\.js:\d+:\d+/;

/** What is wrong with an answer, or null: a 5xx, a stack trace, an error that is not problem+json. */
function flaw(response: Response): string | null {
  if (response.status >= 500) return 'a server error';
  if (STACK_TRACE.test(response.text)) return 'a stack trace';
  if (response.status < 400) return null;
  if (!/^application\/problem\+json/.test(String(response.headers['content-type']))) return 'an error that is not problem+json';
  const problem = response.body as Record<string, unknown>;
  const complete = typeof problem.type === 'string' && /^\/problems\/[a-z-]+$/.test(problem.type) && typeof problem.title === 'string' && problem.status === response.status && typeof problem.detail === 'string';
  return complete ? null : 'a problem without type, title, status and detail';
}

describe(`fuzzing with seed ${SEED}, ${RUNS} cases a route`, () => {
  it('answers any input on every route with a success or a problem+json client error, never a 5xx or a stack trace', async () => {
    const routes = fuzzedRoutes().filter(([method, path]) => process.env.FUZZ_ROUTE === undefined || `${method.toUpperCase()} ${path}` === process.env.FUZZ_ROUTE);
    // The list comes from the app: make sure it is the whole API, not an empty walk.
    if (process.env.FUZZ_ROUTE === undefined) expect(routes.length).toBeGreaterThanOrEqual(35);
    const failures: string[] = [];
    let cases = 0;

    for (const [method, template] of routes) {
      const route = `${method.toUpperCase()} ${template}`;
      const result = await fc.check(
        fc.asyncProperty(fc.array(idLike, { minLength: 2, maxLength: 2 }), query, body, headers, caller, async (ids, params, payload, extra, who) => {
          cases++;
          const credential = who === 'admin key' ? TEST_API_KEY : userToken;
          let call = documentedRequest(harness.api.app)[method](urlOf(template, ids, params)).set('Authorization', `Bearer ${credential}`).set(extra);
          if (method !== 'get' && method !== 'delete') call = call.set('Content-Type', payload.type).send(payload.text);
          const response = await call;
          const found = flaw(response);
          if (found) throw new Error(`${found}: ${response.status} ${String(response.headers['content-type'])} ${response.text.slice(0, 300)}`);
        }),
        { seed: SEED, numRuns: RUNS, ...(process.env.FUZZ_PATH && { path: process.env.FUZZ_PATH }), endOnFailure: true },
      );
      if (result.failed) {
        failures.push(`${route}: ${String((result.errorInstance as Error | undefined)?.message ?? result.errorInstance)}\n  replay: FUZZ_SEED=${result.seed} FUZZ_ROUTE='${route}' FUZZ_PATH=${result.counterexamplePath ?? ''}\n  input: ${fc.stringify(result.counterexample).slice(0, 500)}`);
      }
    }

    expect(failures).toEqual([]);
    if (process.env.FUZZ_ROUTE === undefined) expect(cases).toBeGreaterThanOrEqual(35 * Math.min(RUNS, 100));
  }, 600_000);
});

describe('a request Node refuses before the routes', () => {
  it('gets problem+json too: 431 for a URL over 16 KB', async () => {
    const listening = await start({ config: { ...harness.env.config, http: { ...harness.env.config.http, host: '127.0.0.1', port: 0 } }, logger: harness.env.logger });
    try {
      const { port } = listening.server!.address() as AddressInfo;
      const response = await fetch(`http://127.0.0.1:${port}/users/1?q=${'A'.repeat(70_000)}`, { headers: { Authorization: `Bearer ${TEST_API_KEY}` } });

      expect(response.status).toBe(431);
      expect(response.headers.get('content-type')).toBe('application/problem+json; charset=utf-8');
      expect(await response.json()).toEqual({ type: '/problems/headers-too-large', title: 'Request header fields too large', status: 431, detail: expect.stringContaining('16 KB') });
    } finally {
      await listening.stop();
    }
  });
});
