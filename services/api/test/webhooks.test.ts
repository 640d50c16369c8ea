import { createHmac, generateKeyPairSync, sign } from 'node:crypto';
import { DeliveryEvent, Notification, User, insertPendingNotifications } from '@notofine/db';
import { insertUser } from '@test/factories';
import request from 'supertest';
import twilio from 'twilio';
import { documentedRequest } from '@test/openapi-conformance';
import { startApi, type ApiHarness } from './api-harness';

const sendGridKeys = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const VONAGE_SECRET = 'vonage-signature-secret';
const TWILIO_TOKEN = 'twilio-auth-token';
const PUBLIC_BASE_URL = 'https://notifications.notofine.test';

let harness: ApiHarness;
beforeAll(async () => {
  harness = await startApi({
    SENDGRID_WEBHOOK_PUBLIC_KEY: sendGridKeys.publicKey.export({ type: 'spki', format: 'der' }).toString('base64'),
    VONAGE_SIGNATURE_SECRET: VONAGE_SECRET,
    TWILIO_AUTH_TOKEN: TWILIO_TOKEN,
    PUBLIC_BASE_URL,
  });
});
afterAll(() => harness.stop());

/** A notification already `sent` by `provider` under `messageId`. */
async function sentNotification(provider: string, messageId: string, channel: 'email' | 'sms' = 'email'): Promise<number> {
  const user = await insertUser(harness.env.db);
  const [notification] = await insertPendingNotifications(harness.env.db.manager, [
    { userId: user.id, channel, message: 'Rappel', subject: null, ticketId: null, reminderId: null },
  ]);
  await harness.env.db.query(`UPDATE notifications SET status = 'sent', sent_at = now(), provider = $2, provider_message_id = $3 WHERE id = $1`, [
    notification!.id,
    provider,
    messageId,
  ]);
  return notification!.id;
}

/** A Twilio SMS already `sent` as `sid`, in the schema of `api`. */
async function sentNotificationIn(api: ApiHarness, sid: string): Promise<number> {
  const user = await insertUser(api.env.db);
  const [notification] = await insertPendingNotifications(api.env.db.manager, [{ userId: user.id, channel: 'sms', message: 'Rappel', subject: null, ticketId: null, reminderId: null }]);
  await api.env.db.query(`UPDATE notifications SET status = 'sent', sent_at = now(), provider = 'twilio', provider_message_id = $2 WHERE id = $1`, [notification!.id, sid]);
  return notification!.id;
}

const row = (id: number) => harness.env.db.manager.findOneByOrFail(Notification, { id });
const events = (id: number) => harness.env.db.manager.countBy(DeliveryEvent, { notificationId: id });

