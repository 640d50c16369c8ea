import { CHANNELS, DELIVERY_STATUSES, NOTIFICATION_STATUSES } from '@notofine/db';
import type { ParameterObject } from 'openapi3-ts/oas31';
import { apiKey, DATE_TIME, enumeration, ID, json, LOCATION, nullable, problem, record, ref, RETRY_AFTER, type ApiDomain } from '../docs/operation';
import { MAX_BATCH, NotifyTicketBody, SendBatchBody, SendNotificationBody } from './dto';
import { BATCH_PATH, PAGE_LIMIT } from './routes';

const CHANNEL = enumeration(CHANNELS);

const PAGE_QUERY: Record<string, Omit<ParameterObject, 'name' | 'in'>> = {
  limit: { description: 'Notifications per page.', schema: { type: 'integer', minimum: PAGE_LIMIT.min, maximum: PAGE_LIMIT.max, default: PAGE_LIMIT.default } },
  status: { description: 'Only the notifications of this status.', schema: enumeration(NOTIFICATION_STATUSES) },
  channel: { description: 'Only the notifications on this channel.', schema: CHANNEL },
  since: {
    description: 'Only the notifications created at or after this moment: a date-time with its offset (`2026-12-01T00:00:00+01:00`, its `+` written `%2B`).',
    schema: DATE_TIME,
  },
  until: { description: 'Only the notifications created before this moment (later than `since`).', schema: DATE_TIME },
  cursor: {
    description: 'The `next_cursor` of the previous page. It is valid with the filters (`status`, `channel`, `since`, `until`) of that page only, and the same user: another answers 400.',
    schema: { type: 'string' },
  },
};

const NOT_FOUND = problem('No such notification (or another user\'s, for a user token).');

