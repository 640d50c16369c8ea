// Formatting shared by the reminder summary and the message templates.

// Intl separates amounts and units with no-break spaces, which are not in the GSM 7-bit alphabet:
// one of them would make an SMS switch to UCS-2 and its segments shrink from 160 to 70 characters.
// Plain spaces everywhere keep the channels alike.
export const plainSpaces = (text: string): string => text.replace(/[\u00a0\u202f]/g, ' ');

/** An amount in euros as the locale writes it: `135,00 €`, `€135.00`. */
export function formatEuros(cents: number, locale: string): string {
  return plainSpaces(new Intl.NumberFormat(locale, { style: 'currency', currency: 'EUR' }).format(cents / 100));
}

/** A `YYYY-MM-DD` date as the locale writes it in full: `15 décembre 2026`, `December 15, 2026`. */
export function formatDate(isoDate: string, locale: string): string {
  return plainSpaces(new Intl.DateTimeFormat(locale, { dateStyle: 'long', timeZone: 'UTC' }).format(new Date(`${isoDate}T00:00:00Z`)));
}

/** Today's date, `YYYY-MM-DD`, in a time zone. */
export function today(timezone: string, now: Date): string {
  return new Intl.DateTimeFormat('en-CA', { timeZone: timezone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(now);
}
