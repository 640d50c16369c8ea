import type { Logger } from '@notofine/logger';
import type { Accepted, SmsProvider, SmsMessage } from './provider';

export interface VonageOptions {
  readonly apiKey: string;
  readonly apiSecret: string;
  readonly baseUrl: string;
  readonly from: string;
  readonly timeoutMs: number;
  readonly statusCallbackUrl: string | undefined;
}

/** Not written yet: the next step of the providers work. */
export class VonageSmsProvider implements SmsProvider {
  readonly name = 'vonage';

  constructor(
    private readonly options: VonageOptions,
    private readonly logger: Logger,
  ) {}

  async send(message: SmsMessage): Promise<Accepted> {
    void this.options;
    void this.logger;
    void message;
    throw new Error('VonageSmsProvider is not written yet');
  }

  async close(): Promise<void> {}
}
