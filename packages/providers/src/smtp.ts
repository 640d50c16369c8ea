import type { Logger } from '@notofine/logger';
import nodemailer, { type Transporter } from 'nodemailer';
import { toProviderError } from './classify';
import { emailHtml } from './email-html';
import { ProviderError, type Accepted, type EmailMessage, type EmailProvider } from './provider';

export interface SmtpOptions {
  /** `smtp://user:pass@host:587` (STARTTLS when offered) or `smtps://...:465`. */
  readonly url: string;
  /** `Notofine <no-reply@notofine.fr>` */
  readonly from: string;
  /** Connection, greeting and socket timeout. */
  readonly timeoutMs: number;
}

/** nodemailer's errors carry the SMTP reply code when the server answered. */
interface SmtpError {
  readonly code?: string;
  readonly responseCode?: number;
  readonly response?: string;
  readonly message: string;
}

/**
 * Email over SMTP with nodemailer, through a pool of connections opened once and reused. Each
 * message has a plain-text and an HTML part; its `Message-ID` is the provider's message id.
 *
 * An SMTP 4xx reply is temporary (retry), a 5xx reply permanent (fail), rejected credentials fail,
 * network errors and timeouts are retried.
 */
export class SmtpEmailProvider implements EmailProvider {
  readonly name = 'smtp';
  private readonly transport: Transporter;

  constructor(options: SmtpOptions, logger: Logger) {
    this.transport = nodemailer.createTransport(
      {
        url: options.url,
        pool: true,
        maxConnections: 5,
        connectionTimeout: options.timeoutMs,
        greetingTimeout: options.timeoutMs,
        socketTimeout: options.timeoutMs,
      },
      { from: options.from },
    );
    this.transport.on('error', (error) => logger.warn('smtp transport error', { error }));
  }

  async send(message: EmailMessage): Promise<Accepted> {
    try {
      const info = (await this.transport.sendMail({
        to: message.to,
        subject: message.subject,
        text: message.text,
        html: emailHtml(message.text),
      })) as { messageId?: string };
      // Kept without its angle brackets: `abc@notofine.fr`.
      return { providerMessageId: info.messageId?.replace(/^<|>$/g, '') || null };
    } catch (error) {
      throw classifySmtpError(error);
    }
  }

  async close(): Promise<void> {
    this.transport.close();
  }
}

/** What an SMTP failure means for the notification. */
export function classifySmtpError(error: unknown): ProviderError {
  const smtp = error as SmtpError;
  if (smtp.code === 'EAUTH' || smtp.responseCode === 535) {
    return new ProviderError('fail', `credentials rejected (${smtp.response ?? smtp.message})`, { cause: error });
  }
  if (typeof smtp.responseCode === 'number') {
    const reply = smtp.response ?? `${smtp.responseCode}`;
    return new ProviderError(smtp.responseCode >= 500 ? 'fail' : 'retry', `SMTP ${reply}`, { cause: error });
  }
  return toProviderError(error);
}
