import { ProviderError } from './provider';

/** Network failures worth another try: the provider may well answer next time. */
const TRANSIENT_NETWORK_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'ETIMEDOUT',
  'ESOCKETTIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_SOCKET',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);

/**
 * The `Retry-After` of a response in milliseconds: delta-seconds or an HTTP date. Undefined when
 * absent or unreadable.
 */
export function parseRetryAfter(value: string | string[] | number | null | undefined, now = Date.now()): number | undefined {
  const text = Array.isArray(value) ? value[0] : value;
  if (text === undefined || text === null || text === '') return undefined;
  if (typeof text === 'number' || /^\d+(\.\d+)?$/.test(text)) return Math.round(Number(text) * 1000);
  const date = Date.parse(text);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/**
 * What an HTTP status from a provider's API means: 429 throttle, 408 and 5xx retry, each with its
 * Retry-After when the answer has one (a 503's says how long the service expects to be away); 401
 * and 403 fail (rejected credentials), any other 4xx fail (the request itself is wrong).
 */
export function errorForHttpStatus(
  status: number,
  detail: string,
  options: { retryAfter?: string | string[] | number | null; cause?: unknown } = {},
): ProviderError {
  const message = `HTTP ${status}${detail ? `: ${detail}` : ''}`;
  if (status === 429) {
    const retryAfterMs = parseRetryAfter(options.retryAfter);
    return new ProviderError('throttle', message, { cause: options.cause, ...(retryAfterMs !== undefined && { retryAfterMs }) });
  }
  if (status === 408 || status >= 500) {
    const retryAfterMs = parseRetryAfter(options.retryAfter);
    return new ProviderError('retry', message, { cause: options.cause, ...(retryAfterMs !== undefined && { retryAfterMs }) });
  }
  if (status === 401 || status === 403) return new ProviderError('fail', `credentials rejected (${message})`, { cause: options.cause });
  return new ProviderError('fail', message, { cause: options.cause });
}

/**
 * A provider error for anything a call threw: a ProviderError as it is; a network failure or a
 * timeout as `retry`; anything else as `retry` too (better one more try than a lost message), with
 * its message.
 */
export function toProviderError(error: unknown): ProviderError {
  if (error instanceof ProviderError) return error;
  const code = (error as { code?: unknown } | null)?.code;
  const message = error instanceof Error ? error.message : String(error);
  if (typeof code === 'string' && TRANSIENT_NETWORK_CODES.has(code)) {
    return new ProviderError('retry', `network error ${code}${message && !message.includes(code) ? `: ${message}` : ''}`, { cause: error });
  }
  return new ProviderError('retry', message || 'unknown error', { cause: error });
}
