import { insertUser } from '@test/factories';
import { startApi, type ApiHarness } from './api-harness';
import { expectInvalidField } from './expectations';

let harness: ApiHarness;
beforeAll(async () => {
  harness = await startApi({ DEFAULT_QUIET_HOURS: '21:00-08:00' });
});
afterAll(() => harness.stop());

const userBody = (overrides: Record<string, unknown> = {}) => ({ full_name: 'Nuit Calme', email: 'nuit@example.com', ...overrides });

describe('quiet hours of a user', () => {
  it('gives a new user DEFAULT_QUIET_HOURS, keeps a window of their own, and none when sent null', async () => {
    const byDefault = await harness.client.post('/users', userBody()).expect(201);
    const own = await harness.client.post('/users', userBody({ quiet_hours: { start: '13:00', end: '15:30', email: true } })).expect(201);
    const none = await harness.client.post('/users', userBody({ quiet_hours: null })).expect(201);

    expect(byDefault.body.quiet_hours).toEqual({ start: '21:00', end: '08:00', email: false });
    expect(own.body.quiet_hours).toEqual({ start: '13:00', end: '15:30', email: true });
    expect(none.body.quiet_hours).toBeNull();
  });

  it('changes the window with PATCH, removes it with null, and keeps it when the body does not name it', async () => {
    const { body: user } = await harness.client.post('/users', userBody()).expect(201);

    const changed = await harness.client.patch(`/users/${user.id}`, { quiet_hours: { start: '22:30', end: '07:00' } }).expect(200);
    const kept = await harness.client.patch(`/users/${user.id}`, { full_name: 'Nuit Longue' }).expect(200);
    const removed = await harness.client.patch(`/users/${user.id}`, { quiet_hours: null }).expect(200);

    expect(changed.body.quiet_hours).toEqual({ start: '22:30', end: '07:00', email: false });
    expect(kept.body.quiet_hours).toEqual({ start: '22:30', end: '07:00', email: false });
    expect(removed.body.quiet_hours).toBeNull();
  });

  it.each([
    ['an hour past 23', { start: '24:00', end: '08:00' }, 'quiet_hours.start'],
    ['a time without its leading zero', { start: '21:00', end: '8:00' }, 'quiet_hours.end'],
    ['a time with seconds', { start: '21:00:00', end: '08:00' }, 'quiet_hours.start'],
    ['no end', { start: '21:00' }, 'quiet_hours.end'],
    ['email as a string', { start: '21:00', end: '08:00', email: 'yes' }, 'quiet_hours.email'],
    ['an unknown key', { start: '21:00', end: '08:00', sms: true }, 'quiet_hours.sms'],
    ['a window of no length', { start: '22:00', end: '22:00' }, 'quiet_hours.end'],
    ['a text instead of a window', '21:00-08:00', 'quiet_hours'],
  ])('refuses %s with 400 naming the field, and changes nothing', async (_case, quiet, field) => {
    const user = await insertUser(harness.env.db, { quietHoursStart: '21:00', quietHoursEnd: '08:00' });

    const created = await harness.client.post('/users', userBody({ quiet_hours: quiet }));
    const patched = await harness.client.patch(`/users/${user.id}`, { quiet_hours: quiet });

    expectInvalidField(created, field);
    expectInvalidField(patched, field);
    expect((await harness.client.get(`/users/${user.id}`).expect(200)).body.quiet_hours).toEqual({ start: '21:00', end: '08:00', email: false });
  });

  it('says what to send for no quiet hours when the window has no length', async () => {
    const response = await harness.client.post('/users', userBody({ quiet_hours: { start: '22:00', end: '22:00' } })).expect(400);

    expect(response.body.errors).toEqual([{ field: 'quiet_hours.end', message: 'must differ from start: send "quiet_hours": null for no quiet hours' }]);
  });
});
