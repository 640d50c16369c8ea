import { types } from 'node:util';
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
  /**
   * Never log in nor send in clear: on an `smtp://` URL the session must be upgraded with STARTTLS,
   * and a server that does not upgrade fails the send (`SMTP_REQUIRE_TLS`). Without it STARTTLS is
   * still used whenever the server offers it.
   */
  readonly requireTls: boolean;
  /** Connections kept open to the server at most (`SMTP_POOL_SIZE`). */
  readonly poolSize: number;
  /** The certificates to trust for the server's instead of the system's (a private CA, a test server). */
  readonly ca?: string;
}

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

  constructor(
    private readonly options: SmtpOptions,
    logger: Logger,
  ) {
    const pool: SMTPPoolOptions & { pool: true } = {
      url: options.url,
      pool: true,
      maxConnections: options.poolSize,
      requireTLS: options.requireTls,
      ...(options.ca !== undefined && { tls: { ca: options.ca } }),
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
        signal: AbortSignal.timeout(this.options.timeoutMs),
      });
      return { providerMessageId: info.messageId.replace(/^<|>$/g, '') || null };
    } catch (error) {
      throw classifySmtpError(error, this.options);
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
 *
 * TLS that cannot be had fails at once, for the same message would meet the same server: a
 * certificate the client does not trust, and, when TLS is required, a server that will not start
 * it (it offers no STARTTLS, which is also what a downgrade by someone in between looks like, or
 * it refuses it, `454 TLS not available` included: in practice a server without a usable
 * certificate). The reason says what to change; once it is changed, the failed notifications can
 * be sent again.
 */
export function classifySmtpError(error: unknown, options: Pick<SmtpOptions, 'timeoutMs' | 'requireTls'>): ProviderError {
  // Errors of Node's own (a TLS handshake's) may come from another realm than this code's `Error`.
  if (!(error instanceof Error) && !types.isNativeError(error)) return toProviderError(error);
  const failure = error as NodemailerError;
  const reply = failure.response === undefined ? undefined : maskEmail(failure.response.trim());
  const text = maskEmail(failure.message);
  const code = failure.responseCode;
  const { timeoutMs } = options;

  if (failure.code === 'ETLS' && failure.command === 'STARTTLS' && reply !== undefined && options.requireTls) {
    return new ProviderError(
      'fail',
      `the SMTP server would not start TLS (${reply}): it offers no STARTTLS or refused it, and SMTP_REQUIRE_TLS forbids logging in or sending in clear ` +
        '(give the server a certificate, or set SMTP_REQUIRE_TLS=false for a relay on a network you trust)',
      { cause: error },
    );
  }
  if (isCertificateRefusal(failure)) {
    return new ProviderError('fail', `the SMTP server's certificate is not trusted: ${text}`, { cause: error });
  }
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

/**
 * Whether the TLS handshake failed on the server's certificate (expired, self-signed, another
 * host's, an unknown issuer): Node's reason is kept by nodemailer as `originalCode`.
 */
function isCertificateRefusal(failure: NodemailerError): boolean {
  const reason = (failure as { originalCode?: unknown }).originalCode;
  return typeof reason === 'string' && /CERT|UNABLE_TO_VERIFY|HOSTNAME_MISMATCH/.test(reason);
}
