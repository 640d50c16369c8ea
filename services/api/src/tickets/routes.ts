import { TICKET_STATUSES, type Ticket } from '@notofine/db';
import { Router } from 'express';
import { allow, ownerOf } from '../api-keys/authenticate';
import type { ApiDeps } from '../deps';
import { answerOnce } from '../http/idempotency';
import { parseEnumQuery } from '../http/query-parameters';
import { parseBody, parseId } from '../http/validation';
import { CreateTicketBody, UpdateTicketBody } from './dto';
import { ticketJson } from './json';
import { createTicket, getTicket, listTickets, updateTicket } from './use-cases';

export function ticketRoutes({ dataSource }: ApiDeps): Router {
  const router = Router();
  const admin = allow('admin');
  // A user token reads its own user's tickets; creating and changing them is the backend's.
  const adminOrSelf = allow('admin', 'self');
  const adminOrOwner = allow('admin', 'owned');
  const { manager } = dataSource;

  router.post('/users/:userId/tickets', admin, async (req, res) => {
    const userId = parseId(req.params.userId, 'user_id');
    const body = await parseBody(CreateTicketBody, req.body);
    const reply = answerOnce(req, res, (ticket: Ticket) => ({ status: 201, location: `/tickets/${ticket.id}`, body: ticketJson(ticket) }));
    reply.send(await createTicket(manager, userId, body, reply.idempotency));
  });

  router.get('/users/:userId/tickets', adminOrSelf, async (req, res) => {
    const userId = parseId(req.params.userId, 'user_id');
    const tickets = await listTickets(manager, userId, parseEnumQuery(req.query.status, 'status', TICKET_STATUSES));
    res.json({ tickets: tickets.map(ticketJson) });
  });

  router.get('/tickets/:ticketId', adminOrOwner, async (req, res) => {
    res.json(ticketJson(await getTicket(manager, parseId(req.params.ticketId, 'ticket_id'), ownerOf(res))));
  });

  router.patch('/tickets/:ticketId', admin, async (req, res) => {
    const ticketId = parseId(req.params.ticketId, 'ticket_id');
    const body = await parseBody(UpdateTicketBody, req.body);
    res.json(ticketJson(await updateTicket(manager, ticketId, body)));
  });

  return router;
}
