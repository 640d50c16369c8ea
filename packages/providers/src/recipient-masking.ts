import { maskEmail, maskPhone } from '@notofine/logger';
import { parsePhoneNumberFromString } from 'libphonenumber-js/max';
import { ProviderError } from './provider';

/**
 * Between two digits of a number as people and systems write it: spaces (a no-break one too),
 * dots, dashes, slashes, brackets, as they are or percent-encoded, and a `+` standing for a
 * space in a form-encoded URL.
 */
const SEPARATOR = '(?:[\\s\\u00a0./()-]|\\+(?=\\d)|%(?:20|2[dDeEfF89]|[aA]0)|=20|&nbsp;)*';
/** The international prefix: `+`, percent-encoded or quoted-printable, or `00`. */
const PLUS = '(?:\\+|%2[bB]|=2[bB]|00)';
/** The trunk prefix some write inside an international number: `+33 (0)6 12 ...`. */
const TRUNK_IN_BRACKETS = '(?:\\(0\\)|%280%29)';
/** A quoted-printable soft line break, which may split an address anywhere. */
const SOFT_BREAK = '(?:=\\r?\\n)?';

/**
 * A masker for one recipient: every form in which a provider may quote the address or number
 * back in an error becomes its masked form (`j***@example.com`, `+33******78`). Forms of an email
 * address: any case, percent-encoded (`jean%40example.com`, or every character), quoted-printable
 * (`=40`), HTML character references, `at`/`dot` spelled out, and base64 at any alignment inside
 * a longer base64 text. Forms of a phone number: E.164 with or without its `+` (`%2B`, `00`),
 * national (`06 12 34 56 78`), the national significant number alone (`612345678`), with spaces,
 * dots, dashes, slashes or brackets between any digits (`+33 (0)6-12.34`), and base64.
 */
export function recipientMasker(recipient: string): (text: string) => string {
  const forms = recipient.includes('@') ? emailForms(recipient) : phoneForms(recipient);
  if (!forms) return (text) => text;
  return (text) => forms.patterns.reduce((masked, pattern) => masked.replace(pattern, forms.masked), text);
}

/** `text` with the recipient masked in all its forms (see {@link recipientMasker}). */
export function maskRecipient(text: string, recipient: string): string {
  return recipientMasker(recipient)(text);
}

/**
 * The error with the recipient masked in its message and its cause, before the worker stores it
 * (row, logs, the failed job in Redis). The cause, the SDK's own error (which may hold the
 * provider's whole answer), is replaced by a plain error with its name, code and masked message.
 */
export function withRecipientMasked(error: ProviderError, recipient: string): ProviderError {
  const mask = recipientMasker(recipient);
  const cause = error.cause instanceof Error ? maskedCause(error.cause, mask) : undefined;
  return new ProviderError(error.kind, mask(error.message), {
    scope: error.scope,
    ...(error.retryAfterMs !== undefined && { retryAfterMs: error.retryAfterMs }),
    ...(cause && { cause }),
  });
}

function maskedCause(cause: Error, mask: (text: string) => string): Error {
  const code = (cause as { code?: unknown }).code;
  const copy = new Error(mask(cause.message));
  copy.name = cause.name;
  return typeof code === 'string' || typeof code === 'number' ? Object.assign(copy, { code }) : copy;
}

interface Forms {
  readonly patterns: readonly RegExp[];
  readonly masked: string;
}

function emailForms(email: string): Forms | null {
  const address = email.trim();
  const at = address.lastIndexOf('@');
  if (at < 1 || at === address.length - 1) return null;
  const spelled = [...address].map(characterForms).join(SOFT_BREAK);
  const encoded = base64Cores([address, address.toLowerCase()]);
  const patterns = [new RegExp(spelled, 'gi'), ...(encoded.length > 0 ? [new RegExp(encoded.join('|'), 'g')] : [])];
  return { patterns, masked: maskEmail(address.toLowerCase()) };
}

/** One character of an address, in every spelling of it a provider might use. */
function characterForms(character: string): string {
  const hex = (b: number) => b.toString(16).padStart(2, '0');
  const forms = [escapeRegExp(character)];
  // Addresses are compared without case: so are the encodings of each case of a letter.
  for (const variant of new Set([character.toLowerCase(), character.toUpperCase()])) {
    const bytes = [...Buffer.from(variant, 'utf8')];
    const code = variant.codePointAt(0)!;
    forms.push(bytes.map((b) => `%${hex(b)}`).join(''), bytes.map((b) => `=${hex(b)}`).join(''), `&#0*${code};`, `&#x0*${code.toString(16)};`);
  }
  if (character === '@') forms.push('\\s*[[({<]\\s*at\\s*[\\])}>]\\s*', '\\s+at\\s+', '&commat;');
  if (character === '.') forms.push('\\s*[[({<]\\s*dot\\s*[\\])}>]\\s*', '\\s+dot\\s+', '&period;');
  return `(?:${forms.join('|')})`;
}

function phoneForms(phone: string): Forms | null {
  const number = parsePhoneNumberFromString(phone.trim());
  if (!number) return null;
  const e164 = number.number;
  const countryCode = number.countryCallingCode;
  const significant = number.nationalNumber;
  const national = number.formatNational().replace(/\D/g, '');
  const spaced = (digits: string) => [...digits].join(SEPARATOR);
  const international = `(?:${PLUS}${SEPARATOR})?${spaced(countryCode)}${SEPARATOR}(?:${TRUNK_IN_BRACKETS}${SEPARATOR})?${spaced(significant)}`;
  const written = [international, ...(national !== significant ? [spaced(national)] : []), spaced(significant)];
  const encoded = base64Cores([e164, e164.slice(1), `00${e164.slice(1)}`, national, number.formatNational(), number.formatInternational()]);
  const patterns = [new RegExp(`(?<![0-9])(?:${written.join('|')})(?![0-9])`, 'g'), ...(encoded.length > 0 ? [new RegExp(encoded.join('|'), 'g')] : [])];
  return { patterns, masked: maskPhone(e164) };
}

/**
 * The base64 (and base64url) of each text as it appears inside any longer base64 text, whatever
 * its alignment there: the characters that depend on the text's bytes only. Cores under 8
 * characters are left out, as they could stand for anything.
 */
function base64Cores(texts: readonly string[]): string[] {
  const cores = new Set<string>();
  for (const text of new Set(texts)) {
    for (let offset = 0; offset < 3; offset++) {
      const bytes = Buffer.concat([Buffer.alloc(offset), Buffer.from(text, 'utf8')]);
      let encoded = bytes.toString('base64').replace(/=+$/, '');
      // The first characters mix in the bytes before the text; the last one, the byte after it.
      encoded = encoded.slice([0, 2, 3][offset], bytes.length % 3 === 0 ? undefined : -1);
      if (encoded.length < 8) continue;
      cores.add(encoded);
      cores.add(encoded.replaceAll('+', '-').replaceAll('/', '_'));
    }
  }
  return [...cores].map(escapeRegExp);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
}
