import type { Logger } from '@notofine/logger';
import { Client } from '@sendgrid/client';
import type { ClientRequest } from '@sendgrid/client/src/request';
import { MailService } from '@sendgrid/mail';
import { errorForHttpStatus, toProviderError } from './classify';
import { emailHtml } from './email-html';
import type { Accepted, EmailMessage, EmailProvider, ProviderError } from './provider';

export interface SendGridOptions {
  readonly apiKey: string;
  /** `https://api.sendgrid.com` (or the EU host, or a test double). */
  readonly baseUrl: string;
  readonly from: string;
  readonly timeoutMs: number;
}

/** What @sendgrid/client rejects with for an HTTP error status. */
interface SendGridResponseError {
  readonly code: number;
  readonly response?: { readonly headers?: Record<string, string>; readonly body?: unknown };
}

/**
 * Email through SendGrid's v3 API with the official SDK, on a client of its own (not the module's
 * shared singleton) pointed at `baseUrl` and bounded by `timeoutMs`. A 202 is acceptance; the
 * `X-Message-Id` header is the provider's message id, the prefix of the `sg_message_id` of the
 * delivery events.
 */
export class SendGridEmailProvider implements EmailProvider {
  readonly name = 'sendgrid';
  private readonly mail = new MailService();

  constructor(
    private readonly options: SendGridOptions,
    _logger: Logger,
  ) {
    const client = new Client();
    client.setApiKey(options.apiKey);
    client.setDefaultRequest('baseUrl', options.baseUrl);
    // The SDK hands its request defaults to axios as they are: `timeout` bounds every call.
    client.setDefaultRequest({ timeout: options.timeoutMs } as unknown as ClientRequest);
    this.mail.setClient(client);
  }

  async send(message: EmailMessage): Promise<Accepted> {
    try {
      const [response] = await this.mail.send({
        to: message.to,
        from: this.options.from,
        subject: message.subject,
        text: message.text,
        html: emailHtml(message.text),
        customArgs: { notification_id: String(message.notificationId) },
      });
      const messageId = response.headers['x-message-id'] as string | undefined;
      return { providerMessageId: messageId ?? null };
    } catch (error) {
      throw classifySendGridError(error);
    }
  }

  async close(): Promise<void> {}
}

/** What a SendGrid failure means: by HTTP status, with SendGrid's own error messages. */
export function classifySendGridError(error: unknown): ProviderError {
  const failure = error as SendGridResponseError;
  if (typeof failure.code !== 'number' || !failure.response) return toProviderError(error);
  const headers = failure.response.headers ?? {};
  const body = failure.response.body as { errors?: Array<{ message?: string; field?: string | null }> } | undefined;
  const detail = (body?.errors ?? [])
    .map((e) => (e.field ? `${e.field}: ${e.message ?? ''}` : (e.message ?? '')))
    .filter(Boolean)
    .join('; ');
  // SendGrid announces the end of its rate-limit window as epoch seconds.
  const reset = headers['x-ratelimit-reset'];
  const retryAfter = headers['retry-after'] ?? (reset ? Math.max(0, Number(reset) - Date.now() / 1000) : undefined);
  return errorForHttpStatus(failure.code, detail, { retryAfter, cause: error });
}
