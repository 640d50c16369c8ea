import { Device, User } from '@notofine/db';
import { NotFoundError } from '@notofine/errors';
import type { EntityManager } from 'typeorm';
import type { RegisterDeviceBody } from './dto';

/**
 * Registers a push token for a user. A token already known is moved to this user and re-enabled
 * (the app was reinstalled or another account signed in on the device): the latest registration wins.
 *
 * @returns the device, and whether it was created (false: refreshed)
 */
export async function registerDevice(
  manager: EntityManager,
  userId: number,
  body: RegisterDeviceBody,
): Promise<{ device: Device; created: boolean }> {
  if (!(await manager.existsBy(User, { id: userId }))) throw new NotFoundError('User', userId);
  const [row]: Array<{ id: number; inserted: boolean }> = await manager.query(
    `INSERT INTO devices (user_id, token, platform) VALUES ($1, $2, $3)
     ON CONFLICT (token) DO UPDATE
       SET user_id = excluded.user_id, platform = excluded.platform, last_seen_at = now(), disabled_at = NULL
     RETURNING id, (xmax = 0) AS inserted`,
    [userId, body.token, body.platform],
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
