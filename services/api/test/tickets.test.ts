import request from 'supertest';
import { Ticket } from '@notofine/db';
import { buildTicketBody, insertTicket, insertUser } from '@test/factories';
import { startApi, type ApiHarness } from './api-harness';
import { expectInvalidField, expectProblem, expectSnakeCaseKeys } from './expectations';
import { MALFORMED_IDS, UNKNOWN_ID } from './fixtures';

let harness: ApiHarness;
beforeAll(async () => {
  harness = await startApi();
});
afterAll(() => harness.stop());

describe('POST /users/{id}/tickets', () => {
  it('records an unpaid ticket with 201', async () => {
    const user = await insertUser(harness.env.db);

    const response = await harness.client.post(`/users/${user.id}/tickets`, buildTicketBody({ reference: 'ABC123', amount_cents: 13500, due_date: '2026-12-15' }));

    expect(response.status).toBe(201);
    expect(response.headers.location).toBe(`/tickets/${response.body.id}`);
    expect(response.body).toEqual({
      id: expect.any(Number),
      user_id: user.id,
      reference: 'ABC123',
      amount_cents: 13500,
      due_date: '2026-12-15',
      status: 'unpaid',
      created_at: expect.any(String),
      updated_at: expect.any(String),
    });
    expectSnakeCaseKeys(response.body);
    expect(await harness.env.db.manager.findOneByOrFail(Ticket, { id: response.body.id })).toMatchObject({ userId: user.id, reference: 'ABC123', amountCents: 13500, dueDate: '2026-12-15' });
  });

  it('records a ticket with the status given', async () => {
    const user = await insertUser(harness.env.db);

    const response = await harness.client.post(`/users/${user.id}/tickets`, buildTicketBody({ status: 'paid' }));

    expect(response.status).toBe(201);
    expect(response.body.status).toBe('paid');
  });

  it('refuses a second ticket with the same reference for the same user with 409', async () => {
    const user = await insertUser(harness.env.db);
    await harness.client.post(`/users/${user.id}/tickets`, buildTicketBody({ reference: 'DUP001' })).expect(201);

    const response = await harness.client.post(`/users/${user.id}/tickets`, buildTicketBody({ reference: 'DUP001' }));

    expectProblem(response, 409, 'conflict');
    expect(response.body.detail).toContain('DUP001');
    expect(await harness.env.db.manager.countBy(Ticket, { userId: user.id })).toBe(1);
  });

  it('accepts the same reference for two different users', async () => {
    const first = await insertUser(harness.env.db);
    const second = await insertUser(harness.env.db);
    await harness.client.post(`/users/${first.id}/tickets`, buildTicketBody({ reference: 'SHARED1' })).expect(201);

    const response = await harness.client.post(`/users/${second.id}/tickets`, buildTicketBody({ reference: 'SHARED1' }));

    expect(response.status).toBe(201);
  });

  it.each([
    ['a negative amount', { amount_cents: -1 }, 'amount_cents'],
    ['an amount that is not a whole number of cents', { amount_cents: 135.5 }, 'amount_cents'],
    ['an amount written as a string', { amount_cents: '13500' }, 'amount_cents'],
    ['an amount over the limit', { amount_cents: 100_000_001 }, 'amount_cents'],
    ['a missing amount', { amount_cents: undefined }, 'amount_cents'],
    ['a day that does not exist (February 30th)', { due_date: '2026-02-30' }, 'due_date'],
    ['a date written day first', { due_date: '15/12/2026' }, 'due_date'],
    ['a date with a time', { due_date: '2026-12-15T10:00:00Z' }, 'due_date'],
    ['year 0000, which PostgreSQL does not have', { due_date: '0000-01-01' }, 'due_date'],
    ['a missing due date', { due_date: undefined }, 'due_date'],
    ['a blank reference', { reference: '  ' }, 'reference'],
    ['a reference with a trailing space', { reference: 'ABC123 ' }, 'reference'],
    ['a reference of 65 characters', { reference: 'R'.repeat(65) }, 'reference'],
    ['a reference of 64 characters plus a variation selector', { reference: `${'R'.repeat(64)}\uFE0F` }, 'reference'],
    ['a status outside unpaid, paid and cancelled', { status: 'overdue' }, 'status'],
    ['status: null', { status: null }, 'status'],
    ['an unknown field', { currency: 'EUR' }, 'currency'],
  ])('refuses %s with 400 naming the field', async (_case, overrides, field) => {
    const user = await insertUser(harness.env.db);

    const response = await harness.client.post(`/users/${user.id}/tickets`, buildTicketBody(overrides));

    expectInvalidField(response, field);
    expect(await harness.env.db.manager.countBy(Ticket, { userId: user.id })).toBe(0);
  });

  it('answers 404 for an unknown user', async () => {
    const response = await harness.client.post(`/users/${UNKNOWN_ID}/tickets`, buildTicketBody());

    expectProblem(response, 404, 'not-found');
    expect(response.body.detail).toContain(String(UNKNOWN_ID));
  });

  it.each(MALFORMED_IDS)('refuses %s as user id with 400', async (_label, id) => {
    expectInvalidField(await harness.client.post(`/users/${id}/tickets`, buildTicketBody()), 'path.user_id');
  });

  it('answers 401 without an API key', async () => {
    const user = await insertUser(harness.env.db);

    const response = await request(harness.api.app).post(`/users/${user.id}/tickets`).send(buildTicketBody());

    expectProblem(response, 401, 'unauthorized');
  });
});

