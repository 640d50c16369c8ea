import type { Logger } from '@notofine/logger';
import type { Accepted, EmailProvider, EmailMessage } from './provider';

export interface SmtpOptions {
  readonly url: string;
  readonly from: string;
  readonly timeoutMs: number;
}

/** Not written yet: the next step of the providers work. */
export class SmtpEmailProvider implements EmailProvider {
  readonly name = 'smtp';

  constructor(
    private readonly options: SmtpOptions,
    private readonly logger: Logger,
  ) {}

  async send(message: EmailMessage): Promise<Accepted> {
    void this.options;
    void this.logger;
    void message;
    throw new Error('SmtpEmailProvider is not written yet');
  }

  async close(): Promise<void> {}
}