describe('POST /webhooks/sendgrid', () => {
  function signed(events: unknown[], options: { timestamp?: number; key?: typeof sendGridKeys.privateKey } = {}) {
    const body = JSON.stringify(events);
    const timestamp = String(options.timestamp ?? Math.floor(Date.now() / 1000));
    const signature = sign('sha256', Buffer.from(timestamp + body), { key: options.key ?? sendGridKeys.privateKey, dsaEncoding: 'der' }).toString('base64');
    return documentedRequest(harness.api.app)
      .post('/webhooks/sendgrid')
      .set('Content-Type', 'application/json')
      .set('X-Twilio-Email-Event-Webhook-Signature', signature)
      .set('X-Twilio-Email-Event-Webhook-Timestamp', timestamp)
      .send(body);
  }

  it('applies a validly signed delivered event to the sent notification, matched by the X-Message-Id prefix', async () => {
    const id = await sentNotification('sendgrid', 'sg-msg-1');

    const response = await signed([{ event: 'delivered', sg_event_id: 'ev-1', sg_message_id: 'sg-msg-1.filter0001.123.0', timestamp: 1795500000 }]);

    expect(response.status).toBe(200);
    expect(response.body).toEqual({ received: 1, applied: 1 });
    expect(await row(id)).toMatchObject({ status: 'sent', deliveryStatus: 'delivered', deliveryStatusAt: new Date(1795500000 * 1000), deliveryError: null });
  });

  it('records a bounce with its reason, which a later delivered event does not overwrite', async () => {
    const id = await sentNotification('sendgrid', 'sg-msg-2');

    await signed([{ event: 'bounce', sg_event_id: 'ev-2', sg_message_id: 'sg-msg-2.x', reason: '550 5.1.1 mailbox unavailable' }]).expect(200);
    await signed([{ event: 'delivered', sg_event_id: 'ev-3', sg_message_id: 'sg-msg-2.x' }]).expect(200);

    expect(await row(id)).toMatchObject({ deliveryStatus: 'bounced', deliveryError: '550 5.1.1 mailbox unavailable' });
  });

  it('applies an event received twice only once', async () => {
    const id = await sentNotification('sendgrid', 'sg-msg-3');
    const event = [{ event: 'delivered', sg_event_id: 'ev-dup', sg_message_id: 'sg-msg-3.x' }];

    const [first, second] = await Promise.all([signed(event), signed(event)]);

    expect([first.body.applied, second.body.applied].sort()).toEqual([0, 1]);
    expect(await events(id)).toBe(1);
  });

  it('answers 2xx and changes nothing for an unknown message id or an event of no interest', async () => {
    const response = await signed([
      { event: 'delivered', sg_event_id: 'ev-4', sg_message_id: 'nobody-knows.x' },
      { event: 'open', sg_event_id: 'ev-5', sg_message_id: 'sg-msg-1.x' },
    ]);

    expect(response.status).toBe(200);
    expect(response.body).toEqual({ received: 1, applied: 0 });
  });

  it.each([
    ['a forged signature', { key: generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey }],
    ['a stale timestamp', { timestamp: Math.floor(Date.now() / 1000) - 3600 }],
  ])('refuses %s with 401 and changes nothing', async (_case, options) => {
    const id = await sentNotification('sendgrid', `sg-forged-${Math.random()}`);
    const messageId = (await row(id)).providerMessageId!;

    const response = await signed([{ event: 'delivered', sg_event_id: `ev-${messageId}`, sg_message_id: `${messageId}.x` }], options);

    expect(response.status).toBe(401);
    expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(response.body.type).toBe('/problems/invalid-signature');
    expect(await row(id)).toMatchObject({ deliveryStatus: null });
  });

  it('refuses a body changed after signing', async () => {
    const id = await sentNotification('sendgrid', 'sg-msg-tampered');
    const timestamp = String(Math.floor(Date.now() / 1000));
    const signature = sign('sha256', Buffer.from(`${timestamp}[]`), { key: sendGridKeys.privateKey, dsaEncoding: 'der' }).toString('base64');

    const response = await documentedRequest(harness.api.app)
      .post('/webhooks/sendgrid')
      .set('Content-Type', 'application/json')
      .set('X-Twilio-Email-Event-Webhook-Signature', signature)
      .set('X-Twilio-Email-Event-Webhook-Timestamp', timestamp)
      .send(JSON.stringify([{ event: 'delivered', sg_event_id: 'ev-t', sg_message_id: 'sg-msg-tampered.x' }]));

    expect(response.status).toBe(401);
    expect(await row(id)).toMatchObject({ deliveryStatus: null });
  });

  it('applies a signed batch over HTTP_BODY_LIMIT (100 kb), as SendGrid posts them: up to about 1,000 events or 768 kB', async () => {
    const ids = [await sentNotification('sendgrid', 'sg-batch-1'), await sentNotification('sendgrid', 'sg-batch-2')];
    // A thousand events, most of no interest here (opens, clicks), each carrying the fields SendGrid adds.
    const batch = Array.from({ length: 1000 }, (_unused, n) => ({
      email: `recipient-${n}@example.com`,
      timestamp: 1795500000 + n,
      event: n < 2 ? 'delivered' : n % 2 === 0 ? 'open' : 'click',
      sg_event_id: `ev-batch-${n}-${'x'.repeat(22)}`,
      sg_message_id: `${n < 2 ? `sg-batch-${n + 1}` : `other-${n}`}.filterdrecv-5bd6b8b7-${n}-1`,
      useragent: 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148',
      url: `https://notofine.fr/contraventions/${n}?utm_source=sendgrid&utm_medium=email&utm_campaign=rappel`,
      ip: '203.0.113.7',
      category: ['rappel', 'contravention'],
      notification_id: String(n),
    }));
    expect(Buffer.byteLength(JSON.stringify(batch))).toBeGreaterThan(300 * 1024);

    const response = await signed(batch);

    expect(response.status).toBe(200);
    expect(response.body).toEqual({ received: 2, applied: 2 });
    for (const id of ids) expect(await row(id)).toMatchObject({ deliveryStatus: 'delivered' });
  });

  it('refuses a body over HTTP_WEBHOOK_BODY_LIMIT (5 MB) with 413, before checking anything', async () => {
    const response = await signed([{ event: 'open', sg_event_id: 'ev-huge', sg_message_id: 'sg-huge.x', padding: 'x'.repeat(5 * 1024 * 1024) }]);

    expect(response.status).toBe(413);
    expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(response.body.detail).toBe(`The request body exceeds the limit of ${5 * 1024 * 1024} bytes.`);
  });

  it.each([
    ['junk after it', (signature: string) => `${signature}!!`],
    ['more base64 after its padding', (signature: string) => `${signature.replace(/=*$/, '==')}QUJD`],
    ['a space in it', (signature: string) => `${signature.slice(0, 10)} ${signature.slice(10)}`],
  ])('refuses a valid signature with %s: it must match exactly', async (_case, spoil) => {
    const id = await sentNotification('sendgrid', `sg-spoilt-${Math.random()}`);
    const messageId = (await row(id)).providerMessageId!;
    const body = JSON.stringify([{ event: 'bounce', sg_event_id: `ev-${messageId}`, sg_message_id: `${messageId}.x` }]);
    const timestamp = String(Math.floor(Date.now() / 1000));
    const signature = sign('sha256', Buffer.from(timestamp + body), { key: sendGridKeys.privateKey, dsaEncoding: 'der' }).toString('base64');

    const response = await documentedRequest(harness.api.app)
      .post('/webhooks/sendgrid')
      .set('Content-Type', 'application/json')
      .set('X-Twilio-Email-Event-Webhook-Signature', spoil(signature))
      .set('X-Twilio-Email-Event-Webhook-Timestamp', timestamp)
      .send(body);

    expect(response.status).toBe(401);
    expect(await row(id)).toMatchObject({ deliveryStatus: null });
  });

  it('refuses a request without signature headers', async () => {
    await documentedRequest(harness.api.app).post('/webhooks/sendgrid').set('Content-Type', 'application/json').send('[]').expect(401);
  });
});

