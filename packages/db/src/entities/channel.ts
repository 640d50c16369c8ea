/** The delivery channels, in the order they are listed everywhere. */
export const CHANNELS = ['email', 'sms', 'push'] as const;
export type Channel = (typeof CHANNELS)[number];

/** `cancelled` is final too: cancelled by the caller, or stopped by the user's opt-out or a paid ticket. */
export const NOTIFICATION_STATUSES = ['pending', 'sent', 'failed', 'cancelled'] as const;
export type NotificationStatus = (typeof NOTIFICATION_STATUSES)[number];

/**
 * The outcome the provider reports after accepting (`sent`): kept apart from the status, which
 * stays the seed's pending/sent/failed.
 */
export const DELIVERY_STATUSES = ['delivered', 'bounced', 'undelivered'] as const;
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];

export const TICKET_STATUSES = ['unpaid', 'paid', 'cancelled'] as const;
export type TicketStatus = (typeof TICKET_STATUSES)[number];

export const DEVICE_PLATFORMS = ['android', 'ios', 'web'] as const;
export type DevicePlatform = (typeof DEVICE_PLATFORMS)[number];

/** Limits shared by the API's validation and the database's constraints. */
export const LIMITS = {
  fullName: 200,
  email: 254,
  /** E.164: a plus sign and at most 15 digits. */
  phone: 16,
  locale: 35,
  timezone: 64,
  /** Bounded so that the unique index on tokens (at most 2,704 bytes a row) always fits. */
  deviceToken: 2048,
  ticketReference: 64,
  message: 1600,
  subject: 200,
  frequencyDays: { min: 1, max: 365 },
  amountCents: 100_000_000,
  apiKeyName: 100,
  digestKey: 100,
  /** Reminders one user may have: each sends on its own, so a loop or a caller gone wrong could flood them. */
  remindersPerUser: 50,
  /** Devices one user keeps: registering another removes the one seen least recently (apps re-register their tokens). */
  devicesPerUser: 20,
} as const;

/** `'a', 'b'` for a CHECK constraint's IN list. */
export function sqlList(values: readonly string[]): string {
  return values.map((value) => `'${value}'`).join(', ');
}
