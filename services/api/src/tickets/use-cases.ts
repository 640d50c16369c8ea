import { Ticket, User, recordIdempotentResponse, type IdempotentWrite, type TicketStatus } from '@notofine/db';
import { settleTicketNotifications } from '@notofine/notifications';
import { ConflictError, NotFoundError, ValidationError } from '@notofine/errors';
import { QueryFailedError, type EntityManager } from 'typeorm';
import type { CreateTicketBody, UpdateTicketBody } from './dto';

/** Records a ticket; with `idempotency`, its request's response is recorded in the same transaction. */
export async function createTicket(manager: EntityManager, userId: number, body: CreateTicketBody, idempotency?: IdempotentWrite<Ticket>): Promise<Ticket> {
  if (!(await manager.existsBy(User, { id: userId }))) throw new NotFoundError('User', userId);
  const ticket = manager.create(Ticket, {
    userId,
    reference: body.reference,
    amountCents: body.amount_cents,
    dueDate: body.due_date,
    ...(body.status && { status: body.status }),
  });
  if (!idempotency) return saveUniqueReference(manager, ticket);
  return manager.transaction(async (transaction) => {
    const saved = await saveUniqueReference(transaction, ticket);
    await recordIdempotentResponse(transaction, idempotency, saved);
    return saved;
  });
}

export async function listTickets(manager: EntityManager, userId: number, status?: TicketStatus): Promise<Ticket[]> {
  if (!(await manager.existsBy(User, { id: userId }))) throw new NotFoundError('User', userId);
  return manager.find(Ticket, { where: { userId, ...(status && { status }) }, order: { dueDate: 'ASC', id: 'ASC' } });
}

/** A ticket; with `ownerId`, only if it is that user's (otherwise it is not found). */
export async function getTicket(manager: EntityManager, id: number, ownerId?: number): Promise<Ticket> {
  const ticket = await manager.findOneBy(Ticket, { id, ...(ownerId !== undefined && { userId: ownerId }) });
  if (!ticket) throw new NotFoundError('Ticket', id);
  return ticket;
}

export async function updateTicket(manager: EntityManager, id: number, body: UpdateTicketBody): Promise<Ticket> {
  if (Object.keys(body).length === 0) {
    throw new ValidationError('Send at least one field to change: reference, amount_cents, due_date or status.');
  }
  const ticket = await getTicket(manager, id);
  if (body.reference !== undefined) ticket.reference = body.reference;
  if (body.amount_cents !== undefined) ticket.amountCents = body.amount_cents;
  if (body.due_date !== undefined) ticket.dueDate = body.due_date;
  const settled = body.status !== undefined && body.status !== 'unpaid' && ticket.status === 'unpaid';
  if (body.status !== undefined) ticket.status = body.status;
  if (!settled) return saveUniqueReference(manager, ticket);
  // Paid or cancelled: its reminders stop, and nothing still to be sent speaks of it as unpaid.
  return manager.transaction(async (tx) => {
    const saved = await saveUniqueReference(tx, ticket);
    await settleTicketNotifications(tx, saved);
    return saved;
  });
}

async function saveUniqueReference(manager: EntityManager, ticket: Ticket): Promise<Ticket> {
  try {
    return await manager.save(ticket);
  } catch (error) {
    if (error instanceof QueryFailedError && (error.driverError as { code?: string }).code === '23505') {
      throw new ConflictError(`User ${ticket.userId} already has a ticket with reference ${ticket.reference}.`);
    }
    throw error;
  }
}