describe('GET /users/{id}/tickets', () => {
  it("lists the user's tickets, earliest due first", async () => {
    const user = await insertUser(harness.env.db);
    const later = await insertTicket(harness.env.db, user.id, { dueDate: '2027-03-01' });
    const sooner = await insertTicket(harness.env.db, user.id, { dueDate: '2026-12-01', status: 'paid' });
    await insertTicket(harness.env.db, (await insertUser(harness.env.db)).id);

    const response = await harness.client.get(`/users/${user.id}/tickets`);

    expect(response.status).toBe(200);
    expect(response.body.tickets.map((t: { id: number }) => t.id)).toEqual([sooner.id, later.id]);
    expect(response.body.tickets[0]).toMatchObject({ id: sooner.id, user_id: user.id, reference: sooner.reference, due_date: '2026-12-01', status: 'paid' });
    expectSnakeCaseKeys(response.body);
  });

  it('filters by status', async () => {
    const user = await insertUser(harness.env.db);
    const unpaid = await insertTicket(harness.env.db, user.id);
    const paid = await insertTicket(harness.env.db, user.id, { status: 'paid' });
    const cancelled = await insertTicket(harness.env.db, user.id, { status: 'cancelled' });

    const unpaidOnes = await harness.client.get(`/users/${user.id}/tickets?status=unpaid`);
    const paidOnes = await harness.client.get(`/users/${user.id}/tickets?status=paid`);
    const cancelledOnes = await harness.client.get(`/users/${user.id}/tickets?status=cancelled`);

    expect(unpaidOnes.body.tickets.map((t: { id: number }) => t.id)).toEqual([unpaid.id]);
    expect(paidOnes.body.tickets.map((t: { id: number }) => t.id)).toEqual([paid.id]);
    expect(cancelledOnes.body.tickets.map((t: { id: number }) => t.id)).toEqual([cancelled.id]);
  });

  it.each([
    ['an unknown status', '?status=overdue'],
    ['a status given twice', '?status=paid&status=unpaid'],
  ])('refuses %s with 400 naming query.status', async (_case, query) => {
    const user = await insertUser(harness.env.db);

    expectInvalidField(await harness.client.get(`/users/${user.id}/tickets${query}`), 'query.status');
  });

  it('answers 404 for an unknown user', async () => {
    expectProblem(await harness.client.get(`/users/${UNKNOWN_ID}/tickets`), 404, 'not-found');
  });

  it('answers 401 without an API key', async () => {
    const user = await insertUser(harness.env.db);

    expectProblem(await request(harness.api.app).get(`/users/${user.id}/tickets`), 401, 'unauthorized');
  });
});

