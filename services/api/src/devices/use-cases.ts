import { Device, LIMITS, User, recordIdempotentResponse, type IdempotentWrite, type PushTokenCipher } from '@notofine/db';
import { NotFoundError } from '@notofine/errors';
import type { EntityManager } from 'typeorm';
import type { RegisterDeviceBody } from './dto';

/**
 * Registers a push token for a user. A token already known is moved to this user and re-enabled
 * (the app was reinstalled or another account signed in on the device): the latest registration wins.
 * A user keeps at most `LIMITS.devicesPerUser` devices: a new one pushes out the one seen least recently.
 *
 * With `idempotency`, its request's response is recorded in the same transaction.
 *
 * @returns the device, and whether it was created (false: refreshed)
 */
export async function registerDevice(
  manager: EntityManager,
  cipher: PushTokenCipher,
  userId: number,
  body: RegisterDeviceBody,
  idempotency?: IdempotentWrite<RegisteredDevice>,
): Promise<RegisteredDevice> {
  if (!idempotency) return storeDevice(manager, cipher, userId, body);
  return manager.transaction(async (transaction) => {
    const registered = await storeDevice(transaction, cipher, userId, body);
    await recordIdempotentResponse(transaction, idempotency, registered);
    return registered;
  });
}

/** A device registered, and whether it was created (false: refreshed). */
export interface RegisteredDevice {
  readonly device: Device;
  readonly created: boolean;
}

async function storeDevice(manager: EntityManager, cipher: PushTokenCipher, userId: number, body: RegisterDeviceBody): Promise<RegisteredDevice> {
  if (!(await manager.existsBy(User, { id: userId }))) throw new NotFoundError('User', userId);
  // The token is stored sealed, and found again by its hash.
  const sealed = cipher.seal(body.token);
  const [row]: Array<{ id: number; inserted: boolean }> = await manager.query(
    `INSERT INTO devices (user_id, token_hash, token_ciphertext, token_key_id, token_preview, platform) VALUES ($1, $2, $3, $4, $5, $6)
     ON CONFLICT (token_hash) DO UPDATE
       SET user_id = excluded.user_id, platform = excluded.platform, last_seen_at = now(), disabled_at = NULL,
           token = NULL, token_ciphertext = excluded.token_ciphertext, token_key_id = excluded.token_key_id
     RETURNING id, (xmax = 0) AS inserted`,
    [userId, sealed.hash, sealed.ciphertext, sealed.keyId, sealed.preview, body.platform],
  );
  // At most LIMITS.devicesPerUser: the ones seen least recently go (their tokens are likely dead).
  await manager.query(
    `DELETE FROM devices WHERE id IN (SELECT id FROM devices WHERE user_id = $1 ORDER BY last_seen_at DESC, id DESC OFFSET $2)`,
    [userId, LIMITS.devicesPerUser],
  );
  const device = await manager.findOneByOrFail(Device, { id: row!.id });
  return { device, created: row!.inserted };
}

export async function listDevices(manager: EntityManager, userId: number): Promise<Device[]> {
  if (!(await manager.existsBy(User, { id: userId }))) throw new NotFoundError('User', userId);
  return manager.find(Device, { where: { userId }, order: { id: 'ASC' } });
}

export async function unregisterDevice(manager: EntityManager, userId: number, deviceId: number): Promise<void> {
  const { affected } = await manager.delete(Device, { id: deviceId, userId });
  if (!affected) throw new NotFoundError(`Device ${deviceId} of user`, userId);
}
