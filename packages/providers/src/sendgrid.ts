import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { maskEmail, type Logger } from '@notofine/logger';
import { Client } from '@sendgrid/client';
import type { ClientRequest } from '@sendgrid/client/src/request';
import { MailService, type ResponseError } from '@sendgrid/mail';
import { errorForHttpStatus, toProviderError } from './classify';
import { htmlPartOf } from './email-html';
import { withRecipientMasked } from './recipient-masking';
import { ProviderError, unsubscribeHeaders, type Accepted, type EmailMessage, type EmailProvider } from './provider';

export interface SendGridOptions {
  readonly apiKey: string;
  /** `https://api.sendgrid.com` (or the EU host, or a test double). */
  readonly baseUrl: string;
  readonly from: string;
  /** Longest a call may take, from connecting to the last byte of the answer. */
  readonly timeoutMs: number;
}

/** SendGrid's answer to a refused request: `{"errors": [{"message", "field", "help"}]}`. */
interface SendGridErrorBody {
  readonly errors?: ReadonlyArray<{ readonly message?: unknown; readonly field?: unknown }>;
}

/** Longest part of SendGrid's explanation kept in the notification's error message. */
const MAX_DETAIL = 500;

/**
 * Options of axios, which the SDK sends its requests with, beyond the ones the SDK types: the SDK
 * hands the request it builds to axios as it is.
 */
interface AxiosRequestExtras {
  readonly signal: AbortSignal;
  readonly httpAgent: HttpAgent;
  readonly httpsAgent: HttpsAgent;
  readonly maxRedirects: number;
}

/**
 * The SDK's client, with a deadline on each request and connections of its own. axios's `timeout`
 * (the SDK's `setTimeout`) only notices a silent socket; an abort signal also ends an answer that
 * trickles in. Redirects are not followed: SendGrid's API answers without them, a 3xx is an error
 * like any other, and the request goes out on Node's own `http.request` instead of through
 * follow-redirects (a fifth less CPU a call).
 */
class BoundedClient extends Client {
  readonly httpAgent = new HttpAgent({ keepAlive: true });
  readonly httpsAgent = new HttpsAgent({ keepAlive: true });

  constructor(private readonly timeoutMs: number) {
    super();
  }

  override createRequest(data: ClientRequest): ClientRequest {
    const request: ClientRequest & AxiosRequestExtras = {
      ...super.createRequest(data),
      signal: AbortSignal.timeout(this.timeoutMs),
      httpAgent: this.httpAgent,
      httpsAgent: this.httpsAgent,
      maxRedirects: 0,
    };
    return request;
  }

  destroy(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }
}

/**
 * Email through SendGrid's v3 API with the official SDK, on a client of its own (not the module's
 * shared singleton) pointed at `baseUrl` and bounded by `timeoutMs`. A 2xx is acceptance; the
 * `X-Message-Id` header is the provider's message id, the prefix of the `sg_message_id` of the
 * delivery events.
 *
 * Errors: 429 throttles (for `Retry-After`, else until `X-RateLimit-Reset`), 408 and 5xx retry
 * (not before their `Retry-After`),
 * 401/403 fail as rejected credentials, other 4xx (400, 413, ...) fail with SendGrid's messages, a 3xx
 * fails (redirects are not followed); network errors and timeouts retry.
 */
export class SendGridEmailProvider implements EmailProvider {
  readonly name = 'sendgrid';
  private readonly client: BoundedClient;
  private readonly mail = new MailService();

  constructor(
    private readonly options: SendGridOptions,
    _logger: Logger,
  ) {
    this.client = new BoundedClient(options.timeoutMs);
    this.client.setApiKey(options.apiKey);
    // setApiKey resets the base URL to its region's host: the override comes after.
    this.client.setDefaultRequest('baseUrl', options.baseUrl);
    this.mail.setClient(this.client);
    this.mail.setTimeout(options.timeoutMs);
  }

