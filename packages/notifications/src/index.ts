export { BatchRefusedError, NotificationService, chainBlockedRetry, type RefusedInput } from './notification-service';
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
export { unprovenReason, unreachableReason } from './reachability';
export { UNSUBSCRIBE_PATH, UnsubscribeLinks } from './unsubscribe';
export type { OptOutChannel } from './unsubscribe';
export type { ContactPoints, ProvenContactPoints } from './reachability';
export { defaultSubject, languageOf, renderUnpaidSummary } from './reminder-summary';
export type { RenderedMessage } from './reminder-summary';
export { MASKED_CODE, TEMPLATE_KINDS, isTemplateKind, renderTemplate, type RenderedTemplate, type TemplateKind, type TemplateUser } from './templates';
export {
  CONTACT_CHANNEL,
  VERIFICATION,
  VERIFICATION_TEMPLATE,
  drawVerificationCode,
  verificationCodeHash,
  verificationCodeMatches,
  verificationMessage,
  type VerificationMessage,
} from './contact-verification';
export { settleTicketNotifications, type TicketSettlement } from './ticket-settlement';
export { connectNotificationService } from './connect';
export type { ConnectedNotificationService } from './connect';
export { isGsm7, messageOn, smsSegments, smsText, type SmsAuthor, type SmsSegments } from './sms-text';
