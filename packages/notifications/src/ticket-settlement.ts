import { cancelPendingNotifications, lockPendingSummaries, rewritePendingNotification, settleTicket, unpaidSummaryOf } from '@notofine/db';
import type { EntityManager } from 'typeorm';
import { renderUnpaidSummary } from './reminder-summary';
import { messageOn } from './sms-text';

/** What settling a ticket changed in what was still to be sent. */
export interface TicketSettlement {
  /** Reminders tied to the ticket, switched off. */
  readonly reminders: number;
  /** Notifications cancelled: about the ticket, or summaries with nothing left unpaid. */
  readonly cancelled: number;
  /** Pending summaries written again without the ticket. */
  readonly rewritten: number;
}

/**
 * A ticket was just paid or cancelled (in the transaction `manager` belongs to): its reminders
 * stop, what was still to be sent about it is cancelled (critical notices and payment
 * confirmations excepted), and the user's pending summaries of unpaid tickets are written again
 * without it, or cancelled when nothing is left unpaid. Nothing that goes out later speaks of the
 * ticket as unpaid; a notification being sent at this very moment is left to finish.
 */
export async function settleTicketNotifications(manager: EntityManager, ticket: { readonly id: number; readonly userId: number; readonly reference: string; readonly status: string }, now: Date = new Date()): Promise<TicketSettlement> {
  const settled = await settleTicket(manager, ticket.id, `Ticket ${ticket.reference} was ${ticket.status === 'paid' ? 'paid' : 'cancelled'}.`);
  const summaries = await lockPendingSummaries(manager, ticket.userId);
  if (summaries.length === 0) return { reminders: settled.reminders, cancelled: settled.notifications, rewritten: 0 };

  const unpaid = await unpaidSummaryOf(manager, ticket.userId);
  let rewritten = 0;
  const nothingLeft: number[] = [];
  for (const summary of summaries) {
    const message = renderUnpaidSummary(unpaid, summary, now);
    if (!message) nothingLeft.push(summary.id);
    else if (await rewritePendingNotification(manager, summary.id, messageOn(summary.channel, message.text, 'service'), summary.reminderSubject ?? message.subject)) rewritten += 1;
  }
  const cancelled = await cancelPendingNotifications(manager, nothingLeft, `Nothing is left unpaid: ticket ${ticket.reference} was ${ticket.status === 'paid' ? 'paid' : 'cancelled'}.`);
  return { reminders: settled.reminders, cancelled: settled.notifications + cancelled, rewritten };
}
