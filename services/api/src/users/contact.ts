import { ValidationError } from '@notofine/errors';
import { parsePhoneNumberFromString, type CountryCode } from 'libphonenumber-js/max';

/**
 * A phone number in E.164 (`+33612345678`), from international or national input
 * (`06 12 34 56 78` with region FR).
 *
 * @throws {@link ValidationError} when it is not a valid number
 */
export function normalizePhone(input: string, defaultRegion: string, field = 'phone'): string {
  const phone = parsePhoneNumberFromString(input, defaultRegion as CountryCode);
  if (!phone?.isValid()) {
    throw ValidationError.forField(field, `must be a valid phone number, in E.164 (+33612345678) or ${defaultRegion} national format`);
  }
  return phone.number;
}

/**
 * The canonical IANA name of a time zone (`europe/paris` → `Europe/Paris`).
 *
 * @throws {@link ValidationError} for anything else, numeric offsets included (PostgreSQL reads
 * their sign the other way round)
 */
export function canonicalTimeZone(input: string, field = 'timezone'): string {
  if (/^(UTC|[A-Za-z_]+(\/[A-Za-z0-9_+-]+){1,2})$/.test(input)) {
    try {
      return new Intl.DateTimeFormat('en', { timeZone: input }).resolvedOptions().timeZone;
    } catch {
      // fall through
    }
  }
  throw ValidationError.forField(field, 'must be an IANA time zone such as Europe/Paris');
}

/** The languages messages exist in. */
export const SUPPORTED_LANGUAGES = ['fr', 'en'] as const;

/**
 * A locale in canonical case (`FR-be` → `fr-BE`), whose language is one messages exist in.
 *
 * @throws {@link ValidationError} otherwise
 */
export function normalizeLocale(input: string, field = 'locale'): string {
  const match = /^([a-z]{2})(?:[-_]([a-z]{2}))?$/i.exec(input);
  const language = match?.[1]?.toLowerCase();
  if (!match || !SUPPORTED_LANGUAGES.includes(language as (typeof SUPPORTED_LANGUAGES)[number])) {
    throw ValidationError.forField(field, `must be ${SUPPORTED_LANGUAGES.join(' or ')}, optionally with a region (fr-BE, en-GB)`);
  }
  return match[2] ? `${language}-${match[2].toUpperCase()}` : language!;
}