describe('/webhooks/vonage', () => {
  /** Signs as Vonage does with the SHA-256 HMAC method, computed here independently. */
  function vonageSigned(params: Record<string, string>, secret = VONAGE_SECRET): Record<string, string> {
    const all = { ...params, timestamp: params.timestamp ?? String(Math.floor(Date.now() / 1000)) };
    const base = Object.entries(all)
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([key, value]) => `&${key}=${value.replace(/[&=]/g, '_')}`)
      .join('');
    return { ...all, sig: createHmac('sha256', secret).update(base).digest('hex').toUpperCase() };
  }

  /** A signed request with `suffix` after its valid `sig`. */
  const withSigSuffix = (signed: Record<string, string>, suffix: string) => ({ ...signed, sig: `${signed.sig}${suffix}` });

  it('applies a signed delivery receipt sent as a GET query', async () => {
    const id = await sentNotification('vonage', 'vonage-m-1', 'sms');

    const response = await documentedRequest(harness.api.app).get('/webhooks/vonage').query(vonageSigned({ messageId: 'vonage-m-1', status: 'delivered', 'err-code': '0', msisdn: '33612345678', 'message-timestamp': '2026-11-23 10:15:00' }));

    expect(response.status).toBe(200);
    expect(await row(id)).toMatchObject({ deliveryStatus: 'delivered', deliveryStatusAt: new Date('2026-11-23T10:15:00Z') });
  });

  it('applies a signed failed receipt posted as JSON, keeping the error code', async () => {
    const id = await sentNotification('vonage', 'vonage-m-2', 'sms');

    await documentedRequest(harness.api.app)
      .post('/webhooks/vonage')
      .send(vonageSigned({ messageId: 'vonage-m-2', status: 'failed', 'err-code': '6' }))
      .expect(200);

    expect(await row(id)).toMatchObject({ deliveryStatus: 'undelivered', deliveryError: 'failed (err-code 6)' });
  });

  it('ignores intermediate statuses', async () => {
    const id = await sentNotification('vonage', 'vonage-m-3', 'sms');

    await documentedRequest(harness.api.app).get('/webhooks/vonage').query(vonageSigned({ messageId: 'vonage-m-3', status: 'buffered' })).expect(200);

    expect(await row(id)).toMatchObject({ deliveryStatus: null });
  });

  it.each([
    ['a wrong secret', (params: Record<string, string>) => vonageSigned(params, 'not-the-secret')],
    ['no signature', (params: Record<string, string>) => params],
    ['a stale timestamp', (params: Record<string, string>) => vonageSigned({ ...params, timestamp: String(Math.floor(Date.now() / 1000) - 3600) })],
    ['a parameter changed after signing', (params: Record<string, string>) => ({ ...vonageSigned(params), status: 'delivered' })],
    ['junk after a valid signature', (params: Record<string, string>) => withSigSuffix(vonageSigned(params), 'zz')],
    ['a newline after a valid signature', (params: Record<string, string>) => withSigSuffix(vonageSigned(params), '\n')],
    ['half a hex digit pair after a valid signature', (params: Record<string, string>) => withSigSuffix(vonageSigned(params), '0')],
  ])('refuses %s with 401 and changes nothing', async (_case, make) => {
    const messageId = `vonage-bad-${Math.random()}`;
    const id = await sentNotification('vonage', messageId, 'sms');

    const response = await documentedRequest(harness.api.app).get('/webhooks/vonage').query(make({ messageId, status: 'failed' }));

    expect(response.status).toBe(401);
    expect(await row(id)).toMatchObject({ deliveryStatus: null });
  });
});

