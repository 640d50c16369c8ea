import type { UnpaidSummary } from '@notofine/db';
import { formatDate, formatEuros, today } from './format';

/** A rendered message: subject (email) or title (push), and body. */
export interface RenderedMessage {
  readonly subject: string;
  readonly text: string;
}

type Language = 'fr' | 'en';

/** The language of a locale that has texts; French when the locale's language has none. */
export function languageOf(locale: string): Language {
  return locale.toLowerCase().startsWith('en') ? 'en' : 'fr';
}

/**
 * The reminder a user gets about their unpaid tickets: how many, the total in euros, and the next
 * due date with its ticket reference, in the user's language (French by default). Null when nothing
 * is unpaid.
 */
export function renderUnpaidSummary(
  unpaid: UnpaidSummary,
  user: { readonly locale: string; readonly timezone: string },
  now: Date = new Date(),
): RenderedMessage | null {
  if (unpaid.count === 0 || !unpaid.nextDueDate || !unpaid.nextDueReference) return null;
  const language = languageOf(user.locale);
  const locale = user.locale.toLowerCase().startsWith(language) ? user.locale : language;
  const total = formatEuros(unpaid.totalCents, locale);
  const dueDate = formatDate(unpaid.nextDueDate, locale);
  const overdue = unpaid.nextDueDate < today(user.timezone, now);
  const reference = unpaid.nextDueReference;

  if (language === 'en') {
    const tickets = unpaid.count === 1 ? '1 unpaid traffic ticket' : `${unpaid.count} unpaid traffic tickets`;
    const next = overdue ? `Ticket ${reference} was due on ${dueDate}.` : `Next due: ticket ${reference}, by ${dueDate}.`;
    return {
      subject: 'Reminder: unpaid traffic tickets',
      text: `Notofine reminder: you have ${tickets} totalling ${total}. ${next}`,
    };
  }
  const tickets = unpaid.count === 1 ? '1 contravention impayée' : `${unpaid.count} contraventions impayées`;
  const next = overdue
    ? `La contravention ${reference} était à régler avant le ${dueDate}.`
    : `Prochaine échéance : contravention ${reference}, à régler avant le ${dueDate}.`;
  return {
    subject: 'Rappel : contraventions impayées',
    text: `Rappel Notofine : vous avez ${tickets} pour un total de ${total}. ${next}`,
  };
}

/** Subject of an email (title of a push) sent without one. */
export function defaultSubject(locale: string): string {
  return languageOf(locale) === 'en' ? 'Notofine notification' : 'Notification Notofine';
}
