import { disableDeviceTokens, type PushTokenCipher, type StoredPushToken } from '@notofine/db';
import type { Logger } from '@notofine/logger';
import { defaultSubject } from '@notofine/notifications';
import { ProviderError, type PushProvider } from '@notofine/providers';
import type { EntityManager } from 'typeorm';
import { UndeliverableError, type ChannelSender } from './channel-sender';

/**
 * The push queue's sender: one notification goes to every active device of the user. It counts as
 * sent when at least one device took it; tokens the provider reports dead are disabled at once.
 */
export function pushSender(provider: PushProvider, manager: EntityManager, cipher: PushTokenCipher, logger: Logger): ChannelSender {
  /** The tokens in clear; a token that cannot be opened (its key was removed too early) is left out, loudly. */
  const openTokens = (devices: readonly StoredPushToken[], notificationId: number): string[] =>
    devices.flatMap((device) => {
      if (device.legacyToken !== null) return [device.legacyToken];
      try {
        return [cipher.open({ hash: device.hash, ciphertext: device.ciphertext!, keyId: device.keyId! })];
      } catch (error) {
        logger.error('cannot decrypt a push token: is its key still in PUSH_TOKEN_KEYS?', { notification_id: notificationId, key_id: device.keyId, error });
        return [];
      }
    });

  return {
    provider: provider.name,
    async send(target) {
      const tokens = openTokens(target.devices, target.id);
      if (tokens.length === 0) throw new UndeliverableError('The user has no active push device any more.');
      const outcome = await provider.send({
        notificationId: target.id,
        tokens,
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
      const next = nextTry(errors);
      if (next) throw next;
      const reasons = [...new Set(errors.map((error) => error.message))].join('; ');
      throw new ProviderError('fail', `No device accepted the notification: ${reasons}`);
    },
  };
}

/**
 * Of the refusals of devices that may still take a push, the one that decides when they are tried
 * again: a throttle of the whole provider (the channel waits anyway), else a failed call (an
 * attempt spent, then its backoff), else the longest wait of the devices over their own rate.
 * Undefined when no device may take it.
 */
export function nextTry(errors: readonly ProviderError[]): ProviderError | undefined {
  const throttles = errors.filter((error) => error.kind === 'throttle');
  return (
    throttles.find((error) => error.scope === 'provider') ??
    errors.find((error) => error.kind === 'retry') ??
    throttles.reduce<ProviderError | undefined>((longest, error) => (!longest || (error.retryAfterMs ?? 0) > (longest.retryAfterMs ?? 0) ? error : longest), undefined)
  );
}
