import type { Notification } from '@notofine/db';
import type { TicketNotificationResult } from '@notofine/notifications';

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
    sent_at: notification.sentAt,
    delivery_status: notification.deliveryStatus,
    delivery_status_at: notification.deliveryStatusAt,
    delivery_error: notification.deliveryError,
    scheduled_at: notification.scheduledAt,
    urgent: notification.urgent,
    critical: notification.critical,
    digest_key: notification.digestKey,
    template: notification.template,
    // The fallback chain: the channels still to try, the notification this one stands in for, the one that stood in for it.
    fallback_channels: notification.fallbackChannels ?? [],
    fallback_from_id: notification.fallbackFromId,
    fallback_to_id: notification.fallbackToId,
    created_at: notification.createdAt,
    updated_at: notification.updatedAt,
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
