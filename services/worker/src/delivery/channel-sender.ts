import type { DeliveryTarget } from '@notofine/db';
import type { Accepted } from '@notofine/providers';

/**
 * Sends one notification on its channel: builds the provider's message from the row and calls the
 * provider. Throws `ProviderError` when the provider did not take it, {@link UndeliverableError}
 * when there is nobody to send it to.
 */
export interface ChannelSender {
  /** The provider's name, recorded on the row. */
  readonly provider: string;
  send(target: DeliveryTarget): Promise<Accepted>;
}

/** The notification cannot be sent at all (its user has no address on this channel any more). */
export class UndeliverableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UndeliverableError';
  }
}
