import request from 'supertest';
import { DEVELOPMENT_PUSH_TOKEN_KEY } from '@notofine/config';
import { Device, LIMITS, PushTokenCipher, pushTokenHash } from '@notofine/db';
import { insertDevice, insertUser } from '@test/factories';
import { startApi, type ApiHarness } from './api-harness';
import { expectInvalidField, expectProblem, expectSnakeCaseKeys } from './expectations';
import { MALFORMED_IDS, UNKNOWN_ID } from './fixtures';

let harness: ApiHarness;
beforeAll(async () => {
  harness = await startApi();
});
afterAll(() => harness.stop());

let tokenSequence = 0;
/** A registration token shaped like FCM's: long, URL-safe, with a colon. */
const fcmToken = (): string => `dGVzdC10b2tlbi0${++tokenSequence}:APA91b${'Hk3xQ9zR'.repeat(18)}`;

describe('POST /users/{id}/devices', () => {
  it('registers a push token with 201 and shows only the end of it', async () => {
    const user = await insertUser(harness.env.db);
    const token = fcmToken();

    const response = await harness.client.post(`/users/${user.id}/devices`, { token, platform: 'android' });

    expect(response.status).toBe(201);
    expect(response.headers.location).toBe(`/users/${user.id}/devices/${response.body.id}`);
    expect(response.body).toEqual({
      id: expect.any(Number),
      user_id: user.id,
      platform: 'android',
      token_preview: `…${token.slice(-6)}`,
      active: true,
      created_at: expect.any(String),
      last_seen_at: expect.any(String),
      disabled_at: null,
    });
    expectSnakeCaseKeys(response.body);
    expect(response.text).not.toContain(token);
    expect(JSON.stringify(response.headers)).not.toContain(token);
    const stored = await harness.env.db.manager.findOneByOrFail(Device, { id: response.body.id });
    expect(stored).toMatchObject({ userId: user.id, tokenHash: pushTokenHash(token), tokenKeyId: 'dev', disabledAt: null });
    // Encrypted at rest: the row holds no part of the token beyond its preview.
    const row: unknown[] = await harness.env.db.query(`SELECT * FROM devices WHERE id = $1`, [stored.id]);
    expect(JSON.stringify(row)).not.toContain(token.slice(0, 20));
    expect(new PushTokenCipher([DEVELOPMENT_PUSH_TOKEN_KEY]).open({ hash: stored.tokenHash, ciphertext: stored.tokenCiphertext!, keyId: 'dev' })).toBe(token);
  });

  it('does not echo a short token whole in its preview', async () => {
    const user = await insertUser(harness.env.db);

    const response = await harness.client.post(`/users/${user.id}/devices`, { token: 'abc123', platform: 'web' });

    expect(response.status).toBe(201);
    expect(response.text).not.toContain('abc123');
  });

  it('answers 200 with the same device when the user registers the same token again', async () => {
    const user = await insertUser(harness.env.db);
    const token = fcmToken();
    const first = await harness.client.post(`/users/${user.id}/devices`, { token, platform: 'android' });

    const again = await harness.client.post(`/users/${user.id}/devices`, { token, platform: 'android' });

    expect(again.status).toBe(200);
    expect(again.body.id).toBe(first.body.id);
    expect(new Date(again.body.last_seen_at).getTime()).toBeGreaterThanOrEqual(new Date(first.body.last_seen_at).getTime());
    expect(await harness.env.db.manager.countBy(Device, { tokenHash: pushTokenHash(token) })).toBe(1);
  });

  it('moves a token registered by another user to the new one (the latest sign-in wins)', async () => {
    const previousOwner = await insertUser(harness.env.db);
    const newOwner = await insertUser(harness.env.db);
    const device = await insertDevice(harness.env.db, previousOwner.id, { platform: 'android' });

    const response = await harness.client.post(`/users/${newOwner.id}/devices`, { token: device.token, platform: 'ios' });

    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({ id: device.id, user_id: newOwner.id, platform: 'ios', active: true });
    expect((await harness.client.get(`/users/${previousOwner.id}/devices`)).body.devices).toEqual([]);
  });

  it('re-enables a token that had been disabled', async () => {
    const user = await insertUser(harness.env.db);
    const device = await insertDevice(harness.env.db, user.id, { disabledAt: new Date('2026-01-01T00:00:00Z') });

    const response = await harness.client.post(`/users/${user.id}/devices`, { token: device.token, platform: 'android' });

    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({ id: device.id, active: true, disabled_at: null });
    expect((await harness.env.db.manager.findOneByOrFail(Device, { id: device.id })).disabledAt).toBeNull();
  });

  it.each([
    ['a platform outside android, ios and web', { platform: 'windows' }, 'platform'],
    ['a missing platform', { platform: undefined }, 'platform'],
    ['a missing token', { token: undefined }, 'token'],
    ['a token that is not a string', { token: 12345 }, 'token'],
    ['a token with spaces', { token: 'abc def' }, 'token'],
    ['an empty token', { token: '' }, 'token'],
    ['a token with non-ASCII characters', { token: `jeton-${'é'.repeat(40)}` }, 'token'],
    ['a token too long for the unique index', { token: 'x'.repeat(2049) }, 'token'],
    ['an unknown field', { app_version: '1.2.3' }, 'app_version'],
  ])('refuses %s with 400 naming the field', async (_case, overrides, field) => {
    const user = await insertUser(harness.env.db);

    const response = await harness.client.post(`/users/${user.id}/devices`, { token: fcmToken(), platform: 'android', ...overrides });

    expectInvalidField(response, field);
    expect(await harness.env.db.manager.countBy(Device, { userId: user.id })).toBe(0);
  });

  it(`keeps at most ${LIMITS.devicesPerUser} devices a user: a new one pushes out the one seen least recently`, async () => {
    const user = await insertUser(harness.env.db);
    const other = await insertUser(harness.env.db);
    const theirs = await insertDevice(harness.env.db, other.id);
    const ids: number[] = [];
    for (let i = 0; i < LIMITS.devicesPerUser; i++) ids.push((await harness.client.post(`/users/${user.id}/devices`, { token: fcmToken(), platform: 'android' }).expect(201)).body.id);
    // The first one was seen again since: the second is now the least recently seen.
    await harness.env.db.query(`UPDATE devices SET last_seen_at = now() + interval '1 minute' WHERE id = $1`, [ids[0]]);

    const newest = await harness.client.post(`/users/${user.id}/devices`, { token: fcmToken(), platform: 'ios' }).expect(201);

    const { body } = await harness.client.get(`/users/${user.id}/devices`).expect(200);
    const kept = (body.devices as Array<{ id: number }>).map((device) => device.id);
    expect(kept).toHaveLength(LIMITS.devicesPerUser);
    expect(kept).toEqual(expect.arrayContaining([ids[0], newest.body.id]));
    expect(kept).not.toContain(ids[1]);
    expect(await harness.env.db.manager.countBy(Device, { id: theirs.id })).toBe(1);
  });

  it('answers 404 for an unknown user', async () => {
    const response = await harness.client.post(`/users/${UNKNOWN_ID}/devices`, { token: fcmToken(), platform: 'android' });

    expectProblem(response, 404, 'not-found');
  });

  it('answers 401 without an API key', async () => {
    const user = await insertUser(harness.env.db);

    const response = await request(harness.api.app).post(`/users/${user.id}/devices`).send({ token: fcmToken(), platform: 'android' });

    expectProblem(response, 401, 'unauthorized');
    expect(await harness.env.db.manager.countBy(Device, { userId: user.id })).toBe(0);
  });
});

