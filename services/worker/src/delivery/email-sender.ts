import { defaultSubject } from '@notofine/notifications';
import type { EmailProvider } from '@notofine/providers';
import { UndeliverableError, type ChannelSender } from './channel-sender';

/** The email queue's sender. */
export function emailSender(provider: EmailProvider): ChannelSender {
  return {
    provider: provider.name,
    async send(target) {
      if (!target.email) throw new UndeliverableError('The user has no email address any more.');
      return provider.send({
        notificationId: target.id,
        to: target.email,
        subject: target.subject ?? defaultSubject(target.locale),
        text: target.message,
      });
    },
  };
}
