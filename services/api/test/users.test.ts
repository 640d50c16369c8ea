import request from 'supertest';
import { buildUserBody } from '@test/factories';
import { startApi, type ApiHarness } from './api-harness';

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
});
