import { PushTokenCipher } from '@notofine/db';
import { Router } from 'express';
import { allow } from '../api-keys/authenticate';
import type { ApiDeps } from '../deps';
import { answerOnce } from '../http/idempotency';
import { parseBody, parseId } from '../http/validation';
import { RegisterDeviceBody } from './dto';
import { deviceJson } from './json';
import { listDevices, registerDevice, unregisterDevice, type RegisteredDevice } from './use-cases';

export function deviceRoutes({ dataSource, config }: ApiDeps): Router {
  const router = Router();
  const cipher = new PushTokenCipher(config.security.pushTokenKeys);
  // An app registers and removes its user's devices with a user token.
  const adminOrSelf = allow('admin', 'self');
  const { manager } = dataSource;

  router.post('/users/:userId/devices', adminOrSelf, async (req, res) => {
    const userId = parseId(req.params.userId, 'user_id');
    const body = await parseBody(RegisterDeviceBody, req.body);
    const reply = answerOnce(req, res, ({ device, created }: RegisteredDevice) => ({ status: created ? 201 : 200, location: `/users/${userId}/devices/${device.id}`, body: deviceJson(device) }));
    reply.send(await registerDevice(manager, cipher, userId, body, reply.idempotency));
  });

  router.get('/users/:userId/devices', adminOrSelf, async (req, res) => {
    const devices = await listDevices(manager, parseId(req.params.userId, 'user_id'));
    res.json({ devices: devices.map(deviceJson) });
  });

  router.delete('/users/:userId/devices/:deviceId', adminOrSelf, async (req, res) => {
    await unregisterDevice(manager, parseId(req.params.userId, 'user_id'), parseId(req.params.deviceId, 'device_id'));
    res.status(204).end();
  });

  return router;
}
