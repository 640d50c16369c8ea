export { NotificationService } from './notification-service';
export type {
  ChannelResult,
  NotificationServiceDeps,
  ReminderRunSummary,
  SendNotificationInput,
  TicketNotificationInput,
  TicketNotificationResult,
} from './notification-service';
export { unreachableReason } from './reachability';
export type { ContactPoints } from './reachability';
export { defaultSubject, languageOf, renderUnpaidSummary } from './reminder-summary';
export type { RenderedMessage } from './reminder-summary';
export { connectNotificationService } from './connect';
export type { ConnectedNotificationService } from './connect';
