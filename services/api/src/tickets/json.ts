import type { Ticket } from '@notofine/db';

export function ticketJson(ticket: Ticket) {
  return {
    id: ticket.id,
    user_id: ticket.userId,
    reference: ticket.reference,
    amount_cents: ticket.amountCents,
    due_date: ticket.dueDate,
    status: ticket.status,
    created_at: ticket.createdAt,
    updated_at: ticket.updatedAt,
  };
}
