import { API_KEY_SCOPES, ApiKey, type ApiKeyScope } from './api-key';
import { ChannelPreference } from './channel-preference';
import { CONTACTS, ContactVerification, type Contact } from './contact-verification';
import { DeliveryEvent } from './delivery-event';
import { Device } from './device';
import { IdempotencyKey } from './idempotency-key';
import { Notification, type ChannelVariant, type ChannelVariants, type SkippedChannel } from './notification';
import { PendingPushDevice } from './pending-push-device';
import { Reminder } from './reminder';
import { ReminderChannel } from './reminder-channel';
import { SmsReply } from './sms-reply';
import { Ticket } from './ticket';
import { User } from './user';

export * from './channel';
export { API_KEY_SCOPES, ApiKey, type ApiKeyScope, ChannelPreference, CONTACTS, ContactVerification, type Contact, DeliveryEvent, Device, IdempotencyKey, Notification, PendingPushDevice, Reminder, ReminderChannel, SmsReply, Ticket, User, type ChannelVariant, type ChannelVariants, type SkippedChannel };

export const ENTITIES = [User, ChannelPreference, ContactVerification, Device, Ticket, Reminder, ReminderChannel, Notification, DeliveryEvent, ApiKey, IdempotencyKey, PendingPushDevice, SmsReply];
