import { DEVICE_PLATFORMS } from '@notofine/db';
import { apiKey, DATE_TIME, empty, enumeration, ID, json, LOCATION, nullable, problem, record, ref, type ApiDomain } from '../docs/operation';
import { RegisterDeviceBody } from './dto';

/** The devices routes (routes.ts) as the OpenAPI document shows them. */
export const deviceApi: ApiDomain = {
  tag: { name: 'Devices', description: 'A user\'s push devices (FCM registration tokens, encrypted at rest and never shown back whole).' },
  schemas: {
    Device: record({
      id: ID,
      user_id: ID,
      platform: enumeration(DEVICE_PLATFORMS),
      token_preview: { type: 'string', description: 'The token\'s last characters, after an ellipsis.' },
      active: { type: 'boolean', description: 'False once the provider reported the token dead.' },
      created_at: DATE_TIME,
      last_seen_at: DATE_TIME,
      disabled_at: nullable(DATE_TIME),
    }),
    DeviceList: record({ devices: { type: 'array', items: ref('Device') } }),
  },
  operations: [
    {
      method: 'post',
      path: '/users/:userId/devices',
      summary: 'Register a push device',
      description: 'A token already known moves to this user and is enabled again (200).',
      access: apiKey('admin', 'self'),
      body: { dto: RegisterDeviceBody },
      responses: {
        200: json('The token was known: its device, now this user\'s and active.', ref('Device'), LOCATION),
        201: json('The new device.', ref('Device'), LOCATION),
        404: problem('No such user (or another user\'s, for a user token).'),
      },
    },
    {
      method: 'get',
      path: '/users/:userId/devices',
      summary: 'List a user\'s devices',
      access: apiKey('admin', 'self'),
      responses: { 200: json('The devices.', ref('DeviceList')), 404: problem('No such user (or another user\'s, for a user token).') },
    },
    {
      method: 'delete',
      path: '/users/:userId/devices/:deviceId',
      summary: 'Unregister a device',
      access: apiKey('admin', 'self'),
      responses: { 204: empty('Unregistered.'), 404: problem('No such device of this user.') },
    },
  ],
};
