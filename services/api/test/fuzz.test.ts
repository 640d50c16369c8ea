import { generateKeyPairSync } from 'node:crypto';
import fc from 'fast-check';
import type { Response } from 'supertest';
import { TEST_API_KEY } from '@test/test-environment';
import type { AddressInfo } from 'node:net';
import { start } from '../src/api-service';
import { MAX_JSON_DEPTH } from '../src/http/strict-json';
import { documentedRequest } from '@test/openapi-conformance';
import { startApi, type ApiHarness } from './api-harness';
import { routesOf } from './routes';

// Property-based fuzzing of every route the app answers (read from its router, so that a new route
// is fuzzed too): whatever the path parameters, query, body, headers and caller (an admin key or a
// user token), the API answers a client error as problem+json, never a 5xx and never a stack trace.
// The seed is in the test's name. Replay a failure with FUZZ_SEED=<seed> FUZZ_ROUTE='<route>'
// FUZZ_PATH=<path> (all three printed with it); FUZZ_RUNS=<n> runs n cases a route (150 by default).
// Then the shapes a strict API refuses before any work (a NUL, a lone surrogate, a field given
// twice, a number beyond 2^53, 10,000 levels of nesting, percent-encoding that is not UTF-8), put
// anywhere in an otherwise clean body, path or query: each must be a 400 naming where it is.

const SEED = Number(process.env.FUZZ_SEED ?? 20_261_125);
const RUNS = Number(process.env.FUZZ_RUNS ?? 150);

let harness: ApiHarness;
let userToken: string;
beforeAll(async () => {
  // The providers' webhooks configured, so that they read what they are sent (unsigned: 401).
  const sendGridKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
  harness = await startApi({
    RATE_LIMIT: '1000000/1s',
    USER_RATE_LIMIT: '1000000/1s',
    SMS_DAILY_CAP: '0',
    HTTP_BODY_LIMIT: '256kb',
    SENDGRID_WEBHOOK_PUBLIC_KEY: sendGridKey,
    VONAGE_SIGNATURE_SECRET: 'fuzz-vonage-signature-secret',
    TWILIO_AUTH_TOKEN: 'fuzz-twilio-auth-token',
    PUBLIC_BASE_URL: 'https://notifications.notofine.test',
  });
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
/** `depth` lists or objects, one in the other, around `inner`. */
const nested = (depth: number, open: string, close: string, inner = '1'): string => `${open.repeat(depth)}${inner}${close.repeat(depth)}`;
/** JSON texts JSON.stringify never writes: duplicate keys, numbers beyond doubles or 2^53, 10,000 levels of nesting. */
const rawJson = fc.constantFrom(
  nested(10_000, '[', ']'),
  nested(10_000, '{"a":', '}'),
  `{"message": ${nested(10_000, '[', ']')}}`,
  '{"user_id": 1, "user_id": 2}',
  '{"channel": "email", "channel": "sms"}',
  '{"frequency_days": 1e400}',
  '{"user_id": 123456789012345678901234567890}',
  '{"message": "\\u0000"}',
  '{"message": "\\ud800"}',
);
/** A body as sent on the wire: JSON of any shape, or text that is not JSON at all. */
const body = fc.oneof(
  { weight: 5, arbitrary: jsonValue.map((value) => ({ type: 'application/json', text: JSON.stringify(value) ?? 'null' })) },
  { weight: 1, arbitrary: rawJson.map((text) => ({ type: 'application/json', text })) },
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

/** One step of a path into a body: a field name or a list index. */
type Step = string | number;

/** JSON values with nothing a strict reading refuses: printable ASCII, 32-bit integers, unique keys, shallow. */
const cleanValue = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: 'small', maxDepth: 3 }, fc.constant(null), fc.boolean(), fc.integer(), fc.string({ maxLength: 20 }), tie('array'), tie('object')),
  array: fc.array(tie('value'), { maxLength: 3 }),
  object: fc.dictionary(fc.string({ maxLength: 8 }), tie('value'), { maxKeys: 4 }),
})).value;
const fieldName = fc.stringMatching(/^[a-z_]{1,8}$/);
/** Where the poison goes: a field of the top object, then up to three more steps. */
const placement = fc.tuple(fieldName, fc.array(fc.oneof(fieldName, fc.nat(2)), { maxLength: 3 }));

/**
 * What a strict API refuses in a body, as raw JSON text, and the field the 400 must name given
 * the path to where it is put. `steps` is how many containers hold it.
 */
interface Poison {
  readonly name: string;
  readonly text: string;
  readonly field: (path: string, steps: number) => string;
}
const POISONS: readonly Poison[] = [
  ...['"x\\u0000y"', '"\\u0000"'].map((text) => ({ name: 'a NUL', text, field: (path: string) => path })),
  ...['"\\ud800"', '"a\\udfff"', '"\\udc00\\ud800"', '"\\ud83d\\u0041"'].map((text) => ({ name: 'a lone surrogate', text, field: (path: string) => path })),
  ...['1e400', '-1e309', '123456789012345678901234567890', '9007199254740993'].map((text) => ({ name: 'a number beyond 2^53', text, field: (path: string) => path })),
  { name: 'a field given twice', text: '{"k": 1, "k": 2}', field: (path) => `${path}.k` },
  { name: 'a NUL in a field name', text: '{"k\\u0000": 1}', field: (path) => `${path}.k\\u0000` },
  { name: '10,000 levels of lists', text: nested(10_000, '[', ']'), field: (path, steps) => `${path}${'[0]'.repeat(MAX_JSON_DEPTH - steps)}` },
  { name: '10,000 levels of objects', text: nested(10_000, '{"o":', '}'), field: (path, steps) => `${path}${'.o'.repeat(MAX_JSON_DEPTH - steps)}` },
];

