import type { Notification } from '@notofine/db';
import type { TicketNotificationResult } from '@notofine/notifications';

/**
 * A date as JSON.stringify would write it, written here: the serializer calls each Date's toJSON
 * back from native code, the slow way round, five times a notification.
 */
function iso(date: Date): string;
function iso(date: Date | null): string | null;
function iso(date: Date | null): string | null {
  return date === null ? null : date.toISOString();
}

export function notificationJson(notification: Notification) {
  return {
    id: notification.id,
    user_id: notification.userId,
    ticket_id: notification.ticketId,
    reminder_id: notification.reminderId,
    channel: notification.channel,
    message: notification.message,
    subject: notification.subject,
    status: notification.status,
    error_message: notification.errorMessage,
    attempts: notification.attempts,
    provider: notification.provider,
    provider_message_id: notification.providerMessageId,
    sent_at: iso(notification.sentAt),
    delivery_status: notification.deliveryStatus,
    delivery_status_at: iso(notification.deliveryStatusAt),
    delivery_error: notification.deliveryError,
    scheduled_at: iso(notification.scheduledAt),
    urgent: notification.urgent,
    critical: notification.critical,
    digest_key: notification.digestKey,
    template: notification.template,
    // The fallback chain: the channels still to try, the notification this one stands in for, the one that stood in for it.
    fallback_channels: notification.fallbackChannels ?? [],
    fallback_from_id: notification.fallbackFromId,
    fallback_to_id: notification.fallbackToId,
    // The channels the send named that it did not start on, or left out of its chain, and why.
    skipped_channels: notification.skippedChannels ?? [],
    created_at: iso(notification.createdAt),
    updated_at: iso(notification.updatedAt),
  };
}

export function ticketNotificationJson(result: TicketNotificationResult) {
  return {
    ticket_id: result.ticketId,
    user_id: result.userId,
    channels: Object.fromEntries(
      Object.entries(result.channels).map(([channel, outcome]) => [
        channel,
        outcome.status === 'pending'
          ? { status: 'pending', notification_id: outcome.notification.id }
          : { status: 'skipped', reason: outcome.reason },
      ]),
    ),
    notifications: result.notifications.map(notificationJson),
  };
}
