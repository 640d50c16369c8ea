import { defaultSubject, languageOf, type UnsubscribeLinks } from '@notofine/notifications';
import { escapeHtml, toProviderError, withRecipientMasked, type EmailProvider } from '@notofine/providers';
import { UndeliverableError, type ChannelSender } from './channel-sender';

const UNSUBSCRIBE_FOOTER = { fr: 'Ne plus recevoir ces emails :', en: 'Stop receiving these emails:' } as const;

/** The email queue's sender: every email carries its one-click unsubscribe link, in a header and at its foot. */
export function emailSender(provider: EmailProvider, unsubscribe: UnsubscribeLinks): ChannelSender {
  return {
    provider: provider.name,
    async send(target) {
      if (!target.email) throw new UndeliverableError('The user has no email address any more.');
      // A code goes to an address nobody proved yet: a link acting on the user's account has no place there.
      const unsubscribeUrl = target.contactVerificationId === null ? unsubscribe.url(target.userId, 'email') : undefined;
      const lang = languageOf(target.locale);
      const footer = unsubscribeUrl && `${UNSUBSCRIBE_FOOTER[lang]} ${unsubscribeUrl}`;
      const link = unsubscribeUrl && escapeHtml(unsubscribeUrl);
      const to = target.email;
      return provider.send({
        notificationId: target.id,
        to,
        subject: target.subject ?? defaultSubject(target.locale),
        text: footer ? `${target.message}\n\n-- \n${footer}` : target.message,
        // A template's own HTML body, with the same foot.
        html: target.html === null ? undefined : link ? `${target.html}\n<p>-- <br>\n${escapeHtml(UNSUBSCRIBE_FOOTER[lang])} <a href="${link}">${link}</a></p>` : target.html,
        lang,
        unsubscribeUrl,
      }).catch((error: unknown) => {
        // Whatever the provider, the address it quotes back in any form is masked before the row, the logs and Redis see it.
        throw withRecipientMasked(toProviderError(error), to);
      });
    },
  };
}
