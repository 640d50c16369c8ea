import { randomUUID } from 'node:crypto';
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '@notofine/logger';
import type {
  Accepted,
  EmailMessage,
  EmailProvider,
  PushMessage,
  PushOutcome,
  PushProvider,
  SmsMessage,
  SmsProvider,
} from './provider';

/**
 * Appends one JSON line per message to `<dir>/<channel>.jsonl`: the development provider, so that
 * the whole system runs with no account anywhere. Lines are appended (O_APPEND), so several worker
 * processes may share a directory.
 */
class OutboxFile {
  private readonly stream: WriteStream;

  constructor(dir: string, channel: string) {
    mkdirSync(dir, { recursive: true });
    this.stream = createWriteStream(join(dir, `${channel}.jsonl`), { flags: 'a' });
  }

  append(record: Record<string, unknown>): Promise<void> {
    return new Promise((resolve, reject) => {
      this.stream.write(`${JSON.stringify(record)}\n`, (error) => (error ? reject(error) : resolve()));
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.stream.end(resolve));
  }
}

const messageId = (): string => `outbox-${randomUUID()}`;

export class OutboxEmailProvider implements EmailProvider {
  readonly name = 'outbox';
  private readonly file: OutboxFile;

  constructor(dir: string, private readonly logger: Logger) {
    this.file = new OutboxFile(dir, 'email');
  }

  async send(message: EmailMessage): Promise<Accepted> {
    const providerMessageId = messageId();
    await this.file.append({ provider_message_id: providerMessageId, at: new Date().toISOString(), notification_id: message.notificationId, to: message.to, subject: message.subject, text: message.text });
    this.logger.info('email written to the outbox', { notification_id: message.notificationId, to: message.to });
    return { providerMessageId };
  }

  close(): Promise<void> {
    return this.file.close();
  }
}

export class OutboxSmsProvider implements SmsProvider {
  readonly name = 'outbox';
  private readonly file: OutboxFile;

  constructor(dir: string, private readonly logger: Logger) {
    this.file = new OutboxFile(dir, 'sms');
  }

  async send(message: SmsMessage): Promise<Accepted> {
    const providerMessageId = messageId();
    await this.file.append({ provider_message_id: providerMessageId, at: new Date().toISOString(), notification_id: message.notificationId, to: message.to, text: message.text });
    this.logger.info('SMS written to the outbox', { notification_id: message.notificationId, to: message.to });
    return { providerMessageId };
  }

  close(): Promise<void> {
    return this.file.close();
  }
}

export class OutboxPushProvider implements PushProvider {
  readonly name = 'outbox';
  private readonly file: OutboxFile;

  constructor(dir: string, private readonly logger: Logger) {
    this.file = new OutboxFile(dir, 'push');
  }

  async send(message: PushMessage): Promise<PushOutcome> {
    const accepted = [];
    for (const token of message.tokens) {
      const providerMessageId = messageId();
      await this.file.append({ provider_message_id: providerMessageId, at: new Date().toISOString(), notification_id: message.notificationId, token, title: message.title, body: message.body });
      accepted.push({ token, providerMessageId });
    }
    this.logger.info('push written to the outbox', { notification_id: message.notificationId, devices: message.tokens.length });
    return { accepted, refused: [] };
  }

  close(): Promise<void> {
    return this.file.close();
  }
}