describe('POST /webhooks/twilio', () => {
  /** X-Twilio-Signature, computed here as Twilio documents it: HMAC-SHA1 of URL + sorted name/value pairs. */
  function twilioSignature(url: string, params: Record<string, string>, token = TWILIO_TOKEN): string {
    const data = url + Object.keys(params).sort().map((key) => key + params[key]).join('');
    return createHmac('sha1', token).update(data).digest('base64');
  }

  function callback(params: Record<string, string>, signature = twilioSignature(`${PUBLIC_BASE_URL}/webhooks/twilio`, params)) {
    return documentedRequest(harness.api.app).post('/webhooks/twilio').type('form').set('X-Twilio-Signature', signature).send(params);
  }

  it('applies a signed status callback for a delivered message', async () => {
    const id = await sentNotification('twilio', 'SM00000000000000000000000000000001', 'sms');

    const response = await callback({ MessageSid: 'SM00000000000000000000000000000001', MessageStatus: 'delivered', AccountSid: 'AC123' });

    expect(response.status).toBe(200);
    expect(await row(id)).toMatchObject({ deliveryStatus: 'delivered' });
  });

  it('records an undelivered message with its error code, once however many times it is posted', async () => {
    const id = await sentNotification('twilio', 'SM00000000000000000000000000000002', 'sms');
    const params = { MessageSid: 'SM00000000000000000000000000000002', MessageStatus: 'undelivered', ErrorCode: '30003' };

    await callback(params).expect(200);
    await callback(params).expect(200);

    expect(await row(id)).toMatchObject({ deliveryStatus: 'undelivered', deliveryError: 'undelivered (Twilio error 30003)' });
    expect(await events(id)).toBe(1);
  });

  it('refuses a signature made with another token, or over another URL, with 401', async () => {
    const id = await sentNotification('twilio', 'SM00000000000000000000000000000003', 'sms');
    const params = { MessageSid: 'SM00000000000000000000000000000003', MessageStatus: 'delivered' };

    await callback(params, twilioSignature(`${PUBLIC_BASE_URL}/webhooks/twilio`, params, 'other-token')).expect(401);
    await callback(params, twilioSignature('https://elsewhere.test/webhooks/twilio', params)).expect(401);
    await callback(params, '').expect(401);

    expect(await row(id)).toMatchObject({ deliveryStatus: null });
  });
});

