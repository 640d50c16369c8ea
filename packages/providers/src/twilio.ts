import type { Logger } from '@notofine/logger';
import type { Accepted, SmsProvider, SmsMessage } from './provider';

export interface TwilioOptions {
  readonly accountSid: string;
  readonly authToken: string;
  readonly baseUrl: string;
  readonly from: string;
  readonly timeoutMs: number;
  readonly statusCallbackUrl: string | undefined;
}

/** Not written yet: the next step of the providers work. */
export class TwilioSmsProvider implements SmsProvider {
  readonly name = 'twilio';

  constructor(
    private readonly options: TwilioOptions,
    private readonly logger: Logger,
  ) {}

  async send(message: SmsMessage): Promise<Accepted> {
    void this.options;
    void this.logger;
    void message;
    throw new Error('TwilioSmsProvider is not written yet');
  }

  async close(): Promise<void> {}
}