  async send(message: EmailMessage): Promise<Accepted> {
    try {
      const [response] = await this.mail.send({
        to: message.to,
        from: this.options.from,
        subject: message.subject,
        text: message.text,
        html: htmlPartOf(message),
        headers: unsubscribeHeaders(message.unsubscribeUrl),
        customArgs: { notification_id: String(message.notificationId) },
      });
      const messageId = headerValue(response.headers, 'x-message-id');
      return { providerMessageId: messageId ?? null };
    } catch (error) {
      // SendGrid quotes the address it refuses: in any of its forms, it is masked here.
      throw withRecipientMasked(classifySendGridError(error, this.options.timeoutMs), message.to);
    }
  }

  async close(): Promise<void> {
    this.client.destroy();
  }
}

/**
 * What a SendGrid failure means: an HTTP error by its status, with SendGrid's own messages; no
 * answer in time, or a network error, is retried.
 */
export function classifySendGridError(error: unknown, timeoutMs: number): ProviderError {
  if (isResponseError(error)) {
    const { headers, body } = error.response;
    return errorForHttpStatus(error.code, sendGridDetail(body), { retryAfter: retryAfterSeconds(error.code, headers), cause: error });
  }
  // Not the SDK's error (axios's, or a socket's): axios's carries the request, API key included,
  // so only its code and message go on. An answer the SDK leaves to axios (a 3xx: redirects are
  // not followed) is classified by its status.
  const code = (error as { code?: unknown } | null)?.code;
  const cause = Object.assign(new Error(error instanceof Error ? error.message : String(error)), typeof code === 'string' ? { code } : {});
  const status = (error as { response?: { status?: unknown } } | null)?.response?.status;
  if (typeof status === 'number') return errorForHttpStatus(status, '', { cause });
  if (code === 'ERR_CANCELED' || code === 'ECONNABORTED') {
    return new ProviderError('retry', `SendGrid did not answer within ${timeoutMs} ms`, { cause });
  }
  return toProviderError(cause);
}

function isResponseError(error: unknown): error is ResponseError {
  const candidate = error as Partial<ResponseError> | null;
  return error instanceof Error && typeof candidate?.code === 'number' && typeof candidate.response === 'object' && candidate.response !== null;
}

/**
 * SendGrid's messages, `field: message` each, or the body itself when it is not SendGrid's JSON;
 * addresses masked, as the detail goes to the logs and to the job in Redis.
 */
function sendGridDetail(body: unknown): string {
  const errors = (body as SendGridErrorBody | null)?.errors;
  const detail = Array.isArray(errors)
    ? errors
        .map(({ message, field }) => (typeof message !== 'string' ? '' : typeof field === 'string' && field ? `${field}: ${message}` : message))
        .filter(Boolean)
        .join('; ')
    : typeof body === 'string'
      ? body.trim()
      : '';
  const masked = maskEmail(detail);
  return masked.length > MAX_DETAIL ? `${masked.slice(0, MAX_DETAIL)}…` : masked;
}

/**
 * How long SendGrid asks to wait: its `Retry-After`, else, for a 429, the end of the rate-limit
 * window that `X-RateLimit-Reset` gives in epoch seconds (other answers may carry that header too:
 * it says nothing of when a failing SendGrid comes back).
 */
function retryAfterSeconds(status: number, headers: unknown): string | number | undefined {
  const retryAfter = headerValue(headers, 'retry-after');
  if (retryAfter) return retryAfter;
  if (status !== 429) return undefined;
  const reset = Number(headerValue(headers, 'x-ratelimit-reset'));
  return Number.isFinite(reset) && reset > 0 ? Math.max(0, reset - Date.now() / 1000) : undefined;
}

/** A response header as a string; axios gives them lower-cased. */
function headerValue(headers: unknown, name: string): string | undefined {
  const value = (headers as Record<string, unknown> | null | undefined)?.[name];
  const first = Array.isArray(value) ? (value[0] as unknown) : value;
  return typeof first === 'string' || typeof first === 'number' ? String(first) : undefined;
}
