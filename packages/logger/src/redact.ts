const SECRET_KEY = /token|authorization|api[-_]?key|secret|password|passwd|credential|cookie/i;
/** An address, its `@` percent-encoded too (`jean%40example.com`, as a URL quotes it). */
const EMAIL = /([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*(?:@|%40)([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)/gi;
/** An international number: its `+` percent-encoded too, spaces, dots or dashes between its digits (`+33 6 12 34 56 78`). */
const E164 = /(?:\+|%2B)[1-9](?:[ .-]?\d){7,14}\b/gi;
const BEARER = /\b(Bearer)\s+[A-Za-z0-9._~+/=-]+/gi;
const PHONE_KEY = /^(phone|to|from|msisdn|recipient)$/i;
const BARE_NUMBER = /^[1-9]\d{7,14}$/;
/** A JSON Web Token: a base64url JSON header (`eyJ`), a payload and a signature. */
const JWT = /\beyJ[\w-]+\.[\w-]+\.[\w-]*/g;
/** Notofine's API keys, recognisable by their prefix. */
const API_KEY = /\b(nfk_)[\w-]{8,}/g;
const URL_PASSWORD = /\b([a-z][a-z0-9+.-]*:\/\/[^:/@\s]*):[^@/\s]+@/gi;

/** `jean.dupont@example.com` → `j***@example.com` */
export function maskEmail(email: string): string {
  return email.replace(EMAIL, '$1***@$2');
}

/** `+33612345678` → `+33******78`: as many stars whatever the length, which would tell the country's numbering apart. */
export function maskPhone(phone: string): string {
  return phone.replace(E164, (number) => {
    const digits = number.replace(/^(?:\+|%2B)/i, '').replace(/\D/g, '');
    return `+${digits.slice(0, 2)}******${digits.slice(-2)}`;
  });
}

/**
 * What each pattern below needs, at the least: a text without any of these has nothing to mask.
 * These patterns know the usual forms only; the providers mask their recipient in every form
 * (national, spaced, encoded) before an error reaches a log (recipient-masking.ts).
 */
const MAYBE_SECRET = /[@+]|%40|%2B|bearer|eyJ|nfk_|:\/\//i;

/** Masks every email address, E.164 phone number, bearer token, JWT, API key and URL password in a text. */
export function redactText(text: string): string {
  if (!MAYBE_SECRET.test(text)) return text;
  return maskPhone(maskEmail(text))
    .replace(BEARER, '$1 [redacted]')
    .replace(JWT, '[redacted token]')
    .replace(API_KEY, '$1[redacted]')
    .replace(URL_PASSWORD, '$1:***@');
}

/**
 * A copy of a log entry's fields with personal data and secrets masked: values under secret-looking
 * keys (token, api_key, password, ...) are dropped, strings have emails and phone numbers masked.
 */
export function redactValue(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return redactText(value);
  if (value === null || typeof value !== 'object') return value;
  if (depth > 6) return '[too deep]';
  if (value instanceof Date) return value;
  if (value instanceof Error) return redactError(value, depth);
  if (Array.isArray(value)) return value.map((item) => redactValue(item, depth + 1));
  const copy: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) copy[key] = redactField(key, item, depth + 1);
  return copy;
}

/**
 * One field of a log entry, redacted: dropped under a secret-looking key, masked otherwise. Under
 * a key naming a phone number, a number written without its plus (as Vonage's `msisdn`) is masked too.
 */
export function redactField(key: string, value: unknown, depth = 0): unknown {
  if (SECRET_KEY.test(key) && value != null) return '[redacted]';
  if (typeof value === 'string' && PHONE_KEY.test(key) && BARE_NUMBER.test(value)) return maskPhone(`+${value}`).slice(1);
  return redactValue(value, depth);
}

/**
 * An error as a log entry shows it: name, message and stack masked, its own scalar fields (`code`,
 * `status`, ...) under the same rules as any field, and its `cause` and `errors` (AggregateError),
 * redacted in turn. Other own fields (an SDK's request or response objects) are left out: they
 * can be huge, circular, and full of headers.
 */
function redactError(error: Error, depth: number): Record<string, unknown> {
  const entry: Record<string, unknown> = { name: error.name, message: redactText(error.message) };
  if (error.stack) entry.stack = redactText(error.stack);
  for (const [key, item] of Object.entries(error)) {
    if (item === null || ['string', 'number', 'boolean'].includes(typeof item)) entry[key] = redactField(key, item, depth + 1);
  }
  if (error.cause !== undefined) entry.cause = redactValue(error.cause, depth + 1);
  if (error instanceof AggregateError) entry.errors = redactValue(error.errors, depth + 1);
  return entry;
}
