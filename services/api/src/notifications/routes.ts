import { CHANNELS, NOTIFICATION_STATUSES, Notification, User, listNotifications, type NotificationCursor, type NotificationFilters } from '@notofine/db';
import { NotFoundError, ValidationError } from '@notofine/errors';
import type { SendNotificationInput, TicketNotificationResult } from '@notofine/notifications';
import { Router, type Request } from 'express';
import { allow, ownerOf } from '../api-keys/authenticate';
import type { ApiDeps } from '../deps';
import { answerOnce, type Answer } from '../http/idempotency';
import { parseDateTimeQuery, parseEnumQuery } from '../http/query-parameters';
import { parseBody, parseId, parseIntegerQuery, parseStringQuery, validationErrorOf } from '../http/validation';
import { decodeCursor, encodeCursor, type Listing } from './cursor';
import { MAX_BATCH, NotifyTicketBody, SendBatchBody, SendNotificationBody } from './dto';
import { notificationJson, ticketNotificationJson } from './json';

/** Bounds and default of a listing's `limit`. */
export const PAGE_LIMIT = { min: 1, max: 100, default: 10 } as const;

/** Where many notifications are sent at once. */
export const BATCH_PATH = '/notifications/batch';

export function notificationRoutes({ dataSource, notifications }: ApiDeps): Router {
  const router = Router();
  const { manager } = dataSource;
  // Sending and reading notifications is what a `send` key may do; the rest needs `admin`.
  const send = allow('send');
  const admin = allow('admin');
  // A user token reads its own user's notifications; sending is the backend's.
  const sendOrSelf = allow('send', 'self');
  const sendOrOwner = allow('send', 'owned');

  // Each route that writes answers through answerOnce: with an Idempotency-Key, its response is
  // recorded in the transaction of its writes.
  router.post('/notifications/send', send, async (req, res) => {
    const body = await parseBody(SendNotificationBody, req.body);
    const reply = answerOnce(req, res, accepted);
    reply.send(await notifications.sendNotification(sendInput(body), { idempotency: reply.idempotency }));
  });

  // Up to a thousand sends in one request, each as /notifications/send takes it: all or none.
  router.post(BATCH_PATH, send, async (req, res) => {
    const batch = await parseBody(SendBatchBody, itemsAsObjects(req.body));
    const reply = answerOnce(req, res, (sent: Notification[]) => ({ status: 202, body: { notifications: sent.map(notificationJson) } }));
    reply.send(await notifications.sendNotifications(batch.notifications.map(sendInput), { idempotency: reply.idempotency }));
  });

  router.post('/tickets/:ticketId/notify', send, async (req, res) => {
    const ticketId = parseId(req.params.ticketId, 'ticket_id');
    const body = await parseBody(NotifyTicketBody, req.body);
    const reply = answerOnce(req, res, (result: TicketNotificationResult) => ({ status: 202, body: ticketNotificationJson(result) }));
    reply.send(await notifications.sendTicketNotification({ ticketId, message: body.message, subject: body.subject }, { idempotency: reply.idempotency }));
  });

  router.get('/notifications/:notificationId', sendOrOwner, async (req, res) => {
    const id = parseId(req.params.notificationId, 'notification_id');
    const owner = ownerOf(res);
    const notification = await manager.findOneBy(Notification, { id, ...(owner !== undefined && { userId: owner }) });
    if (!notification) throw new NotFoundError('Notification', id);
    res.json(notificationJson(notification));
  });

  router.get('/users/:userId/notifications', sendOrSelf, async (req, res) => {
    const userId = parseId(req.params.userId, 'user_id');
    const { listing, limit, before } = pageQuery(req, userId);
    const page = await listNotifications(manager, { userId, limit, before, ...listing.filters });
    // Only an empty page may be an unknown user's: the user is looked up then, not on every read.
    if (page.items.length === 0 && !(await manager.existsBy(User, { id: userId }))) throw new NotFoundError('User', userId);
    res.json({ notifications: page.items.map(notificationJson), next_cursor: page.next && encodeCursor(page.next, listing) });
  });

  // For operators: every user's notifications, e.g. the failed ones (`?status=failed`).
  router.get('/notifications', admin, async (req, res) => {
    const { listing, limit, before } = pageQuery(req, undefined);
    const page = await listNotifications(manager, { limit, before, ...listing.filters });
    res.json({ notifications: page.items.map(notificationJson), next_cursor: page.next && encodeCursor(page.next, listing) });
  });

  // Before it is sent: never sent then. 409 once sent, failed, cancelled, or while being sent.
  router.post('/notifications/:notificationId/cancel', send, async (req, res) => {
    const id = parseId(req.params.notificationId, 'notification_id');
    const reply = answerOnce(req, res, (notification: Notification) => ({ status: 200, body: notificationJson(notification) }));
    reply.send(await notifications.cancelNotification(id, undefined, { idempotency: reply.idempotency }));
  });

  router.post('/notifications/:notificationId/retry', admin, async (req, res) => {
    const id = parseId(req.params.notificationId, 'notification_id');
    const reply = answerOnce(req, res, accepted);
    reply.send(await notifications.retryNotification(id, { idempotency: reply.idempotency }));
  });

  return router;
}

