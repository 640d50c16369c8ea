import { Notification, Reminder } from '@notofine/db';
import { insertDevice, insertReminder, insertTicket, insertUser } from '@test/factories';
import type { PlannedReminder } from '../src';
import { startService, type ServiceHarness } from './service-harness';

// previewReminders says what processReminders would do, batch after batch, and does none of it.

let harness: ServiceHarness;
beforeAll(async () => {
  harness = await startService({ REMINDER_BATCH_SIZE: '2', SMS_DAILY_CAP: '1' });
});
afterAll(() => harness.stop());

it('plans exactly what the run then does, over several batches, and changes nothing itself', async () => {
  const reminders: Reminder[] = [];
  for (let i = 0; i < 5; i += 1) {
    const user = await insertUser(harness.env.db);
    await insertDevice(harness.env.db, user.id);
    if (i !== 2) await insertTicket(harness.env.db, user.id);
    reminders.push(await insertReminder(harness.env.db, user.id, ['email', 'sms', 'push']));
  }
  // One user past the SMS cap: their reminder leaves SMS out.
  await harness.env.db.query(`INSERT INTO notifications (user_id, channel, message, status, attempts) VALUES ($1, 'sms', 'Déjà', 'sent', 1)`, [reminders[4]!.userId]);
  const before = await harness.env.db.manager.find(Reminder, { order: { id: 'ASC' } });
  const planned: PlannedReminder[] = [];
  const now = new Date();

  const preview = await harness.service.previewReminders({ now, onReminder: (reminder) => planned.push(reminder) });

  expect(await harness.env.db.manager.find(Reminder, { order: { id: 'ASC' } })).toEqual(before);
  expect(await harness.env.db.manager.countBy(Notification, { reminderId: reminders[0]!.id })).toBe(0);
  expect(await harness.queues.queue('email').count()).toBe(0);

  const summary = await harness.service.processReminders({ now });

  expect(preview).toEqual(summary);
  expect(summary).toEqual({ processed: 4, skipped: 1, channels: { email: 4, sms: 3, push: 4 } });
  expect(planned.map((p) => p.reminderId).sort((a, b) => a - b)).toEqual(reminders.map((r) => r.id));
  const written = await harness.env.db.manager.find(Notification, { where: reminders.map((r) => ({ reminderId: r.id })) });
  const shape = (n: { reminderId: number | null; channel: string; message: string }) => `${n.reminderId} ${n.channel} ${n.message}`;
  expect(planned.flatMap((p) => p.notifications.map(shape)).sort()).toEqual(written.map(shape).sort());
});