/** The notifications routes (routes.ts) as the OpenAPI document shows them. */
export const notificationApi: ApiDomain = {
  tag: { name: 'Notifications', description: 'One message to one user on one channel, and what became of it: `pending`, then `sent`, `failed` or `cancelled`.' },
  schemas: {
    Notification: record({
      id: ID,
      user_id: ID,
      ticket_id: nullable(ID),
      reminder_id: nullable(ID),
      channel: CHANNEL,
      message: { type: 'string' },
      subject: nullable({ type: 'string', description: 'Email subject, push title.' }),
      status: enumeration(NOTIFICATION_STATUSES),
      error_message: nullable({ type: 'string', description: 'Why the last attempt failed, or why it was cancelled.' }),
      attempts: { type: 'integer', minimum: 0, description: 'Provider calls made so far.' },
      provider: nullable({ type: 'string', description: 'The provider that accepted it, e.g. `outbox`.' }),
      provider_message_id: nullable({ type: 'string' }),
      sent_at: nullable(DATE_TIME),
      delivery_status: nullable(enumeration(DELIVERY_STATUSES, 'What the provider\'s delivery receipts said of a sent notification.')),
      delivery_status_at: nullable(DATE_TIME),
      delivery_error: nullable({ type: 'string' }),
      scheduled_at: nullable({ ...DATE_TIME, description: 'When it is planned to go out, when not at once: `send_at`, the end of the user\'s quiet hours, a digest\'s window.' }),
      urgent: { type: 'boolean' },
      critical: { type: 'boolean' },
      digest_key: nullable({ type: 'string' }),
      template: nullable({ type: 'string', description: 'The template kind the message was rendered from, when the send named one.' }),
      fallback_channels: { type: 'array', items: CHANNEL, description: 'The channels still to try if this one ends failed.' },
      fallback_from_id: nullable({ ...ID, description: 'The failed notification this one stands in for.' }),
      fallback_to_id: nullable({ ...ID, description: 'The notification that stood in for this one once it failed.' }),
      skipped_channels: {
        type: 'array',
        items: record({ channel: CHANNEL, reason: { type: 'string', description: 'Why, e.g. `the user has no active push device`.' } }),
        description:
          'The channels the send named (its `channel` and `fallback`) that could not take it when it was accepted, and why: the notification went on the first that could (`channel`), and those after it stay in `fallback_channels`.',
      },
      created_at: DATE_TIME,
      updated_at: DATE_TIME,
    }),
    NotificationBatch: record({
      notifications: { type: 'array', items: ref('Notification'), description: 'The pending notifications, in the order of the request\'s.' },
    }),
    NotificationPage: record({
      notifications: { type: 'array', items: ref('Notification'), description: 'Newest first.' },
      next_cursor: nullable({ type: 'string', description: 'Pass it as `cursor` for the next page; null on the last.' }),
    }),
    TicketNotification: record({
      ticket_id: ID,
      user_id: ID,
      channels: record(
        Object.fromEntries(
          CHANNELS.map((channel) => [
            channel,
            {
              oneOf: [
                record({ status: { type: 'string', enum: ['pending'] }, notification_id: ID }),
                record({ status: { type: 'string', enum: ['skipped'] }, reason: { type: 'string' } }),
              ],
            },
          ]),
        ),
        'What became of each channel: a pending notification, or why it was skipped.',
      ),
      notifications: { type: 'array', items: ref('Notification') },
    }),
  },
  operations: [
    {
      method: 'post',
      path: '/notifications/send',
      summary: 'Send a notification',
      description:
        'Give a `message`, or a `template` and its `data`. The notification is written `pending` and queued; the workers send it, retry it, and record `sent` or `failed`. SMS and push wait for the end of the user\'s quiet hours unless `urgent`; `send_at` holds it until then. When `channel` cannot take it (the user cannot be reached there, turned it off or unsubscribed, or an SMS past the daily cap), it goes on the first `fallback` channel that can: the answer\'s `channel` says which, and `skipped_channels` why the others were left out.',
      access: apiKey('send'),
      body: { dto: SendNotificationBody },
      responses: {
        202: json('Accepted: the pending notification.', ref('Notification'), LOCATION),
        404: problem('No such user or ticket.'),
        422: problem('Neither the channel nor any of its fallbacks can take it: the user cannot be reached there (`channel-unreachable`), turned it off (`channel-disabled`) or unsubscribed (`channel-opted-out`); the type is the channel\'s, `errors` name each. Or the ticket is another user\'s.'),
        429: problem('An SMS past the user\'s SMS_DAILY_CAP (`sms-daily-cap-reached`), with no fallback that can take it.', RETRY_AFTER),
      },
    },
    {
      method: 'post',
      path: BATCH_PATH,
      summary: 'Send many notifications at once',
      description: `Up to ${MAX_BATCH} notifications, each as \`POST /notifications/send\` takes it, written by one statement and queued at once. All or none: when any of them is invalid or cannot be sent, none is, and the answer names each one (\`notifications[3].channel\`) with what its own send would have been told. The body may be up to HTTP_BATCH_BODY_LIMIT (4 MiB).`,
      access: apiKey('send'),
      body: { dto: SendBatchBody },
      responses: {
        202: json('Accepted: the pending notifications.', ref('NotificationBatch')),
        422: problem('Some of them cannot be sent (`batch-refused`): an unknown user or ticket, neither the channel nor a fallback can take it, an SMS past the daily cap with no fallback. Its `errors` name each one; nothing was written.'),
      },
    },
    {
      method: 'post',
      path: '/tickets/:ticketId/notify',
      summary: 'Notify a ticket\'s owner',
      description: 'One notification per channel the owner can be reached on and accepts.',
      access: apiKey('send'),
      body: { dto: NotifyTicketBody },
      responses: {
        202: json('Accepted: what became of each channel, and the pending notifications.', ref('TicketNotification')),
        404: problem('No such ticket.'),
        422: problem('No channel can reach the user (`no-reachable-channel`).'),
      },
    },
    {
      method: 'get',
      path: '/notifications/:notificationId',
      summary: 'Read a notification',
      access: apiKey('send', 'owned'),
      responses: { 200: json('The notification.', ref('Notification')), 404: NOT_FOUND },
    },
    {
      method: 'get',
      path: '/users/:userId/notifications',
      summary: 'List a user\'s notifications',
      access: apiKey('send', 'self'),
      query: PAGE_QUERY,
      responses: { 200: json('A page of notifications, newest first.', ref('NotificationPage')), 404: problem('No such user (or another user\'s, for a user token).') },
    },
    {
      method: 'get',
      path: '/notifications',
      summary: 'List every user\'s notifications',
      description: 'For operators, e.g. the failed ones: `?status=failed`.',
      access: apiKey('admin'),
      query: PAGE_QUERY,
      responses: { 200: json('A page of notifications, newest first.', ref('NotificationPage')) },
    },
    {
      method: 'post',
      path: '/notifications/:notificationId/cancel',
      summary: 'Cancel a pending notification',
      description: 'It is then never sent; its job is removed.',
      access: apiKey('send'),
      responses: {
        200: json('The notification, `cancelled`.', ref('Notification')),
        404: NOT_FOUND,
        409: problem('It is not pending (sent, failed, cancelled), or an attempt is sending it right now.'),
      },
    },
    {
      method: 'post',
      path: '/notifications/:notificationId/retry',
      summary: 'Retry a failed notification',
      description: 'Back to `pending` with a fresh set of attempts, and queued: that notification only. Failing again, it does not hand over to its fallback chain a second time.',
      access: apiKey('admin'),
      responses: {
        202: json('Accepted: the notification, `pending` again.', ref('Notification'), LOCATION),
        404: NOT_FOUND,
        409: problem('It is not failed, or another notification of its fallback chain was sent (a retry would send the message twice) or is still pending.'),
      },
    },
  ],
};
