import { Reminder } from '@notofine/db';
import { buildReminderBody, insertReminder, insertTicket } from '@test/factories';
import { startApi, type ApiHarness } from './api-harness';
import { expectProblem } from './expectations';
import { insertReachableUser } from './fixtures';

// A change cannot bring a reminder to a state its creation would refuse, and what a reminder shows
// is what it will do.

const DAY_MS = 86_400_000;
let harness: ApiHarness;
beforeAll(async () => {
  harness = await startApi();
});
afterAll(() => harness.stop());

const rowOf = (id: number) => harness.env.db.manager.findOneByOrFail(Reminder, { id });

describe('a reminder about a ticket that is settled', () => {
  it.each(['paid', 'cancelled'])('cannot be switched on again once the ticket is %s: 422 ticket-settled, and it stays off', async (status) => {
    const user = await insertReachableUser(harness.env.db);
    const ticket = await insertTicket(harness.env.db, user.id);
    const { body: reminder } = await harness.client.post(`/users/${user.id}/reminders`, buildReminderBody({ ticket_id: ticket.id })).expect(201);
    await harness.client.patch(`/tickets/${ticket.id}`, { status }).expect(200);

    const response = await harness.client.patch(`/reminders/${reminder.id}`, { active: true, frequency_days: 3 });

    expectProblem(response, 422, 'ticket-settled');
    expect(response.body.errors).toEqual([{ field: 'active', message: `ticket ${ticket.id} is ${status}` }]);
    expect(await rowOf(reminder.id)).toMatchObject({ active: false, frequencyDays: 7 });
    expect((await harness.client.get(`/reminders/${reminder.id}`).expect(200)).body.active).toBe(false);
  });

  it('may be paused and switched on again while the ticket is unpaid, and changed in other ways once it is settled', async () => {
    const user = await insertReachableUser(harness.env.db);
    const ticket = await insertTicket(harness.env.db, user.id);
    const { body: reminder } = await harness.client.post(`/users/${user.id}/reminders`, buildReminderBody({ ticket_id: ticket.id })).expect(201);

    await harness.client.patch(`/reminders/${reminder.id}`, { active: false }).expect(200);
    const again = await harness.client.patch(`/reminders/${reminder.id}`, { active: true }).expect(200);
    await harness.client.patch(`/tickets/${ticket.id}`, { status: 'paid' }).expect(200);
    const changed = await harness.client.patch(`/reminders/${reminder.id}`, { message: 'Merci', active: false }).expect(200);

    expect(again.body.active).toBe(true);
    expect(changed.body).toMatchObject({ active: false, message: 'Merci' });
  });

  it('is never left on when it is switched on while its ticket is being paid', async () => {
    const user = await insertReachableUser(harness.env.db);
    for (let round = 0; round < 10; round += 1) {
      const ticket = await insertTicket(harness.env.db, user.id);
      const reminder = await insertReminder(harness.env.db, user.id, ['email'], { ticketId: ticket.id, active: false });

      const [switched] = await Promise.all([harness.client.patch(`/reminders/${reminder.id}`, { active: true }), harness.client.patch(`/tickets/${ticket.id}`, { status: 'paid' }).expect(200)]);

      expect([200, 422]).toContain(switched.status);
      expect((await rowOf(reminder.id)).active).toBe(false);
    }
  });
});

describe('a reminder past its end_at', () => {
  async function endedReminder() {
    const user = await insertReachableUser(harness.env.db);
    const { body } = await harness.client.post(`/users/${user.id}/reminders`, buildReminderBody({ end_at: new Date(Date.now() + DAY_MS).toISOString() })).expect(201);
    // Its end has come; no reminder run has switched it off yet.
    await harness.env.db.manager.update(Reminder, { id: body.id }, { endAt: new Date(Date.now() - 1000) });
    return { userId: user.id, id: body.id as number };
  }

  it('shows active: false at once, before any run switches it off, in its listing too', async () => {
    const reminder = await endedReminder();

    const shown = await harness.client.get(`/reminders/${reminder.id}`).expect(200);
    const listed = await harness.client.get(`/users/${reminder.userId}/reminders`).expect(200);

    expect(shown.body.active).toBe(false);
    expect(listed.body.reminders).toEqual([expect.objectContaining({ id: reminder.id, active: false })]);
  });

  it('cannot be switched on again without a new end: 422 reminder-ended', async () => {
    const reminder = await endedReminder();

    const response = await harness.client.patch(`/reminders/${reminder.id}`, { active: true });

    expectProblem(response, 422, 'reminder-ended');
    expect(response.body.errors).toEqual([{ field: 'active', message: expect.stringMatching(/^the reminder has ended: its end_at .+ is past$/) }]);
    expect(response.body.detail).toContain('give it a new end_at in the future, or null');
  });

  it.each([
    ['a new end in the future', { end_at: new Date(Date.now() + 7 * DAY_MS).toISOString() }],
    ['no end', { end_at: null }],
  ])('is switched on again with %s', async (_case, end) => {
    const reminder = await endedReminder();

    const response = await harness.client.patch(`/reminders/${reminder.id}`, { active: true, ...end }).expect(200);

    expect(response.body.active).toBe(true);
    expect((await rowOf(reminder.id)).active).toBe(true);
  });

  it('stays off when it is changed in other ways, a new end included: switching it on takes "active": true', async () => {
    const reminder = await endedReminder();

    const changed = await harness.client.patch(`/reminders/${reminder.id}`, { frequency_days: 14 }).expect(200);
    const extended = await harness.client.patch(`/reminders/${reminder.id}`, { end_at: new Date(Date.now() + 7 * DAY_MS).toISOString() }).expect(200);

    expect(changed.body).toMatchObject({ active: false, frequency_days: 14 });
    expect(extended.body.active).toBe(false);
    expect((await rowOf(reminder.id)).active).toBe(false);
  });
});
