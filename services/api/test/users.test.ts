import request from 'supertest';
import { ChannelPreference, Device, Notification, Reminder, ReminderChannel, Ticket, User } from '@notofine/db';
import { buildUserBody, insertDevice, insertReminder, insertTicket, insertUser } from '@test/factories';
import { startApi, type ApiHarness } from './api-harness';
import { expectInvalidField, expectProblem, expectSnakeCaseKeys } from './expectations';
import { MALFORMED_IDS, UNKNOWN_ID } from './fixtures';

let harness: ApiHarness;
beforeAll(async () => {
  harness = await startApi();
});
afterAll(() => harness.stop());

describe('POST /users', () => {
  it('creates a user with the defaults of locale and time zone, and a phone normalised to E.164', async () => {
    const response = await harness.client.post('/users', buildUserBody({ email: 'jean@example.com', phone: '06 12 34 56 78' }));

    expect(response.status).toBe(201);
    expect(response.headers.location).toBe(`/users/${response.body.id}`);
    expect(response.body).toMatchObject({
      full_name: 'Jean Dupont',
      email: 'jean@example.com',
      phone: '+33612345678',
      locale: 'fr',
      timezone: 'Europe/Paris',
    });
    expect(Number.isInteger(response.body.id)).toBe(true);
  });

  it('refuses a request without an API key with 401 and problem+json', async () => {
    const response = await request(harness.api.app).post('/users').send(buildUserBody());

    expect(response.status).toBe(401);
    expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(response.body).toMatchObject({ status: 401, type: '/problems/unauthorized' });
    expect(response.body.detail).toMatch(/Authorization: Bearer/);
  });

  it.each([
    ['a malformed email', { email: 'not-an-email' }, 'email'],
    ['a phone that is not a number', { phone: '12' }, 'phone'],
    ['an unknown time zone', { timezone: 'Mars/Olympus' }, 'timezone'],
    ['a locale without messages', { locale: 'de' }, 'locale'],
    ['a missing full_name', { full_name: undefined }, 'full_name'],
    ['an unknown field', { password: 'secret' }, 'password'],
  ])('refuses %s with 400 naming the field', async (_case, overrides, field) => {
    const response = await harness.client.post('/users', buildUserBody(overrides));

    expect(response.status).toBe(400);
    expect(response.body.type).toBe('/problems/validation-error');
    expect(response.body.errors).toEqual(expect.arrayContaining([expect.objectContaining({ field })]));
    expect(response.body.detail).toContain(field);
  });

  it('refuses a full_name of 200 characters plus a variation selector, which the column could not hold, with 400', async () => {
    const response = await harness.client.post('/users', buildUserBody({ full_name: `${'é'.repeat(200)}\uFE0F` }));

    expectInvalidField(response, 'full_name');
  });
});

describe('GET /users/{id}', () => {
  it('answers the user with every field in snake_case', async () => {
    const user = await insertUser(harness.env.db, { fullName: 'Marie Curie', email: 'marie@example.com', phone: '+33698765432', locale: 'fr-BE' });

    const response = await harness.client.get(`/users/${user.id}`);

    expect(response.status).toBe(200);
    expect(response.body).toEqual({
      id: user.id,
      full_name: 'Marie Curie',
      email: 'marie@example.com',
      phone: '+33698765432',
      email_verified: false,
      phone_verified: false,
      pending_verification: { email: null, phone: null },
      locale: 'fr-BE',
      timezone: 'Europe/Paris',
      quiet_hours: null,
      opted_out: { email: null, sms: null },
      created_at: user.createdAt.toISOString(),
      updated_at: user.updatedAt.toISOString(),
    });
    expectSnakeCaseKeys(response.body);
  });

  it('answers 404 for an unknown user', async () => {
    const response = await harness.client.get(`/users/${UNKNOWN_ID}`);

    expectProblem(response, 404, 'not-found');
    expect(response.body.detail).toContain(String(UNKNOWN_ID));
  });

  it('answers 401 without an API key', async () => {
    const user = await insertUser(harness.env.db);

    const response = await request(harness.api.app).get(`/users/${user.id}`);

    expectProblem(response, 401, 'unauthorized');
  });
});

describe('a malformed user id in the path', () => {
  const routes = [
    ['GET', (id: string) => harness.client.get(`/users/${id}`)],
    ['PATCH', (id: string) => harness.client.patch(`/users/${id}`, { full_name: 'Jean' })],
    ['DELETE', (id: string) => harness.client.delete(`/users/${id}`)],
    ['GET preferences', (id: string) => harness.client.get(`/users/${id}/preferences`)],
    ['PUT preferences', (id: string) => harness.client.put(`/users/${id}/preferences`, { channels: { sms: false } })],
  ] as const;

  it.each(routes.flatMap(([route, send]) => MALFORMED_IDS.map(([label, id]) => [route, label, id, send] as const)))(
    '%s with %s is refused with 400 naming path.user_id, not 500',
    async (_route, _label, id, send) => {
      const response = await send(id);

      expectInvalidField(response, 'path.user_id');
    },
  );
});