describe('SMS replies: /webhooks/vonage/inbound and /webhooks/twilio/inbound', () => {
  function vonageSignedReply(params: Record<string, string>, secret = VONAGE_SECRET): Record<string, string> {
    const all = { ...params, timestamp: String(Math.floor(Date.now() / 1000)) };
    const base = Object.keys(all)
      .sort()
      .map((key) => `&${key}=${all[key as keyof typeof all]!.replace(/[&=]/g, '_')}`)
      .join('');
    return { ...all, sig: createHmac('sha256', secret).update(base).digest('hex') };
  }
  function twilioReply(params: Record<string, string>, url = `${PUBLIC_BASE_URL}/webhooks/twilio/inbound`) {
    const data = url + Object.keys(params).sort().map((key) => key + params[key]).join('');
    const signature = createHmac('sha1', TWILIO_TOKEN).update(data).digest('base64');
    return request(harness.api.app).post('/webhooks/twilio/inbound').type('form').set('X-Twilio-Signature', signature).send(params);
  }
  const smsOptOut = async (id: number) => (await harness.env.db.manager.findOneByOrFail(User, { id })).smsOptedOutAt;
  let phones = 0;
  const nextPhone = () => `+3361${String(2_000_000 + (phones += 1)).padStart(7, '0')}`;
  let messages = 0;
  const nextMessageId = () => `inbound-${process.pid}-${(messages += 1)}`;
  const nextSid = () => `SM${String(process.pid).padStart(8, '0')}${String((messages += 1)).padStart(24, '0')}`;

  it.each([
    ['STOP'],
    ['stop'],
    ['Stop svp'],
    ['ARRÊT'],
    ['arret'],
    ['Unsubscribe'],
    ['  STOP.'],
  ])('turns SMS off for a signed Vonage reply "%s", sent as a GET query', async (text) => {
    const phone = nextPhone();
    const user = await insertUser(harness.env.db, { phone });

    await request(harness.api.app).get('/webhooks/vonage/inbound').query(vonageSignedReply({ msisdn: phone.slice(1), to: 'NOTOFINE', messageId: nextMessageId(), text, type: 'text' })).expect(204);

    expect(await smsOptOut(user.id)).toEqual(expect.any(Date));
  });

  it('turns SMS on again for a signed START posted as JSON, for every user with that number; other replies change nothing', async () => {
    const phone = nextPhone();
    const first = await insertUser(harness.env.db, { phone, smsOptedOutAt: new Date() });
    const second = await insertUser(harness.env.db, { phone, smsOptedOutAt: new Date() });
    const other = await insertUser(harness.env.db, { phone: nextPhone(), smsOptedOutAt: new Date() });

    await request(harness.api.app).post('/webhooks/vonage/inbound').send(vonageSignedReply({ msisdn: phone.slice(1), to: 'NOTOFINE', messageId: nextMessageId(), text: 'Merci beaucoup' })).expect(204);
    const unchanged = await smsOptOut(first.id);
    await request(harness.api.app).post('/webhooks/vonage/inbound').send(vonageSignedReply({ msisdn: phone.slice(1), to: 'NOTOFINE', messageId: nextMessageId(), text: 'START' })).expect(204);

    expect(unchanged).toEqual(expect.any(Date));
    expect(await smsOptOut(first.id)).toBeNull();
    expect(await smsOptOut(second.id)).toBeNull();
    expect(await smsOptOut(other.id)).toEqual(expect.any(Date));
  });

  it.each([
    ['no signature', (params: Record<string, string>) => params],
    ['a wrong secret', (params: Record<string, string>) => vonageSignedReply(params, 'not-the-secret')],
    ['a number changed after signing', (params: Record<string, string>) => ({ ...vonageSignedReply(params), msisdn: '33600000000' })],
  ])('refuses a Vonage STOP with %s with 401, and the user keeps SMS', async (_case, make) => {
    const phone = nextPhone();
    const user = await insertUser(harness.env.db, { phone });

    const response = await request(harness.api.app).get('/webhooks/vonage/inbound').query(make({ msisdn: phone.slice(1), to: 'NOTOFINE', messageId: nextMessageId(), text: 'STOP' }));

    expect(response.status).toBe(401);
    expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(await smsOptOut(user.id)).toBeNull();
  });

  it('turns SMS off and on again on Twilio replies signed over the inbound URL, and refuses one signed over another', async () => {
    const phone = nextPhone();
    const user = await insertUser(harness.env.db, { phone });

    const forged = await twilioReply({ From: phone, To: '+33700000000', Body: 'STOP', MessageSid: nextSid() }, `${PUBLIC_BASE_URL}/webhooks/twilio`);
    const kept = await smsOptOut(user.id);
    await twilioReply({ From: phone, To: '+33700000000', Body: 'STOP', MessageSid: nextSid() }).expect(204);
    const stopped = await smsOptOut(user.id);
    await twilioReply({ From: phone, To: '+33700000000', Body: 'start', MessageSid: nextSid() }).expect(204);

    expect(forged.status).toBe(401);
    expect(kept).toBeNull();
    expect(stopped).toEqual(expect.any(Date));
    expect(await smsOptOut(user.id)).toBeNull();
  });
});

