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
