import { Router } from 'express';
import { allow, ownerOf } from '../api-keys/authenticate';
import type { ApiDeps } from '../deps';
import { answerOnce } from '../http/idempotency';
import { parseBooleanQuery } from '../http/query-parameters';
import { parseBody, parseId } from '../http/validation';
import { CreateReminderBody, UpdateReminderBody } from './dto';
import { reminderJson } from './json';
import { createReminder, deleteReminder, getReminder, listReminders, updateReminder, type ReminderWithChannels } from './use-cases';

export function reminderRoutes({ dataSource, notifications, metrics }: ApiDeps): Router {
  const router = Router();
  const admin = allow('admin');
  // A user token manages its own user's reminders.
  const adminOrSelf = allow('admin', 'self');
  const adminOrOwner = allow('admin', 'owned');
  const { manager } = dataSource;

  router.post('/users/:userId/reminders', adminOrSelf, async (req, res) => {
    const userId = parseId(req.params.userId, 'user_id');
    const body = await parseBody(CreateReminderBody, req.body);
    const reply = answerOnce(req, res, (reminder: ReminderWithChannels) => ({ status: 201, location: `/reminders/${reminder.id}`, body: reminderJson(reminder) }));
    reply.send(await createReminder(manager, userId, body, ownerOf(res), reply.idempotency));
  });

  router.get('/users/:userId/reminders', adminOrSelf, async (req, res) => {
    const reminders = await listReminders(manager, parseId(req.params.userId, 'user_id'), parseBooleanQuery(req.query.active, 'active'));
    res.json({ reminders: reminders.map(reminderJson) });
  });

  // Registered before /reminders/:reminderId so that "process" is never read as an id. Run again
  // (a retry after a crash), it sends nothing twice: each due reminder is claimed once a period.
  // Its answer then counts what that run did, not the first.
  router.post('/reminders/process', admin, async (_req, res) => {
    const summary = await notifications.processReminders();
    metrics.recordReminderRun(summary);
    res.json(summary);
  });

  router.get('/reminders/:reminderId', adminOrOwner, async (req, res) => {
    res.json(reminderJson(await getReminder(manager, parseId(req.params.reminderId, 'reminder_id'), ownerOf(res))));
  });

  router.patch('/reminders/:reminderId', adminOrOwner, async (req, res) => {
    const reminderId = parseId(req.params.reminderId, 'reminder_id');
    const body = await parseBody(UpdateReminderBody, req.body);
    res.json(reminderJson(await updateReminder(manager, reminderId, body, ownerOf(res))));
  });

  router.delete('/reminders/:reminderId', adminOrOwner, async (req, res) => {
    await deleteReminder(manager, parseId(req.params.reminderId, 'reminder_id'), ownerOf(res));
    res.status(204).end();
  });

  return router;
}