describe('GET /users/{id}/devices', () => {
  it("lists the user's devices, disabled ones included, and never their tokens", async () => {
    const user = await insertUser(harness.env.db);
    const other = await insertUser(harness.env.db);
    const phone = await insertDevice(harness.env.db, user.id, { platform: 'ios' });
    const browser = await insertDevice(harness.env.db, user.id, { platform: 'web', disabledAt: new Date() });
    const othersDevice = await insertDevice(harness.env.db, other.id);

    const response = await harness.client.get(`/users/${user.id}/devices`);

    expect(response.status).toBe(200);
    expect(response.body.devices.map((d: { id: number }) => d.id)).toEqual([phone.id, browser.id]);
    expect(response.body.devices).toEqual([
      expect.objectContaining({ id: phone.id, user_id: user.id, platform: 'ios', active: true, disabled_at: null }),
      expect.objectContaining({ id: browser.id, user_id: user.id, platform: 'web', active: false, disabled_at: expect.any(String) }),
    ]);
    expectSnakeCaseKeys(response.body);
    for (const token of [phone.token, browser.token, othersDevice.token]) expect(response.text).not.toContain(token);
  });

  it('answers an empty list for a user without devices', async () => {
    const user = await insertUser(harness.env.db);

    const response = await harness.client.get(`/users/${user.id}/devices`);

    expect(response.status).toBe(200);
    expect(response.body).toEqual({ devices: [] });
  });

  it('answers 404 for an unknown user', async () => {
    expectProblem(await harness.client.get(`/users/${UNKNOWN_ID}/devices`), 404, 'not-found');
  });

  it('answers 401 without an API key', async () => {
    const user = await insertUser(harness.env.db);

    expectProblem(await request(harness.api.app).get(`/users/${user.id}/devices`), 401, 'unauthorized');
  });

  it.each(MALFORMED_IDS)('refuses %s as user id with 400', async (_label, id) => {
    expectInvalidField(await harness.client.get(`/users/${id}/devices`), 'path.user_id');
  });
});