describe('PATCH /users/{id}', () => {
  it('changes the fields sent and keeps the others', async () => {
    const user = await insertUser(harness.env.db, { fullName: 'Jean Dupont', email: 'jean@example.com', phone: '+33612345678' });

    const response = await harness.client.patch(`/users/${user.id}`, { full_name: '  Jeanne Dupont ', phone: '06 98 76 54 32', locale: 'EN-gb' });

    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({ id: user.id, full_name: 'Jeanne Dupont', email: 'jean@example.com', phone: '+33698765432', locale: 'en-GB', timezone: 'Europe/Paris' });
    expectSnakeCaseKeys(response.body);
    const stored = await harness.env.db.manager.findOneByOrFail(User, { id: user.id });
    expect(stored).toMatchObject({ fullName: 'Jeanne Dupont', phone: '+33698765432', locale: 'en-GB' });
  });

  it('removes the email when it is sent as null', async () => {
    const user = await insertUser(harness.env.db, { email: 'jean@example.com' });

    const response = await harness.client.patch(`/users/${user.id}`, { email: null });

    expect(response.status).toBe(200);
    expect(response.body.email).toBeNull();
    expect((await harness.env.db.manager.findOneByOrFail(User, { id: user.id })).email).toBeNull();
  });

  it('removes the phone when it is sent as null', async () => {
    const user = await insertUser(harness.env.db, { phone: '+33612345678' });

    const response = await harness.client.patch(`/users/${user.id}`, { phone: null });

    expect(response.status).toBe(200);
    expect(response.body.phone).toBeNull();
  });

  it('refuses an empty body with 400 saying which fields may be changed, and changes nothing', async () => {
    const user = await insertUser(harness.env.db, { fullName: 'Jean Dupont' });

    const response = await harness.client.patch(`/users/${user.id}`, {});

    expectProblem(response, 400, 'validation-error');
    expect(response.body.detail).toMatch(/full_name, email, phone, locale, timezone, quiet_hours or opted_out/);
    expect((await harness.env.db.manager.findOneByOrFail(User, { id: user.id })).updatedAt).toEqual(user.updatedAt);
  });

  it.each([
    ['full_name: null, which cannot be removed', { full_name: null }, 'full_name'],
    ['a blank full_name', { full_name: '   ' }, 'full_name'],
    ['a malformed email', { email: 'jean@' }, 'email'],
    ['a phone that is not a number', { phone: '+33 1' }, 'phone'],
    ['an unknown time zone', { timezone: 'Europe/Atlantis' }, 'timezone'],
    ['locale: null', { locale: null }, 'locale'],
    ['an unknown field', { nickname: 'JD' }, 'nickname'],
  ])('refuses %s with 400 naming the field', async (_case, body, field) => {
    const user = await insertUser(harness.env.db);

    const response = await harness.client.patch(`/users/${user.id}`, body);

    expectInvalidField(response, field);
  });

  it('answers 404 for an unknown user', async () => {
    const response = await harness.client.patch(`/users/${UNKNOWN_ID}`, { full_name: 'Personne' });

    expectProblem(response, 404, 'not-found');
  });

  it('answers 401 without an API key', async () => {
    const user = await insertUser(harness.env.db);

    const response = await request(harness.api.app).patch(`/users/${user.id}`).send({ full_name: 'Intrus' });

    expectProblem(response, 401, 'unauthorized');
    expect((await harness.env.db.manager.findOneByOrFail(User, { id: user.id })).fullName).toBe(user.fullName);
  });
});