/** 202 with the pending notification and where it is. */
function accepted(notification: Notification): Answer {
  return { status: 202, location: `/notifications/${notification.id}`, body: notificationJson(notification) };
}

function sendInput(body: SendNotificationBody): SendNotificationInput {
  return {
    userId: body.user_id,
    message: body.message,
    template: body.template && { kind: body.template, data: body.data ?? {} },
    channel: body.channel,
    subject: body.subject,
    ticketId: body.ticket_id,
    sendAt: body.send_at === undefined ? undefined : new Date(body.send_at),
    urgent: body.urgent,
    critical: body.critical,
    fallback: body.fallback,
    digestKey: body.digest_key,
  };
}

/**
 * A batch's list must not be too long and its items must each be an object: said here in the
 * words of the API, before class-transformer reads them (it would take a list for an object).
 */
function itemsAsObjects(body: unknown): unknown {
  const items = typeof body === 'object' && body !== null && !Array.isArray(body) ? (body as { notifications?: unknown }).notifications : undefined;
  if (!Array.isArray(items)) return body;
  // Refused as a whole, not with a line for each of its thousands of items.
  if (items.length > MAX_BATCH) throw ValidationError.forField('notifications', `must be a list of 1 to ${MAX_BATCH} notifications (got ${items.length}): split it`);
  const problems = items.flatMap((item: unknown, index) =>
    typeof item === 'object' && item !== null && !Array.isArray(item) ? [] : [{ field: `notifications[${index}]`, message: 'must be an object, a notification as POST /notifications/send takes it' }],
  );
  if (problems.length > 0) throw validationErrorOf(problems);
  return body;
}

/**
 * A listing's page (`limit`, and `cursor`, which must come from the same listing) and its filters:
 * `status`, `channel`, and the creation time from `since` (included) to `until` (excluded).
 */
function pageQuery(req: Request, userId: number | undefined): { listing: Listing; limit: number; before: NotificationCursor | undefined } {
  const limit = parseIntegerQuery(req.query.limit, 'limit', PAGE_LIMIT);
  const filters: NotificationFilters = {
    status: parseEnumQuery(req.query.status, 'status', NOTIFICATION_STATUSES),
    channel: parseEnumQuery(req.query.channel, 'channel', CHANNELS),
    since: parseDateTimeQuery(req.query.since, 'since'),
    until: parseDateTimeQuery(req.query.until, 'until'),
  };
  if (filters.since && filters.until && filters.until <= filters.since) throw ValidationError.forField('query.until', 'must be later than since');
  const listing: Listing = { userId, filters };
  const cursor = parseStringQuery(req.query.cursor, 'cursor');
  return { listing, limit, before: cursor === undefined ? undefined : decodeCursor(cursor, listing) };
}
