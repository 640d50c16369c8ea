// Formatting shared by the reminder summary and the message templates.

// Intl separates amounts and units with no-break spaces, which are not in the GSM 7-bit alphabet:
// one of them would make an SMS switch to UCS-2 and its segments shrink from 160 to 70 characters.
// Plain spaces everywhere keep the channels alike.
export const plainSpaces = (text: string): string => text.replace(/[\u00a0\u202f]/g, ' ');

/**
 * One formatter per key, made once: building an Intl formatter costs a hundred times what
 * formatting with it does (it loads the locale's or time zone's data), and a reminder run formats
 * thousands of amounts and dates. Locales and time zones are few; the cache is bounded all the same.
 */
function cached<F>(make: (key: string) => F): (key: string) => F {
  const formatters = new Map<string, F>();
  return (key) => {
    let formatter = formatters.get(key);
    if (formatter === undefined) {
      if (formatters.size >= 1000) formatters.clear();
      formatter = make(key);
      formatters.set(key, formatter);
    }
    return formatter;
  };
}

const eurosIn = cached((locale) => new Intl.NumberFormat(locale, { style: 'currency', currency: 'EUR' }));
const longDateIn = cached((locale) => new Intl.DateTimeFormat(locale, { dateStyle: 'long', timeZone: 'UTC' }));
const isoDateIn = cached((timezone) => new Intl.DateTimeFormat('en-CA', { timeZone: timezone, year: 'numeric', month: '2-digit', day: '2-digit' }));

/** An amount in euros as the locale writes it: `135,00 €`, `€135.00`. */
export function formatEuros(cents: number, locale: string): string {
  return plainSpaces(eurosIn(locale).format(cents / 100));
}

/**
 * A `YYYY-MM-DD` date as the locale writes it in full: `15 décembre 2026`, `December 15, 2026`. In
 * French the first of the month is written `1er` (`1er octobre 2026`), which Intl does not do.
 */
export function formatDate(isoDate: string, locale: string): string {
  const date = new Date(`${isoDate}T00:00:00Z`);
  if (date.getUTCDate() !== 1 || !/^fr(?![a-z])/i.test(locale)) return plainSpaces(longDateIn(locale).format(date));
  return plainSpaces(
    longDateIn(locale)
      .formatToParts(date)
      .map((part) => (part.type === 'day' ? `${part.value}er` : part.value))
      .join(''),
  );
}

/** Today's date, `YYYY-MM-DD`, in a time zone. */
export function today(timezone: string, now: Date): string {
  return isoDateIn(timezone).format(now);
}
