import { randomUUID } from 'node:crypto';
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '@notofine/logger';
import { unsubscribeHeaders, type Accepted, type EmailMessage, type EmailProvider, type PushMessage, type PushOutcome, type PushProvider, type SmsMessage, type SmsProvider } from './provider';

/**
 * One channel's outbox: `<dir>/<channel>.jsonl`, one JSON line per message. Lines are appended
 * (O_APPEND), so several worker processes may share a directory.
 */
class OutboxFile {
  private readonly stream: WriteStream;

  constructor(dir: string, channel: string) {
    mkdirSync(dir, { recursive: true });
    this.stream = createWriteStream(join(dir, `${channel}.jsonl`), { flags: 'a' });
  }

  /** Appends a message and returns the id it was given. */
  record(notificationId: number, fields: Record<string, unknown>): Promise<string> {
    const providerMessageId = `outbox-${randomUUID()}`;
    const line = JSON.stringify({ provider_message_id: providerMessageId, at: new Date().toISOString(), notification_id: notificationId, ...fields });
    return new Promise((resolve, reject) => {
      this.stream.write(`${line}\n`, (error) => (error ? reject(error) : resolve(providerMessageId)));
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.stream.end(resolve));
  }
}

/**
 * The development providers: each message becomes a line in the channel's outbox file and a log
 * line, so the whole system runs with no account anywhere. They accept everything.
 */
abstract class OutboxProvider {
  readonly name = 'outbox';
  protected readonly file: OutboxFile;

  constructor(dir: string, channel: string, protected readonly logger: Logger) {
    this.file = new OutboxFile(dir, channel);
  }

  close(): Promise<void> {
    return this.file.close();
  }
}

export class OutboxEmailProvider extends OutboxProvider implements EmailProvider {
  constructor(dir: string, logger: Logger) {
    super(dir, 'email', logger);
  }

  async send({ notificationId, to, subject, text, html, unsubscribeUrl }: EmailMessage): Promise<Accepted> {
    const providerMessageId = await this.file.record(notificationId, { to, subject, text, ...(html !== undefined && { html }), ...(unsubscribeUrl && { headers: unsubscribeHeaders(unsubscribeUrl) }) });
    this.logger.info('email written to the outbox', { notification_id: notificationId, to });
    return { providerMessageId };
  }
}

export class OutboxSmsProvider extends OutboxProvider implements SmsProvider {
  constructor(dir: string, logger: Logger) {
    super(dir, 'sms', logger);
  }

  async send({ notificationId, to, text }: SmsMessage): Promise<Accepted> {
    const providerMessageId = await this.file.record(notificationId, { to, text });
    this.logger.info('SMS written to the outbox', { notification_id: notificationId, to });
    return { providerMessageId };
  }
}

export class OutboxPushProvider extends OutboxProvider implements PushProvider {
  constructor(dir: string, logger: Logger) {
    super(dir, 'push', logger);
  }

  async send({ notificationId, tokens, title, body }: PushMessage): Promise<PushOutcome> {
    const accepted = [];
    for (const token of tokens) accepted.push({ token, providerMessageId: await this.file.record(notificationId, { token, title, body }) });
    this.logger.info('push written to the outbox', { notification_id: notificationId, devices: tokens.length });
    return { accepted, refused: [] };
  }
}