describe('Twilio signatures, as the twilio package computes them', () => {
  /** The API behind a gateway that serves it under a path and strips that path before passing requests on. */
  const PREFIXED_BASE_URL = 'https://gateway.notofine.test/notifications';
  let prefixed: ApiHarness;
  beforeAll(async () => {
    prefixed = await startApi({ TWILIO_AUTH_TOKEN: TWILIO_TOKEN, PUBLIC_BASE_URL: PREFIXED_BASE_URL });
  });
  afterAll(() => prefixed.stop());

  /** Posts a form to `path` (query string included), signed as Twilio signs it: over the public URL it called and the body's parameters. */
  function postSigned(api: ApiHarness, baseUrl: string, path: string, params: Record<string, string>) {
    const signature = twilio.getExpectedTwilioSignature(TWILIO_TOKEN, `${baseUrl}${path}`, params);
    expect(twilio.validateRequest(TWILIO_TOKEN, signature, `${baseUrl}${path}`, params)).toBe(true);
    return request(api.api.app).post(path).type('form').set('X-Twilio-Signature', signature).send(params);
  }

  const bases = [
    ['at the root of its host', () => harness, PUBLIC_BASE_URL],
    ['under a path prefix', () => prefixed, PREFIXED_BASE_URL],
  ] as const;
  const queries = [
    ['without a query string', ''],
    ['with a query string', '?tenant=fr&source=twilio%20console'],
  ] as const;
  let sids = 100;

  describe.each(bases)('with the API %s', (_where, api, baseUrl) => {
    it.each(queries)('applies a status callback %s', async (_case, query) => {
      const sid = `SM${String((sids += 1)).padStart(32, '0')}`;
      const id = await sentNotificationIn(api(), sid);

      const response = await postSigned(api(), baseUrl, `/webhooks/twilio${query}`, { MessageSid: sid, MessageStatus: 'delivered', AccountSid: 'AC123', To: '+33612345678' });

      expect(response.status).toBe(200);
      expect(await api().env.db.manager.findOneByOrFail(Notification, { id })).toMatchObject({ deliveryStatus: 'delivered' });
    });

    it.each(queries)('applies an inbound STOP %s', async (_case, query) => {
      const phone = `+3361${String(3_000_000 + (sids += 1)).padStart(7, '0')}`;
      const user = await insertUser(api().env.db, { phone });

      const response = await postSigned(api(), baseUrl, `/webhooks/twilio/inbound${query}`, { From: phone, To: '+33700000000', Body: 'STOP', MessageSid: `SM${sids}` });

      expect(response.status).toBe(204);
      expect((await api().env.db.manager.findOneByOrFail(User, { id: user.id })).smsOptedOutAt).toEqual(expect.any(Date));
    });
  });

  it('refuses a callback whose query string was changed after signing', async () => {
    const sid = `SM${String((sids += 1)).padStart(32, '0')}`;
    const id = await sentNotificationIn(harness, sid);
    const params = { MessageSid: sid, MessageStatus: 'delivered' };
    const signature = twilio.getExpectedTwilioSignature(TWILIO_TOKEN, `${PUBLIC_BASE_URL}/webhooks/twilio?tenant=fr`, params);

    const response = await request(harness.api.app).post('/webhooks/twilio?tenant=be').type('form').set('X-Twilio-Signature', signature).send(params);

    expect(response.status).toBe(401);
    expect(await row(id)).toMatchObject({ deliveryStatus: null });
  });

  it('refuses a callback signed with its query parameters counted among the body parameters', async () => {
    const sid = `SM${String((sids += 1)).padStart(32, '0')}`;
    const id = await sentNotificationIn(harness, sid);
    const params = { MessageSid: sid, MessageStatus: 'delivered' };
    const signature = twilio.getExpectedTwilioSignature(TWILIO_TOKEN, `${PUBLIC_BASE_URL}/webhooks/twilio?tenant=fr`, { ...params, tenant: 'fr' });

    const response = await request(harness.api.app).post('/webhooks/twilio?tenant=fr').type('form').set('X-Twilio-Signature', signature).send(params);

    expect(response.status).toBe(401);
    expect(await row(id)).toMatchObject({ deliveryStatus: null });
  });
});

