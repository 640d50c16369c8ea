import type { SmsProvider } from '@notofine/providers';
import { UndeliverableError, type ChannelSender } from './channel-sender';

/** The SMS queue's sender. */
export function smsSender(provider: SmsProvider): ChannelSender {
  return {
    provider: provider.name,
    async send(target) {
      if (!target.phone) throw new UndeliverableError('The user has no phone number any more.');
      return provider.send({ notificationId: target.id, to: target.phone, text: target.message });
    },
  };
}
