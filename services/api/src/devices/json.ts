import type { Device } from '@notofine/db';

/** A device as the API shows it: the token is never shown whole. */
export function deviceJson(device: Device) {
  return {
    id: device.id,
    user_id: device.userId,
    platform: device.platform,
    token_preview: `…${device.token.slice(-6)}`,
    active: device.disabledAt === null,
    created_at: device.createdAt,
    last_seen_at: device.lastSeenAt,
    disabled_at: device.disabledAt,
  };
}
