import { TICKET_STATUSES } from '@notofine/db';
import { apiKey, DATE_TIME, enumeration, ID, json, LOCATION, problem, record, ref, type ApiDomain } from '../docs/operation';
import { CreateTicketBody, UpdateTicketBody } from './dto';

/** The tickets routes (routes.ts) as the OpenAPI document shows them. */
export const ticketApi: ApiDomain = {
  tag: { name: 'Tickets', description: 'Traffic fines: what reminders and notices speak of.' },
  schemas: {
    Ticket: record({
      id: ID,
      user_id: ID,
      reference: { type: 'string' },
      amount_cents: { type: 'integer', minimum: 0 },
      due_date: { type: 'string', format: 'date' },
      status: enumeration(TICKET_STATUSES),
      created_at: DATE_TIME,
      updated_at: DATE_TIME,
    }),
    TicketList: record({ tickets: { type: 'array', items: ref('Ticket') } }),
  },
  operations: [
    {
      method: 'post',
      path: '/users/:userId/tickets',
      summary: 'Record a ticket',
      access: apiKey('admin'),
      body: { dto: CreateTicketBody },
      responses: {
        201: json('The ticket.', ref('Ticket'), LOCATION),
        404: problem('No such user.'),
        409: problem('The user already has a ticket with this reference.'),
      },
    },
    {
      method: 'get',
      path: '/users/:userId/tickets',
      summary: 'List a user\'s tickets',
      description: 'By due date.',
      access: apiKey('admin', 'self'),
      query: { status: { description: 'Only the tickets of this status.', schema: enumeration(TICKET_STATUSES) } },
      responses: { 200: json('The tickets.', ref('TicketList')), 404: problem('No such user (or another user\'s, for a user token).') },
    },
    {
      method: 'get',
      path: '/tickets/:ticketId',
      summary: 'Read a ticket',
      access: apiKey('admin', 'owned'),
      responses: { 200: json('The ticket.', ref('Ticket')), 404: problem('No such ticket (or another user\'s, for a user token).') },
    },
    {
      method: 'patch',
      path: '/tickets/:ticketId',
      summary: 'Change a ticket',
      description: 'Marking it `paid` or `cancelled` switches off its reminders and cancels what was still pending about it (critical notices excepted).',
      access: apiKey('admin'),
      body: { dto: UpdateTicketBody },
      responses: {
        200: json('The ticket as changed.', ref('Ticket')),
        404: problem('No such ticket.'),
        409: problem('The user already has a ticket with this reference.'),
      },
    },
  ],
};
