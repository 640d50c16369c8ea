import type { ServiceAccount } from '@notofine/config';
import type { Logger } from '@notofine/logger';
import type { PushOutcome, PushProvider, PushMessage } from './provider';

export interface FcmOptions {
  readonly projectId: string;
  readonly credentials: ServiceAccount;
  readonly baseUrl: string;
  readonly timeoutMs: number;
}

/** Not written yet: the next step of the providers work. */
export class FcmPushProvider implements PushProvider {
  readonly name = 'fcm';

  constructor(
    private readonly options: FcmOptions,
    private readonly logger: Logger,
  ) {}

  async send(message: PushMessage): Promise<PushOutcome> {
    void this.options;
    void this.logger;
    void message;
    throw new Error('FcmPushProvider is not written yet');
  }

  async close(): Promise<void> {}
}