describe('DELETE /users/{id}', () => {
  it('erases the user with their devices, tickets, reminders, notifications and preferences', async () => {
    const { db } = harness.env;
    const user = await insertUser(db);
    await insertDevice(db, user.id);
    const ticket = await insertTicket(db, user.id);
    const reminder = await insertReminder(db, user.id, ['email', 'sms']);
    await harness.client.put(`/users/${user.id}/preferences`, { channels: { push: false } }).expect(200);
    await harness.client.post('/notifications/send', { user_id: user.id, message: 'Votre contravention est due', channel: 'email', ticket_id: ticket.id }).expect(202);
    const bystander = await insertUser(db);
    await insertTicket(db, bystander.id);

    const response = await harness.client.delete(`/users/${user.id}`);

    expect(response.status).toBe(204);
    expect(response.text).toBe('');
    const { manager } = db;
    expect(await manager.countBy(User, { id: user.id })).toBe(0);
    expect(await manager.countBy(Device, { userId: user.id })).toBe(0);
    expect(await manager.countBy(Ticket, { userId: user.id })).toBe(0);
    expect(await manager.countBy(Reminder, { userId: user.id })).toBe(0);
    expect(await manager.countBy(ReminderChannel, { reminderId: reminder.id })).toBe(0);
    expect(await manager.countBy(Notification, { userId: user.id })).toBe(0);
    expect(await manager.countBy(ChannelPreference, { userId: user.id })).toBe(0);
    expect(await manager.countBy(Ticket, { userId: bystander.id })).toBe(1);
    await harness.client.get(`/users/${user.id}`).expect(404);
  });

  it('answers 404 for an unknown user, and for one already erased', async () => {
    const user = await insertUser(harness.env.db);
    await harness.client.delete(`/users/${user.id}`).expect(204);

    const again = await harness.client.delete(`/users/${user.id}`);
    const unknown = await harness.client.delete(`/users/${UNKNOWN_ID}`);

    expectProblem(again, 404, 'not-found');
    expectProblem(unknown, 404, 'not-found');
  });

  it('answers 401 without an API key and erases nothing', async () => {
    const user = await insertUser(harness.env.db);

    const response = await request(harness.api.app).delete(`/users/${user.id}`);

    expectProblem(response, 401, 'unauthorized');
    expect(await harness.env.db.manager.countBy(User, { id: user.id })).toBe(1);
  });
});

describe('GET /users/{id}/preferences', () => {
  it('has every channel on for a user who never set any', async () => {
    const user = await insertUser(harness.env.db);

    const response = await harness.client.get(`/users/${user.id}/preferences`);

    expect(response.status).toBe(200);
    expect(response.body).toEqual({ user_id: user.id, channels: { email: true, sms: true, push: true } });
  });

  it('answers 404 for an unknown user', async () => {
    expectProblem(await harness.client.get(`/users/${UNKNOWN_ID}/preferences`), 404, 'not-found');
  });

  it('answers 401 without an API key', async () => {
    const user = await insertUser(harness.env.db);

    expectProblem(await request(harness.api.app).get(`/users/${user.id}/preferences`), 401, 'unauthorized');
  });
});

describe('PUT /users/{id}/preferences', () => {
  it('sets only the channels named and keeps the others as they were', async () => {
    const user = await insertUser(harness.env.db);

    const first = await harness.client.put(`/users/${user.id}/preferences`, { channels: { sms: false } });
    const second = await harness.client.put(`/users/${user.id}/preferences`, { channels: { push: false, email: true } });
    const read = await harness.client.get(`/users/${user.id}/preferences`);

    expect(first.status).toBe(200);
    expect(first.body).toEqual({ user_id: user.id, channels: { email: true, sms: false, push: true } });
    expect(second.body).toEqual({ user_id: user.id, channels: { email: true, sms: false, push: false } });
    expect(read.body).toEqual(second.body);
  });

  it('turns a channel back on', async () => {
    const user = await insertUser(harness.env.db);
    await harness.client.put(`/users/${user.id}/preferences`, { channels: { email: false } }).expect(200);

    const response = await harness.client.put(`/users/${user.id}/preferences`, { channels: { email: true } });

    expect(response.body.channels).toEqual({ email: true, sms: true, push: true });
  });

  it.each([
    ['an unknown channel', { channels: { fax: true } }, 'channels.fax'],
    ['a string instead of a boolean', { channels: { email: 'yes' } }, 'channels.email'],
    ['a number instead of a boolean', { channels: { sms: 0 } }, 'channels.sms'],
    ['null instead of a boolean', { channels: { push: null } }, 'channels.push'],
    ['no channel at all', { channels: {} }, 'channels'],
    ['a list instead of an object', { channels: ['email'] }, 'channels'],
    ['a missing channels object', {}, 'channels'],
    ['an unknown top-level field', { channels: { sms: true }, quiet_hours: '22-7' }, 'quiet_hours'],
  ])('refuses %s with 400 naming the field', async (_case, body, field) => {
    const user = await insertUser(harness.env.db);

    const response = await harness.client.put(`/users/${user.id}/preferences`, body);

    expectInvalidField(response, field);
    expect(await harness.env.db.manager.countBy(ChannelPreference, { userId: user.id })).toBe(0);
  });

  it('answers 404 for an unknown user', async () => {
    const response = await harness.client.put(`/users/${UNKNOWN_ID}/preferences`, { channels: { sms: false } });

    expectProblem(response, 404, 'not-found');
  });

  it('answers 401 without an API key', async () => {
    const user = await insertUser(harness.env.db);

    const response = await request(harness.api.app).put(`/users/${user.id}/preferences`).send({ channels: { sms: false } });

    expectProblem(response, 401, 'unauthorized');
  });
});
