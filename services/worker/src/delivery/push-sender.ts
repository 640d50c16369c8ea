import { disableDeviceTokens, type DeliveryTarget, type PendingDevices, type PushTokenCipher, type StoredPushToken } from '@notofine/db';
import type { Logger } from '@notofine/logger';
import { defaultSubject } from '@notofine/notifications';
import { ProviderError, type PushProvider } from '@notofine/providers';
import type { EntityManager } from 'typeorm';
import { UndeliverableError, type ChannelSender, type Sent } from './channel-sender';

/** What became of one push on each device it was sent to. */
export interface DeviceOutcomes {
  /** The devices that took it, in the provider's order, with the provider's message id. */
  readonly accepted: ReadonlyArray<{ readonly deviceId: number; readonly providerMessageId: string | null }>;
  /** The devices that may still take it: refused for now (retry, throttle). */
  readonly pending: ReadonlyArray<{ readonly deviceId: number; readonly error: ProviderError }>;
  /** The devices that never will: a dead token (its device is now disabled), or a refusal for good. */
  readonly refused: ReadonlyArray<{ readonly deviceId: number; readonly error: ProviderError }>;
}

/** The push queue's sender, which also sends a sent push to the devices still pending. */
export interface PushSender extends ChannelSender {
  /**
   * Sends the push to the target's devices, each device's result its own; dead tokens are
   * disabled at once. Throws a ProviderError when the whole call failed, UndeliverableError when
   * no device is left to send to.
   */
  sendToDevices(target: DeliveryTarget): Promise<DeviceOutcomes>;
}

/**
 * The push queue's sender: one notification goes to every active device of the user. It counts as
 * sent when at least one device took it; the devices that refused it for now are then pending,
 * to be sent it later (see `deliverToPendingDevices`); tokens the provider reports dead are
 * disabled at once.
 */
export function pushSender(provider: PushProvider, manager: EntityManager, cipher: PushTokenCipher, logger: Logger): PushSender {
  /** The tokens in clear; a token that cannot be opened (its key was removed too early) is left out, loudly. */
  const openTokens = (devices: readonly StoredPushToken[], notificationId: number): Array<{ deviceId: number; token: string }> =>
    devices.flatMap((device) => {
      if (device.legacyToken !== null) return [{ deviceId: device.id, token: device.legacyToken }];
      try {
        return [{ deviceId: device.id, token: cipher.open({ hash: device.hash, ciphertext: device.ciphertext!, keyId: device.keyId! }) }];
      } catch (error) {
        logger.error('cannot decrypt a push token: is its key still in PUSH_TOKEN_KEYS?', { notification_id: notificationId, key_id: device.keyId, error });
        return [];
      }
    });

  async function sendToDevices(target: DeliveryTarget): Promise<DeviceOutcomes> {
    const devices = openTokens(target.devices, target.id);
    if (devices.length === 0) throw new UndeliverableError('The user has no active push device any more.');
    const outcome = await provider.send({
      notificationId: target.id,
      tokens: devices.map(({ token }) => token),
      title: target.subject ?? defaultSubject(target.locale),
      body: target.message,
    });
    const deviceOf = new Map(devices.map(({ deviceId, token }) => [token, deviceId]));

    const dead = outcome.refused.filter(({ error }) => error.kind === 'invalid-address').map(({ token }) => token);
    if (dead.length > 0) {
      const disabled = await disableDeviceTokens(manager, dead);
      logger.info('disabled dead push tokens', { notification_id: target.id, devices: disabled });
    }
    const mayStillTake = (error: ProviderError) => error.kind === 'retry' || error.kind === 'throttle';
    return {
      accepted: outcome.accepted.map(({ token, providerMessageId }) => ({ deviceId: deviceOf.get(token)!, providerMessageId })),
      pending: outcome.refused.filter(({ error }) => mayStillTake(error)).map(({ token, error }) => ({ deviceId: deviceOf.get(token)!, error })),
      refused: outcome.refused.filter(({ error }) => !mayStillTake(error)).map(({ token, error }) => ({ deviceId: deviceOf.get(token)!, error })),
    };
  }

  return {
    provider: provider.name,
    sendToDevices,
    async send(target): Promise<Sent> {
      const outcome = await sendToDevices(target);
      const [first] = outcome.accepted;
      if (first) {
        const pending = pendingDevicesOf(provider.name, outcome);
        return { providerMessageId: first.providerMessageId, ...(pending && { pending }) };
      }
      // Nothing delivered: retry when a device might still take it, otherwise give up.
      const next = nextTry(outcome.pending.map(({ error }) => error));
      if (next) throw next;
      const reasons = [...new Set(outcome.refused.map(({ error }) => error.message))].join('; ');
      throw new ProviderError('fail', `No device accepted the notification: ${reasons}`);
    },
  };
}

/** The devices of an outcome still to reach, the refusal that decides when they are tried again, and why, for their rows. */
export function pendingDevicesOf(providerName: string, outcome: DeviceOutcomes): (PendingDevices & { readonly next: ProviderError }) | undefined {
  const next = nextTry(outcome.pending.map(({ error }) => error));
  if (!next) return undefined;
  const reasons = [...new Set(outcome.pending.map(({ error }) => error.message))].join('; ');
  return { deviceIds: outcome.pending.map(({ deviceId }) => deviceId), errorMessage: `${providerName}: ${reasons}`, next };
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
