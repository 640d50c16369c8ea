import { CHANNELS, Notification, Reminder } from '@notofine/db';
import { REMINDER_SCHEDULER_ID } from '@notofine/queue';
import { insertReminder, insertUser } from '@test/factories';
import { waitFor } from '@test/wait-for';
import { startWorkerCluster, type WorkerCluster, type WorkerInstance } from './worker-harness';

/** Every second (cron with seconds), so that a test sees several ticks. */
const EVERY_SECOND = '* * * * * *';
const REPLICAS = 3;

let cluster: WorkerCluster;
let replicas: WorkerInstance[];
beforeAll(async () => {
  cluster = await startWorkerCluster({ env: { REMINDER_SCHEDULE: EVERY_SECOND } });
  replicas = [];
  for (let i = 0; i < REPLICAS; i += 1) replicas.push(await cluster.startWorker({ scheduleReminders: true }));
});
afterAll(() => cluster.stop());

/** The completed ticks that started after `time` (ms since the epoch). */
async function ticksStartedAfter(time: number): Promise<number> {
  const ticks = await cluster.queues.reminders.getCompleted();
  return ticks.filter((tick) => tick.processedOn! > time).length;
}

describe('reminder scheduler', () => {
  it('is registered once, with the configured schedule, however many workers start', async () => {
    const schedulers = await cluster.queues.reminders.getJobSchedulers();

    expect(schedulers).toHaveLength(1);
    expect(schedulers[0]).toMatchObject({ key: REMINDER_SCHEDULER_ID, pattern: EVERY_SECOND });
  });

  it('processes due reminders on its ticks, and sends each once whatever the number of workers', async () => {
    const user = await insertUser(cluster.env.db);
    const reminder = await insertReminder(cluster.env.db, user.id, ['email', 'sms'], { message: 'Pensez à payer votre contravention', nextRunAt: new Date(Date.now() - 60_000) });

    const sent = await waitFor('the reminder\'s notifications to be sent', async () => {
      const rows = await cluster.env.db.manager.findBy(Notification, { reminderId: reminder.id });
      return rows.length === 2 && rows.every((row) => row.status === 'sent') && rows;
    });
    const allSentAt = Date.now();
    await waitFor('two more ticks', async () => (await ticksStartedAfter(allSentAt)) >= 2);

    const notifications = await cluster.env.db.manager.findBy(Notification, { reminderId: reminder.id });
    expect(notifications.map((n) => n.channel).sort()).toEqual(['email', 'sms']);
    expect(notifications.map((n) => n.id).sort((a, b) => a - b)).toEqual(sent.map((n) => n.id).sort((a, b) => a - b));
    const ticks = await cluster.queues.reminders.getCompleted();
    expect(ticks.reduce((processed, tick) => processed + tick.returnvalue.processed, 0)).toBe(1);
    const providerCalls = replicas.flatMap((replica) => [...replica.providers.email.calls, ...replica.providers.sms.calls]);
    expect(providerCalls.filter((call) => sent.some((n) => n.id === call.notificationId))).toHaveLength(2);
    const rescheduled = await cluster.env.db.manager.findOneByOrFail(Reminder, { id: reminder.id });
    expect(rescheduled.lastRunAt).toBeInstanceOf(Date);
    expect(rescheduled.nextRunAt.getTime()).toBeGreaterThan(Date.now() + 6 * 24 * 3600_000);
  });

  it('when a worker stops, its workers are closed and the others keep the schedule going', async () => {
    const stopping = replicas.pop()!;
    const queues = [...CHANNELS.map((channel) => cluster.queues.channel(channel)), cluster.queues.reminders];
    const workersOnEachQueue = () => Promise.all(queues.map((queue) => queue.getWorkersCount()));
    expect(await workersOnEachQueue()).toEqual(queues.map(() => REPLICAS));

    await stopping.stop();
    const stoppedAt = Date.now();

    expect(CHANNELS.map((channel) => stopping.worker.workers[channel].isRunning())).toEqual([false, false, false]);
    await waitFor('the stopped worker to leave every queue', async () => (await workersOnEachQueue()).every((count) => count === REPLICAS - 1));
    expect(await cluster.queues.reminders.getJobSchedulers()).toHaveLength(1);
    await waitFor('a tick run by the remaining workers', async () => (await ticksStartedAfter(stoppedAt)) >= 1);
  });
});
