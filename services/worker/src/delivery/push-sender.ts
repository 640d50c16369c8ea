import { disableDeviceTokens } from '@notofine/db';
import type { Logger } from '@notofine/logger';
import { defaultSubject } from '@notofine/notifications';
import { ProviderError, type PushProvider } from '@notofine/providers';
import type { EntityManager } from 'typeorm';
import { UndeliverableError, type ChannelSender } from './channel-sender';

/**
 * The push queue's sender: one notification goes to every active device of the user. It counts as
 * sent when at least one device took it; tokens the provider reports dead are disabled at once.
 */
export function pushSender(provider: PushProvider, manager: EntityManager, logger: Logger): ChannelSender {
  return {
    provider: provider.name,
    async send(target) {
      if (target.tokens.length === 0) throw new UndeliverableError('The user has no active push device any more.');
      const outcome = await provider.send({
        notificationId: target.id,
        tokens: target.tokens,
        title: target.subject ?? defaultSubject(target.locale),
        body: target.message,
      });

      const dead = outcome.refused.filter(({ error }) => error.kind === 'invalid-address').map(({ token }) => token);
      if (dead.length > 0) {
        const disabled = await disableDeviceTokens(manager, dead);
        logger.info('disabled dead push tokens', { notification_id: target.id, devices: disabled });
      }

      const [first] = outcome.accepted;
      if (first) return { providerMessageId: first.providerMessageId };

      // Nothing delivered: retry when a device might still take it, otherwise give up.
      const errors = outcome.refused.map(({ error }) => error);
      const retriable = errors.find((error) => error.kind === 'retry' || error.kind === 'throttle');
      if (retriable) throw retriable;
      const reasons = [...new Set(errors.map((error) => error.message))].join('; ');
      throw new ProviderError('fail', `No device accepted the notification: ${reasons}`);
    },
  };
}