describe('DELETE /users/{id}/devices/{device_id}', () => {
  it('unregisters the device with 204', async () => {
    const user = await insertUser(harness.env.db);
    const device = await insertDevice(harness.env.db, user.id);

    const response = await harness.client.delete(`/users/${user.id}/devices/${device.id}`);

    expect(response.status).toBe(204);
    expect(response.text).toBe('');
    expect(await harness.env.db.manager.countBy(Device, { id: device.id })).toBe(0);
  });

  it("answers 404 for another user's device and leaves it alone", async () => {
    const owner = await insertUser(harness.env.db);
    const stranger = await insertUser(harness.env.db);
    const device = await insertDevice(harness.env.db, owner.id);

    const response = await harness.client.delete(`/users/${stranger.id}/devices/${device.id}`);

    expectProblem(response, 404, 'not-found');
    expect(await harness.env.db.manager.countBy(Device, { id: device.id })).toBe(1);
  });

  it('answers 404 for an unknown device, and for one already unregistered', async () => {
    const user = await insertUser(harness.env.db);
    const device = await insertDevice(harness.env.db, user.id);
    await harness.client.delete(`/users/${user.id}/devices/${device.id}`).expect(204);

    expectProblem(await harness.client.delete(`/users/${user.id}/devices/${device.id}`), 404, 'not-found');
    expectProblem(await harness.client.delete(`/users/${user.id}/devices/${UNKNOWN_ID}`), 404, 'not-found');
  });

  it.each(MALFORMED_IDS)('refuses %s as device id with 400 naming path.device_id', async (_label, id) => {
    const user = await insertUser(harness.env.db);

    expectInvalidField(await harness.client.delete(`/users/${user.id}/devices/${id}`), 'path.device_id');
  });

  it('answers 401 without an API key and keeps the device', async () => {
    const user = await insertUser(harness.env.db);
    const device = await insertDevice(harness.env.db, user.id);

    const response = await request(harness.api.app).delete(`/users/${user.id}/devices/${device.id}`);

    expectProblem(response, 401, 'unauthorized');
    expect(await harness.env.db.manager.countBy(Device, { id: device.id })).toBe(1);
  });
});
