import type { DeliveryTarget, PendingDevices } from '@notofine/db';
import type { Accepted, ProviderError } from '@notofine/providers';

/** What a sender's provider took. */
export interface Sent extends Accepted {
  /**
   * A push some devices took while others refused it for now: those devices, why, and the refusal
   * that decides when they are tried again.
   */
  readonly pending?: PendingDevices & { readonly next: ProviderError };
}

/**
 * Sends one notification on its channel: builds the provider's message from the row and calls the
 * provider. Throws `ProviderError` when the provider did not take it, {@link UndeliverableError}
 * when there is nobody to send it to.
 */
export interface ChannelSender {
  /** The provider's name, recorded on the row. */
  readonly provider: string;
  send(target: DeliveryTarget): Promise<Sent>;
}

/** The notification cannot be sent at all (its user has no address on this channel any more). */
export class UndeliverableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UndeliverableError';
  }
}
