import { toProviderError, withRecipientMasked, type SmsProvider } from '@notofine/providers';
import { UndeliverableError, type ChannelSender } from './channel-sender';

/** The SMS queue's sender. */
export function smsSender(provider: SmsProvider): ChannelSender {
  return {
    provider: provider.name,
    async send(target) {
      if (!target.phone) throw new UndeliverableError('The user has no phone number any more.');
      const to = target.phone;
      return provider.send({ notificationId: target.id, to, text: target.message }).catch((error: unknown) => {
        // Whatever the provider, the number it quotes back in any form is masked before the row, the logs and Redis see it.
        throw withRecipientMasked(toProviderError(error), to);
      });
    },
  };
}