/** A clean body with `poison` at the end of `steps`, as JSON text, and the path of that spot. */
function poisonedBody(steps: readonly Step[], around: readonly unknown[], poison: Poison): { text: string; path: string } {
  const MARK = '\u2603poison\u2603';
  let value: unknown = MARK;
  for (let i = steps.length - 1; i >= 0; i--) {
    const step = steps[i]!;
    const filler = around[i];
    if (typeof step === 'number') {
      value = [...Array.from({ length: step }, () => filler ?? null), value];
    } else {
      const object = typeof filler === 'object' && filler !== null && !Array.isArray(filler) ? { ...filler } : {};
      delete (object as Record<string, unknown>)[step];
      value = { ...object, [step]: value };
    }
  }
  const path = steps.map((step, i) => (typeof step === 'number' ? `[${step}]` : `${i === 0 ? '' : '.'}${step}`)).join('');
  return { text: JSON.stringify(value).replace(`"${MARK}"`, poison.text), path };
}

/** Percent-encoding a URL may not hold, and why. */
const URL_POISONS = [
  { text: '1%00', message: /NUL character/ },
  { text: '%00', message: /NUL character/ },
  { text: '%ff', message: /not valid percent-encoded UTF-8/ },
  { text: '%ED%A0%80', message: /not valid percent-encoded UTF-8/ },
  { text: '%E0%A4%A', message: /not valid percent-encoded UTF-8/ },
  { text: 'abc%', message: /not valid percent-encoded UTF-8/ },
];

/** Why an answer is not the 400 naming `field` it should be, or null. */
function notNaming(response: Response, field: string, message?: RegExp): string | null {
  const errors = (response.body as { errors?: Array<{ field: string; message: string }> }).errors;
  if (response.status === 400 && response.body.type === '/problems/validation-error' && errors?.length === 1 && errors[0]!.field === field && (!message || message.test(errors[0]!.message))) return null;
  return `expected a 400 naming ${field}, got ${response.status} ${response.text.slice(0, 300)}`;
}

describe(`the shapes a strict API refuses, with seed ${SEED}, ${Math.ceil(RUNS / 3)} cases a route`, () => {
  /** Routes that read a JSON body: every POST, PUT and PATCH but the unsubscribe link's (a form, read only for a log line). */
  const bodyRoutes = () => fuzzedRoutes().filter(([method, path]) => ['post', 'put', 'patch'].includes(method) && !path.startsWith('/unsubscribe/'));

  async function checkEach<T>(routes: Array<[Method, string]>, property: (method: Method, template: string) => fc.IAsyncProperty<T>): Promise<string[]> {
    const failures: string[] = [];
    for (const [method, template] of routes) {
      const route = `${method.toUpperCase()} ${template}`;
      if (process.env.FUZZ_ROUTE !== undefined && process.env.FUZZ_ROUTE !== route) continue;
      const result = await fc.check(property(method, template), { seed: SEED, numRuns: Math.ceil(RUNS / 3), ...(process.env.FUZZ_PATH && { path: process.env.FUZZ_PATH }), endOnFailure: true });
      if (result.failed) {
        failures.push(`${route}: ${String((result.errorInstance as Error | undefined)?.message ?? result.errorInstance)}\n  replay: FUZZ_SEED=${result.seed} FUZZ_ROUTE='${route}' FUZZ_PATH=${result.counterexamplePath ?? ''}`);
      }
    }
    return failures;
  }

  it('answers a body holding a NUL, a lone surrogate, a field given twice, a number beyond 2^53 or deep nesting, anywhere, with 400 naming that field', async () => {
    const routes = bodyRoutes();
    if (process.env.FUZZ_ROUTE === undefined) expect(routes.length).toBeGreaterThanOrEqual(20);

    const failures = await checkEach(routes, (method, template) =>
      fc.asyncProperty(placement, fc.array(cleanValue, { minLength: 4, maxLength: 4 }), fc.constantFrom(...POISONS), async ([first, rest], around, poison) => {
        const steps = [first, ...rest];
        const { text, path } = poisonedBody(steps, around, poison);
        const response = await documentedRequest(harness.api.app)[method](urlOf(template, ['1', '1'], {}))
          .set('Authorization', `Bearer ${TEST_API_KEY}`)
          .set('Content-Type', 'application/json')
          .send(text);
        const wrong = notNaming(response, poison.field(path, steps.length));
        if (wrong) throw new Error(`${poison.name} at ${path}: ${wrong}\n  body: ${text.slice(0, 300)}`);
      }),
    );

    expect(failures).toEqual([]);
  }, 600_000);

  it('answers a path parameter or a query parameter with a NUL or percent-encoding that is not UTF-8 with 400 naming it', async () => {
    const failures = await checkEach(fuzzedRoutes(), (method, template) =>
      fc.asyncProperty(fc.constantFrom(...URL_POISONS), fc.boolean(), fieldName, async (poison, inPath, name) => {
        const inPathToo = inPath && template.includes(':');
        const path = inPathToo ? template.replace(/:\w+/, poison.text).replace(/:\w+/g, '1') : template.replace(/:\w+/g, '1');
        const url = inPathToo ? path : `${path}?${name}=${poison.text}`;
        const response = await documentedRequest(harness.api.app)[method](url).set('Authorization', `Bearer ${TEST_API_KEY}`);
        const wrong = notNaming(response, inPathToo ? 'path' : `query.${name}`, poison.message);
        if (wrong) throw new Error(`${url}: ${wrong}`);
      }),
    );

    expect(failures).toEqual([]);
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