describe('GET /tickets/{id}', () => {
  it('answers the ticket', async () => {
    const user = await insertUser(harness.env.db);
    const ticket = await insertTicket(harness.env.db, user.id, { reference: 'GET001', amountCents: 9000, dueDate: '2027-01-31' });

    const response = await harness.client.get(`/tickets/${ticket.id}`);

    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({ id: ticket.id, user_id: user.id, reference: 'GET001', amount_cents: 9000, due_date: '2027-01-31', status: 'unpaid' });
    expectSnakeCaseKeys(response.body);
  });

  it('answers 404 for an unknown ticket', async () => {
    expectProblem(await harness.client.get(`/tickets/${UNKNOWN_ID}`), 404, 'not-found');
  });

  it.each(MALFORMED_IDS)('refuses %s as ticket id with 400 naming path.ticket_id', async (_label, id) => {
    expectInvalidField(await harness.client.get(`/tickets/${id}`), 'path.ticket_id');
  });

  it('answers 401 without an API key', async () => {
    const ticket = await insertTicket(harness.env.db, (await insertUser(harness.env.db)).id);

    expectProblem(await request(harness.api.app).get(`/tickets/${ticket.id}`), 401, 'unauthorized');
  });
});

describe('PATCH /tickets/{id}', () => {
  it('marks a ticket paid', async () => {
    const ticket = await insertTicket(harness.env.db, (await insertUser(harness.env.db)).id);

    const response = await harness.client.patch(`/tickets/${ticket.id}`, { status: 'paid' });

    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({ id: ticket.id, status: 'paid', reference: ticket.reference, amount_cents: ticket.amountCents, due_date: ticket.dueDate });
    expect((await harness.env.db.manager.findOneByOrFail(Ticket, { id: ticket.id })).status).toBe('paid');
  });

  it('changes the amount and the due date, keeping the status', async () => {
    const ticket = await insertTicket(harness.env.db, (await insertUser(harness.env.db)).id);

    const response = await harness.client.patch(`/tickets/${ticket.id}`, { amount_cents: 37500, due_date: '2027-02-28' });

    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({ amount_cents: 37500, due_date: '2027-02-28', status: 'unpaid' });
  });

  it("refuses a reference another of the user's tickets already has with 409", async () => {
    const user = await insertUser(harness.env.db);
    const taken = await insertTicket(harness.env.db, user.id);
    const ticket = await insertTicket(harness.env.db, user.id);

    const response = await harness.client.patch(`/tickets/${ticket.id}`, { reference: taken.reference });

    expectProblem(response, 409, 'conflict');
    expect((await harness.env.db.manager.findOneByOrFail(Ticket, { id: ticket.id })).reference).toBe(ticket.reference);
  });

  it('refuses an empty body with 400, changing nothing', async () => {
    const ticket = await insertTicket(harness.env.db, (await insertUser(harness.env.db)).id);

    const response = await harness.client.patch(`/tickets/${ticket.id}`, {});

    expectProblem(response, 400, 'validation-error');
    expect(response.body.detail).toMatch(/reference, amount_cents, due_date or status/);
  });

  it.each([
    ['an unknown status', { status: 'refunded' }, 'status'],
    ['status: null', { status: null }, 'status'],
    ['a negative amount', { amount_cents: -500 }, 'amount_cents'],
    ['a decimal amount', { amount_cents: 10.5 }, 'amount_cents'],
    ['an impossible date', { due_date: '2026-02-30' }, 'due_date'],
    ['a day-first date', { due_date: '15/12/2026' }, 'due_date'],
    ['an unknown field', { paid_at: '2026-11-01' }, 'paid_at'],
  ])('refuses %s with 400 naming the field', async (_case, body, field) => {
    const ticket = await insertTicket(harness.env.db, (await insertUser(harness.env.db)).id);

    const response = await harness.client.patch(`/tickets/${ticket.id}`, body);

    expectInvalidField(response, field);
    expect((await harness.env.db.manager.findOneByOrFail(Ticket, { id: ticket.id })).status).toBe('unpaid');
  });

  it('answers 404 for an unknown ticket', async () => {
    expectProblem(await harness.client.patch(`/tickets/${UNKNOWN_ID}`, { status: 'paid' }), 404, 'not-found');
  });

  it('answers 401 without an API key and leaves the ticket unpaid', async () => {
    const ticket = await insertTicket(harness.env.db, (await insertUser(harness.env.db)).id);

    const response = await request(harness.api.app).patch(`/tickets/${ticket.id}`).send({ status: 'paid' });

    expectProblem(response, 401, 'unauthorized');
    expect((await harness.env.db.manager.findOneByOrFail(Ticket, { id: ticket.id })).status).toBe('unpaid');
  });
});