describe('replayed SMS replies and receipts', () => {
  function vonageSignedReply(params: Record<string, string>): Record<string, string> {
    const all = { ...params, timestamp: String(Math.floor(Date.now() / 1000)) };
    const base = Object.keys(all)
      .sort()
      .map((key) => `&${key}=${all[key as keyof typeof all]!.replace(/[&=]/g, '_')}`)
      .join('');
    return { ...all, sig: createHmac('sha256', VONAGE_SECRET).update(base).digest('hex') };
  }
  /** The exact request Twilio signs, so that it can be captured and sent again as it is. */
  function twilioCapture(path: string, params: Record<string, string>) {
    const data = `${PUBLIC_BASE_URL}${path}` + Object.keys(params).sort().map((key) => key + params[key]).join('');
    const signature = createHmac('sha1', TWILIO_TOKEN).update(data).digest('base64');
    return () => request(harness.api.app).post(path).type('form').set('X-Twilio-Signature', signature).send(params);
  }
  const smsOptOut = async (id: number) => (await harness.env.db.manager.findOneByOrFail(User, { id })).smsOptedOutAt;
  let sequence = 0;
  const next = () => String((sequence += 1)).padStart(6, '0');
  const phoneOf = () => `+3362${String(3_000_000 + (sequence += 1)).padStart(7, '0')}`;

  it('ignores a captured Twilio START sent again after a later STOP: the number stays unsubscribed', async () => {
    const phone = phoneOf();
    const user = await insertUser(harness.env.db, { phone });
    const stop = twilioCapture('/webhooks/twilio/inbound', { From: phone, To: '+33700000000', Body: 'STOP', MessageSid: `SMstop${next()}` });
    const start = twilioCapture('/webhooks/twilio/inbound', { From: phone, To: '+33700000000', Body: 'START', MessageSid: `SMstart${next()}` });
    const stopAgain = twilioCapture('/webhooks/twilio/inbound', { From: phone, To: '+33700000000', Body: 'STOP', MessageSid: `SMstop${next()}` });
    await stop().expect(204);
    await start().expect(204);
    await stopAgain().expect(204);
    const stoppedAt = await smsOptOut(user.id);

    const replayed = await start();

    // 204 all the same: Twilio, or whoever replays, learns nothing, and Twilio does not retry.
    expect(replayed.status).toBe(204);
    expect(stoppedAt).toEqual(expect.any(Date));
    expect(await smsOptOut(user.id)).toEqual(stoppedAt);
  });

  it('ignores a captured Twilio STOP sent again after a later START: the number stays subscribed', async () => {
    const phone = phoneOf();
    const user = await insertUser(harness.env.db, { phone });
    const stop = twilioCapture('/webhooks/twilio/inbound', { From: phone, To: '+33700000000', Body: 'STOP', MessageSid: `SMstop${next()}` });
    await stop().expect(204);
    await twilioCapture('/webhooks/twilio/inbound', { From: phone, To: '+33700000000', Body: 'START', MessageSid: `SMstart${next()}` })().expect(204);

    await stop().expect(204);

    expect(await smsOptOut(user.id)).toBeNull();
  });

  it('ignores a signed Vonage START sent again within its five minutes, after a later STOP', async () => {
    const phone = phoneOf();
    const user = await insertUser(harness.env.db, { phone });
    const reply = (text: string) => vonageSignedReply({ msisdn: phone.slice(1), to: 'NOTOFINE', messageId: `vonage-in-${next()}`, text, type: 'text' });
    const start = reply('START');
    await request(harness.api.app).get('/webhooks/vonage/inbound').query(reply('STOP')).expect(204);
    await request(harness.api.app).get('/webhooks/vonage/inbound').query(start).expect(204);
    await request(harness.api.app).post('/webhooks/vonage/inbound').send(reply('STOP')).expect(204);

    // The same signed parameters, by GET and posted as JSON.
    await request(harness.api.app).get('/webhooks/vonage/inbound').query(start).expect(204);
    await request(harness.api.app).post('/webhooks/vonage/inbound').send(start).expect(204);

    expect(await smsOptOut(user.id)).toEqual(expect.any(Date));
  });

  it('applies two copies of one reply arriving at once only once, and keeps the message id only, not the number', async () => {
    const phone = phoneOf();
    const user = await insertUser(harness.env.db, { phone });
    const messageSid = `SMtwice${next()}`;
    const stop = twilioCapture('/webhooks/twilio/inbound', { From: phone, To: '+33700000000', Body: 'STOP', MessageSid: messageSid });

    await Promise.all([stop().expect(204), stop().expect(204)]);

    expect(await smsOptOut(user.id)).toEqual(expect.any(Date));
    expect(await harness.env.db.query('SELECT * FROM sms_replies WHERE message_id = $1', [messageSid])).toEqual([{ provider: 'twilio', message_id: messageSid, received_at: expect.any(Date) }]);
  });

  it('refuses a STOP or START without the message id of the reply with 400, and changes nothing', async () => {
    const phone = phoneOf();
    const user = await insertUser(harness.env.db, { phone });

    const response = await twilioCapture('/webhooks/twilio/inbound', { From: phone, To: '+33700000000', Body: 'STOP' })();

    expect(response.status).toBe(400);
    expect(response.body.detail).toContain('message id');
    expect(await smsOptOut(user.id)).toBeNull();
  });

  /** Everything a receipt may change, to compare before and after a replay. */
  const receiptState = async (id: number) => {
    const { deliveryStatus, deliveryStatusAt, deliveryError, updatedAt } = await row(id);
    return { deliveryStatus, deliveryStatusAt, deliveryError, updatedAt, events: await events(id) };
  };

  it('a SendGrid event replayed within its five minutes, after a later one, changes nothing', async () => {
    const id = await sentNotification('sendgrid', `sg-replay-${next()}`);
    const messageId = (await row(id)).providerMessageId!;
    const body = JSON.stringify([{ event: 'delivered', sg_event_id: `ev-replay-${next()}`, sg_message_id: `${messageId}.x`, timestamp: 1795500000 }]);
    const timestamp = String(Math.floor(Date.now() / 1000));
    const signature = sign('sha256', Buffer.from(timestamp + body), { key: sendGridKeys.privateKey, dsaEncoding: 'der' }).toString('base64');
    const delivered = () =>
      documentedRequest(harness.api.app).post('/webhooks/sendgrid').set('Content-Type', 'application/json').set('X-Twilio-Email-Event-Webhook-Signature', signature).set('X-Twilio-Email-Event-Webhook-Timestamp', timestamp).send(body);
    await delivered().expect(200, { received: 1, applied: 1 });
    const bounceBody = JSON.stringify([{ event: 'bounce', sg_event_id: `ev-replay-${next()}`, sg_message_id: `${messageId}.x`, reason: '550 mailbox unavailable' }]);
    const bounceSignature = sign('sha256', Buffer.from(timestamp + bounceBody), { key: sendGridKeys.privateKey, dsaEncoding: 'der' }).toString('base64');
    const bounced = () =>
      documentedRequest(harness.api.app).post('/webhooks/sendgrid').set('Content-Type', 'application/json').set('X-Twilio-Email-Event-Webhook-Signature', bounceSignature).set('X-Twilio-Email-Event-Webhook-Timestamp', timestamp).send(bounceBody);
    await bounced().expect(200, { received: 1, applied: 1 });
    const before = await receiptState(id);

    await delivered().expect(200, { received: 1, applied: 0 });
    await bounced().expect(200, { received: 1, applied: 0 });

    expect(before).toMatchObject({ deliveryStatus: 'bounced', events: 2 });
    expect(await receiptState(id)).toEqual(before);
  });

  it('a Twilio status callback replayed, after a later one, changes nothing', async () => {
    const sid = `SMreceipt${next()}`;
    const id = await sentNotification('twilio', sid, 'sms');
    const delivered = twilioCapture('/webhooks/twilio', { MessageSid: sid, MessageStatus: 'delivered' });
    const failed = twilioCapture('/webhooks/twilio', { MessageSid: sid, MessageStatus: 'undelivered', ErrorCode: '30003' });
    await delivered().expect(200);
    await failed().expect(200);
    const before = await receiptState(id);

    await delivered().expect(200, { received: 1, applied: 0 });
    await failed().expect(200, { received: 1, applied: 0 });

    expect(before).toMatchObject({ deliveryStatus: 'undelivered', deliveryError: 'undelivered (Twilio error 30003)', events: 2 });
    expect(await receiptState(id)).toEqual(before);
  });

  it('a signed Vonage receipt replayed within its five minutes, after a later one, changes nothing', async () => {
    const messageId = `vonage-receipt-${next()}`;
    const id = await sentNotification('vonage', messageId, 'sms');
    const delivered = vonageSignedReply({ messageId, status: 'delivered', 'message-timestamp': '2026-11-23 10:15:00' });
    const failed = vonageSignedReply({ messageId, status: 'failed', 'err-code': '6', 'message-timestamp': '2026-11-23 10:16:00' });
    await documentedRequest(harness.api.app).get('/webhooks/vonage').query(delivered).expect(200);
    await documentedRequest(harness.api.app).get('/webhooks/vonage').query(failed).expect(200);
    const before = await receiptState(id);

    await documentedRequest(harness.api.app).get('/webhooks/vonage').query(delivered).expect(200, { received: 1, applied: 0 });
    await documentedRequest(harness.api.app).post('/webhooks/vonage').send(failed).expect(200, { received: 1, applied: 0 });

    expect(before).toMatchObject({ deliveryStatus: 'undelivered', deliveryStatusAt: new Date('2026-11-23T10:16:00Z'), events: 2 });
    expect(await receiptState(id)).toEqual(before);
  });
});

