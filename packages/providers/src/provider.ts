/**
 * What a failed provider call means for the notification:
 * - `retry`: try again later (network error, timeout, 5xx); spends an attempt, and waits at least
 *   `retryAfterMs` when the provider said how long.
 * - `throttle`: the provider asks to slow down (429); wait `retryAfterMs` without spending an attempt.
 * - `fail`: it will never work (invalid number, rejected credentials); the notification fails now.
 * - `invalid-address`: this address or token is dead; for push, the device is disabled.
 */
export type ProviderErrorKind = 'retry' | 'throttle' | 'fail' | 'invalid-address';

/**
 * Whose limit a `throttle` is, and so who waits: `provider`, the account's or the project's (every
 * message of the channel waits), or `recipient`, one address's or device's own rate (only the
 * messages to it wait).
 */
export type ThrottleScope = 'provider' | 'recipient';

export interface ProviderErrorOptions {
  readonly retryAfterMs?: number;
  readonly scope?: ThrottleScope;
  readonly cause?: unknown;
}

/** A provider call that did not deliver, classified so the worker knows what to do next. */
export class ProviderError extends Error {
  /** How long the provider asked to wait before it is called again (its Retry-After), when it said. */
  readonly retryAfterMs: number | undefined;
  /** Whose limit a throttle is (`provider` unless the provider said it was one recipient's). */
  readonly scope: ThrottleScope;

  constructor(
    readonly kind: ProviderErrorKind,
    message: string,
    options: ProviderErrorOptions = {},
  ) {
    super(message, { cause: options.cause });
    this.name = 'ProviderError';
    this.retryAfterMs = options.retryAfterMs;
    this.scope = options.scope ?? 'provider';
  }
}

/** The provider took the message. */
export interface Accepted {
  /** The provider's id for the message, when it gives one. */
  readonly providerMessageId: string | null;
}

export interface EmailMessage {
  readonly notificationId: number;
  readonly to: string;
  readonly subject: string;
  readonly text: string;
  /**
   * The recipient's one-click unsubscribe link: sent as `List-Unsubscribe` with
   * `List-Unsubscribe-Post` (RFC 8058), and as a link at the foot of the message.
   */
  readonly unsubscribeUrl?: string | undefined;
  /**
   * The body as HTML, when a template wrote it (its paragraphs, the unsubscribe link's included);
   * otherwise the HTML part is written from `text`.
   */
  readonly html?: string | undefined;
  /** The language of the message (`fr`, `en`), for its HTML document. */
  readonly lang?: string | undefined;
}

/** The headers that let mail clients offer a one-click unsubscribe (RFC 2369, RFC 8058). */
export function unsubscribeHeaders(url: string | undefined): Record<string, string> {
  return url ? { 'List-Unsubscribe': `<${url}>`, 'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click' } : {};
}

export interface SmsMessage {
  readonly notificationId: number;
  /** E.164 */
  readonly to: string;
  readonly text: string;
}

export interface PushMessage {
  readonly notificationId: number;
  /** Every active registration token of the user. */
  readonly tokens: readonly string[];
  readonly title: string;
  readonly body: string;
}

/** A push goes to several devices: each token is accepted or refused on its own. */
export interface PushOutcome {
  readonly accepted: ReadonlyArray<{ readonly token: string; readonly providerMessageId: string | null }>;
  readonly refused: ReadonlyArray<{ readonly token: string; readonly error: ProviderError }>;
}

interface Provider {
  /** Recorded on the notification, e.g. `outbox`, `sendgrid`. */
  readonly name: string;
  /** Releases connections and files. */
  close(): Promise<void>;
}

/** Sends email. Throws {@link ProviderError} when the message was not accepted. */
export interface EmailProvider extends Provider {
  send(message: EmailMessage): Promise<Accepted>;
}

/** Sends SMS. Throws {@link ProviderError} when the message was not accepted. */
export interface SmsProvider extends Provider {
  send(message: SmsMessage): Promise<Accepted>;
}

/**
 * Sends push notifications. Throws {@link ProviderError} when the whole call failed; refusals of
 * single tokens come back in the outcome.
 */
export interface PushProvider extends Provider {
  send(message: PushMessage): Promise<PushOutcome>;
}

export interface Providers {
  readonly email: EmailProvider;
  readonly sms: SmsProvider;
  readonly push: PushProvider;
}
