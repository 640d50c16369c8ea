import type { Logger } from '@notofine/logger';
import type { Accepted, EmailProvider, EmailMessage } from './provider';

export interface SendGridOptions {
  readonly apiKey: string;
  readonly baseUrl: string;
  readonly from: string;
  readonly timeoutMs: number;
}

/** Not written yet: the next step of the providers work. */
export class SendGridEmailProvider implements EmailProvider {
  readonly name = 'sendgrid';

  constructor(
    private readonly options: SendGridOptions,
    private readonly logger: Logger,
  ) {}

  async send(message: EmailMessage): Promise<Accepted> {
    void this.options;
    void this.logger;
    void message;
    throw new Error('SendGridEmailProvider is not written yet');
  }

  async close(): Promise<void> {}
}
