import { NOTIFICATION_STATUSES, Notification, User, listUserNotifications, type NotificationStatus } from '@notofine/db';
import { NotFoundError, ValidationError } from '@notofine/errors';
import { Router } from 'express';
import type { ApiDeps } from '../deps';
import { parseBody, parseId, parseIntegerQuery, parseStringQuery } from '../http/validation';
import { decodeCursor, encodeCursor } from './cursor';
import { NotifyTicketBody, SendNotificationBody } from './dto';
import { notificationJson, ticketNotificationJson } from './json';

export function notificationRoutes({ dataSource, notifications }: ApiDeps): Router {
  const router = Router();
  const { manager } = dataSource;

  router.post('/notifications/send', async (req, res) => {
    const body = await parseBody(SendNotificationBody, req.body);
    const notification = await notifications.sendNotification({
      userId: body.user_id,
      message: body.message,
      channel: body.channel,
      subject: body.subject,
      ticketId: body.ticket_id,
    });
    res.status(202).location(`/notifications/${notification.id}`).json(notificationJson(notification));
  });

  router.post('/tickets/:ticketId/notify', async (req, res) => {
    const ticketId = parseId(req.params.ticketId, 'ticket_id');
    const body = await parseBody(NotifyTicketBody, req.body);
    const result = await notifications.sendTicketNotification({ ticketId, message: body.message, subject: body.subject });
    res.status(202).json(ticketNotificationJson(result));
  });

  router.get('/notifications/:notificationId', async (req, res) => {
    const id = parseId(req.params.notificationId, 'notification_id');
    const notification = await manager.findOneBy(Notification, { id });
    if (!notification) throw new NotFoundError('Notification', id);
    res.json(notificationJson(notification));
  });

  router.get('/users/:userId/notifications', async (req, res) => {
    const userId = parseId(req.params.userId, 'user_id');
    const limit = parseIntegerQuery(req.query.limit, 'limit', { min: 1, max: 100, default: 10 });
    const cursor = parseStringQuery(req.query.cursor, 'cursor');
    const status = parseStringQuery(req.query.status, 'status');
    if (status !== undefined && !NOTIFICATION_STATUSES.includes(status as NotificationStatus)) {
      throw ValidationError.forField('query.status', `must be one of ${NOTIFICATION_STATUSES.join(', ')}`);
    }
    if (!(await manager.existsBy(User, { id: userId }))) throw new NotFoundError('User', userId);
    const page = await listUserNotifications(manager, userId, {
      limit,
      before: cursor === undefined ? undefined : decodeCursor(cursor),
      status: status as NotificationStatus | undefined,
    });
    res.json({ notifications: page.items.map(notificationJson), next_cursor: page.next && encodeCursor(page.next) });
  });

  return router;
}