describe('webhooks not configured', () => {
  let bare: ApiHarness;
  beforeAll(async () => {
    bare = await startApi();
  });
  afterAll(() => bare.stop());

  it('answers 404 for SendGrid and Twilio when their secrets are not set', async () => {
    await request(bare.api.app).post('/webhooks/sendgrid').send('[]').expect(404);
    await request(bare.api.app).post('/webhooks/twilio').type('form').send({ MessageSid: 'SM1' }).expect(404);
  });

  it('answers 404 without reading the body: a webhook that is off takes no large upload', async () => {
    const large = JSON.stringify([{ padding: 'x'.repeat(6 * 1024 * 1024) }]);

    await request(bare.api.app).post('/webhooks/sendgrid').set('Content-Type', 'application/json').send(large).expect(404);
    await request(bare.api.app).post('/webhooks/twilio/inbound').type('form').send(`Body=${'x'.repeat(6 * 1024 * 1024)}`).expect(404);
  });

  it('accepts Vonage’s unsigned receipts when no signature secret is set', async () => {
    await request(bare.api.app).get('/webhooks/vonage').query({ messageId: 'unknown', status: 'delivered' }).expect(200, { received: 1, applied: 0 });
  });

  it('refuses Vonage’s inbound SMS when no signature secret is set: an unsigned STOP changes nobody', async () => {
    const user = await insertUser(bare.env.db, { phone: '+33611112222' });

    const response = await request(bare.api.app).post('/webhooks/vonage/inbound').type('form').send({ msisdn: '33611112222', to: 'NOTOFINE', text: 'STOP' });

    expect(response.status).toBe(404);
    expect(response.body.detail).toContain('VONAGE_SIGNATURE_SECRET');
    expect((await bare.env.db.manager.findOneByOrFail(User, { id: user.id })).smsOptedOutAt).toBeNull();
  });
});
