import { adminApi } from '../admin/openapi';
import { contactVerificationApi } from '../contact-verification/openapi';
import { deviceApi } from '../devices/openapi';
import { healthApi } from '../health/openapi';
import { notificationApi } from '../notifications/openapi';
import { reminderApi } from '../reminders/openapi';
import { ticketApi } from '../tickets/openapi';
import { unsubscribeApi } from '../unsubscribe/openapi';
import { userTokenApi } from '../user-tokens/openapi';
import { userApi } from '../users/openapi';
import { webhookApi } from '../webhooks/openapi';
import { docsApi } from './openapi';
import type { ApiDomain } from './operation';

/** Every domain's part of the OpenAPI document, in the order it shows them. */
export const API_DOMAINS: readonly ApiDomain[] = [
  userApi,
  contactVerificationApi,
  userTokenApi,
  deviceApi,
  ticketApi,
  reminderApi,
  notificationApi,
  webhookApi,
  unsubscribeApi,
  adminApi,
  healthApi,
  docsApi,
];
