export { BatchRefusedError, NotificationService, type RefusedInput } from './notification-service';
export type {
  ChannelResult,
  NotificationServiceDeps,
  PlannedReminder,
  ReminderRunSummary,
  SendNotificationInput,
  TicketNotificationInput,
  TicketNotificationResult,
} from './notification-service';
export { DEFAULT_QUIET_HOURS, TIME_OF_DAY, quietUntil } from './quiet-hours';
export type { QuietHours } from './quiet-hours';
export { unreachableReason } from './reachability';
export { UNSUBSCRIBE_PATH, UnsubscribeLinks } from './unsubscribe';
export type { OptOutChannel } from './unsubscribe';
export type { ContactPoints } from './reachability';
export { defaultSubject, languageOf, renderUnpaidSummary } from './reminder-summary';
export type { RenderedMessage } from './reminder-summary';
export { TEMPLATE_KINDS, isTemplateKind, renderTemplate, type RenderedTemplate, type TemplateKind, type TemplateUser } from './templates';
export { settleTicketNotifications, type TicketSettlement } from './ticket-settlement';
export { connectNotificationService } from './connect';
export type { ConnectedNotificationService } from './connect';
export { isGsm7, messageOn, smsSegments, smsText, type SmsAuthor, type SmsSegments } from './sms-text';
