import fc from 'fast-check';
import request from 'supertest';
import { TEST_API_KEY } from '@test/test-environment';
import type { AddressInfo } from 'node:net';
import { start } from '../src/api-service';
import { startApi, type ApiHarness } from './api-harness';

// Property-based fuzzing of every route: whatever the path parameters, query and body, the API
// answers a client error as problem+json, never a 5xx and never a stack trace.
// Replay a failure with FUZZ_SEED=<seed printed> (and FUZZ_PATH=<path printed>); FUZZ_RUNS=<n>
// runs more cases per route.

const SEED = Number(process.env.FUZZ_SEED ?? 20_261_125);
const RUNS = Number(process.env.FUZZ_RUNS ?? 150);

let harness: ApiHarness;
beforeAll(async () => {
  harness = await startApi({ RATE_LIMIT: '1000000/1s', SMS_DAILY_CAP: '0', HTTP_BODY_LIMIT: '64kb' });
});
afterAll(async () => {
  await harness.stop();
});

type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';
/** Every route but the operators' HTML pages; `{}` marks a path parameter. */
const ROUTES: Array<[Method, string]> = [
  ['post', '/users'],
  ['get', '/users/{}'],
  ['patch', '/users/{}'],
  ['delete', '/users/{}'],
  ['get', '/users/{}/preferences'],
  ['put', '/users/{}/preferences'],
  ['post', '/users/{}/tokens'],
  ['post', '/users/{}/devices'],
  ['get', '/users/{}/devices'],
  ['delete', '/users/{}/devices/{}'],
  ['post', '/users/{}/tickets'],
  ['get', '/users/{}/tickets'],
  ['get', '/tickets/{}'],
  ['patch', '/tickets/{}'],
  ['post', '/tickets/{}/notify'],
  ['post', '/users/{}/reminders'],
  ['get', '/users/{}/reminders'],
  ['get', '/reminders/{}'],
  ['patch', '/reminders/{}'],
  ['delete', '/reminders/{}'],
  ['post', '/reminders/process'],
  ['post', '/notifications/send'],
  ['get', '/notifications'],
  ['get', '/notifications/{}'],
  ['post', '/notifications/{}/retry'],
  ['post', '/notifications/{}/cancel'],
  ['get', '/unsubscribe/{}'],
  ['post', '/unsubscribe/{}'],
  ['post', '/webhooks/vonage/inbound'],
  ['post', '/webhooks/twilio/inbound'],
  ['get', '/users/{}/notifications'],
  ['post', '/webhooks/sendgrid'],
  ['post', '/webhooks/vonage'],
  ['get', '/webhooks/vonage'],
  ['post', '/webhooks/twilio'],
];

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

function urlOf(template: string, ids: readonly string[], params: Record<string, string | string[]>): string {
  let i = 0;
  // Lone surrogates cannot be percent-encoded: they are sent as the replacement character.
  const path = template.replace(/\{\}/g, () => encodeURIComponent(wellFormed(ids[i++] ?? '1')));
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) for (const v of Array.isArray(value) ? value : [value]) search.append(wellFormed(name), wellFormed(v));
  const qs = search.toString();
  return qs ? `${path}?${qs}` : path;
}

const STACK_TRACE = /\bat .+\((?:\/|node:)|\.ts:\d+:\d+|\.js:\d+:\d+/;

describe.each(ROUTES)('%s %s', (method, template) => {
  it('answers any input with a success or a problem+json client error, never a 5xx or a stack trace', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(idLike, { minLength: 2, maxLength: 2 }), query, body, async (ids, params, payload) => {
        let call = request(harness.api.app)[method](urlOf(template, ids, params)).set('Authorization', `Bearer ${TEST_API_KEY}`);
        if (method !== 'get' && method !== 'delete') call = call.set('Content-Type', payload.type).send(payload.text);
        const response = await call;

        const answer = `${response.status} ${String(response.headers['content-type'])} ${response.text.slice(0, 300)}`;
        expect({ answer, serverError: response.status >= 500 }).toEqual({ answer, serverError: false });
        expect({ answer, stackTrace: STACK_TRACE.test(response.text) }).toEqual({ answer, stackTrace: false });
        if (response.status >= 400) {
          expect({ answer, problem: /^application\/problem\+json/.test(String(response.headers['content-type'])) }).toEqual({ answer, problem: true });
          expect(response.body).toMatchObject({ type: expect.stringMatching(/^\/problems\/[a-z-]+$/), title: expect.any(String), status: response.status, detail: expect.any(String) });
        }
      }),
      { seed: SEED, numRuns: RUNS, ...(process.env.FUZZ_PATH && { path: process.env.FUZZ_PATH }), endOnFailure: true },
    );
  });
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
