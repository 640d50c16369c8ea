import { maskEmail, type Logger } from '@notofine/logger';
import nodemailer, { type NodemailerError, type SMTPPoolOptions, type SMTPPoolSentMessageInfo, type Transporter } from 'nodemailer';
import { toProviderError } from './classify';
import { htmlPartOf } from './email-html';
import { ProviderError, unsubscribeHeaders, type Accepted, type EmailMessage, type EmailProvider } from './provider';

export interface SmtpOptions {
  /** `smtp://user:pass@host:587` (STARTTLS when offered) or `smtps://...:465`. */
  readonly url: string;
  /** `Notofine <no-reply@notofine.fr>` */
  readonly from: string;
  /** Longest a send may take, waiting for a pooled connection included. */
  readonly timeoutMs: number;
}

/** Connections kept open to the server; most relays accept this many from one client. */
const MAX_CONNECTIONS = 5;

/**
 * Email over SMTP with nodemailer, through one pool of connections opened on demand and reused.
 * Each message has a plain-text and an HTML part and a UTF-8 subject; its `Message-ID` (without
 * the angle brackets) is the provider's message id.
 *
 * Errors: an SMTP 5xx reply fails the notification (503, a session out of step, is retried), a
 * 4xx reply is retried, rejected credentials fail, network errors and timeouts are retried.
 */
export class SmtpEmailProvider implements EmailProvider {
  readonly name = 'smtp';
  private readonly transport: Transporter<SMTPPoolSentMessageInfo, SMTPPoolOptions>;
  private readonly timeoutMs: number;

  constructor(options: SmtpOptions, logger: Logger) {
    this.timeoutMs = options.timeoutMs;
    const pool: SMTPPoolOptions & { pool: true } = {
      url: options.url,
      pool: true,
      maxConnections: MAX_CONNECTIONS,
      connectionTimeout: options.timeoutMs,
      greetingTimeout: options.timeoutMs,
      socketTimeout: options.timeoutMs,
      dnsTimeout: options.timeoutMs,
    };
    this.transport = nodemailer.createTransport(pool, { from: options.from });
    // Without a listener an 'error' event would end the process.
    this.transport.on('error', (error: Error) => logger.warn('smtp transport error', { reason: error.message }));
  }

  async send(message: EmailMessage): Promise<Accepted> {
    try {
      const info = await this.transport.sendMail({
        to: message.to,
        subject: message.subject,
        text: message.text,
        html: htmlPartOf(message),
        headers: unsubscribeHeaders(message.unsubscribeUrl),
        // The socket timeouts only notice silence: a server trickling its replies, or a send
        // queued behind busy connections, is cut off here. The pool then drops that connection.
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      return { providerMessageId: info.messageId.replace(/^<|>$/g, '') || null };
    } catch (error) {
      throw classifySmtpError(error, this.timeoutMs);
    }
  }

  async close(): Promise<void> {
    this.transport.close();
  }
}

/**
 * What an SMTP failure means for the notification, by the server's reply code when it answered,
 * by nodemailer's error code otherwise. Addresses in the server's words are masked: servers quote
 * the recipient (`550 5.1.1 <jean@...>: Recipient address rejected`), and the message goes to the
 * logs and to the job in Redis, not only to the row.
 */
export function classifySmtpError(error: unknown, timeoutMs: number): ProviderError {
  if (!(error instanceof Error)) return toProviderError(error);
  const failure: NodemailerError = error;
  const reply = failure.response === undefined ? undefined : maskEmail(failure.response.trim());
  const text = maskEmail(failure.message);
  const code = failure.responseCode;

  if (failure.code === 'EAUTH' && !(code !== undefined && code >= 400 && code < 500)) {
    return new ProviderError('fail', `credentials rejected (${reply ?? text})`, { cause: error });
  }
  if (code !== undefined && code >= 400) {
    // nodemailer reads the reply class for us; 503 (a command out of sequence) is not permanent.
    const permanent = failure.permanent ?? (code >= 500 && code !== 503);
    const step = failure.command ? ` ${failure.command}` : '';
    return new ProviderError(permanent ? 'fail' : 'retry', `the server ${permanent ? 'refused' : 'deferred'}${step}: ${reply ?? code}`, { cause: error });
  }
  switch (failure.code) {
    case 'EABORT':
      return new ProviderError('retry', `the SMTP server did not take the message within ${timeoutMs} ms`, { cause: error });
    case 'ETIMEDOUT':
      return new ProviderError('retry', `no answer from the SMTP server: ${text}${failure.timeoutType ? ` (${failure.timeoutType})` : ''}`, { cause: error });
    case 'ESOCKET':
    case 'ECONNECTION':
    case 'EDNS':
      return new ProviderError('retry', `cannot reach the SMTP server: ${text}`, { cause: error });
    // The same message would be refused again: no recipient left, too many of them, bad settings.
    case 'EENVELOPE':
    case 'EMAXRECIPIENTS':
    case 'ECONFIG':
    case 'ENOAUTH':
      return new ProviderError('fail', text, { cause: error });
    default:
      return toProviderError(error);
  }
}
