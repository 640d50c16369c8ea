import type { Device } from '@notofine/db';

/** A device as the API shows it: the token is never shown whole, only its last characters (at most a quarter of it). */
export function deviceJson(device: Device) {
  return {
    id: device.id,
    user_id: device.userId,
    platform: device.platform,
    token_preview: `…${device.tokenPreview}`,
    active: device.disabledAt === null,
    created_at: device.createdAt,
    last_seen_at: device.lastSeenAt,
    disabled_at: device.disabledAt,
  };
}
