import { API_KEY_SCOPES, ApiKey, type ApiKeyScope } from './api-key';
import { ChannelPreference } from './channel-preference';
import { DeliveryEvent } from './delivery-event';
import { Device } from './device';
import { IdempotencyKey } from './idempotency-key';
import { Notification, type ChannelVariant, type ChannelVariants, type SkippedChannel } from './notification';
import { Reminder } from './reminder';
import { ReminderChannel } from './reminder-channel';
import { Ticket } from './ticket';
import { User } from './user';

export * from './channel';
export { API_KEY_SCOPES, ApiKey, type ApiKeyScope, ChannelPreference, DeliveryEvent, Device, IdempotencyKey, Notification, Reminder, ReminderChannel, Ticket, User, type ChannelVariant, type ChannelVariants, type SkippedChannel };

export const ENTITIES = [User, ChannelPreference, Device, Ticket, Reminder, ReminderChannel, Notification, DeliveryEvent, ApiKey, IdempotencyKey];
