import type { UnpaidSummary } from '@notofine/db';

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

// Intl separates amounts and units with no-break spaces, which are not in the GSM 7-bit alphabet:
// one of them would make an SMS switch to UCS-2 and its segments shrink from 160 to 70 characters.
const plainSpaces = (text: string): string => text.replace(/[\u00a0\u202f]/g, ' ');

function formatEuros(cents: number, locale: string): string {
  return plainSpaces(new Intl.NumberFormat(locale, { style: 'currency', currency: 'EUR' }).format(cents / 100));
}

function formatDate(isoDate: string, locale: string): string {
  return new Intl.DateTimeFormat(locale, { dateStyle: 'long', timeZone: 'UTC' }).format(new Date(`${isoDate}T00:00:00Z`));
}

/** Today's date, `YYYY-MM-DD`, in a time zone. */
function today(timezone: string, now: Date): string {
  return new Intl.DateTimeFormat('en-CA', { timeZone: timezone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(now);
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
