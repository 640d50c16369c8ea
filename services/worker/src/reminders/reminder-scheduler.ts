import type { Logger } from '@notofine/logger';
import type { Metrics } from '@notofine/metrics';
import type { NotificationService } from '@notofine/notifications';
import { FINISHED_JOB_RETENTION, REMINDER_JOB, REMINDER_QUEUE, REMINDER_SCHEDULER_ID, logQueueErrors } from '@notofine/queue';
import { Queue, Worker } from 'bullmq';
import type { Redis } from 'ioredis';

export interface ReminderScheduler {
  readonly queue: Queue;
  readonly worker: Worker;
  /** Registers the job scheduler again (idempotent): Redis may have lost it. */
  ensure(): Promise<void>;
}

/**
 * Registers the job scheduler that ticks reminder processing on `schedule` (a cron pattern) and the
 * worker that runs each tick.
 *
 * BullMQ keeps one scheduler per id: every replica upserts the same one, and each tick is a single
 * job that exactly one replica takes. Two ticks that overlap are safe all the same, since claiming
 * reminders is.
 */
export async function startReminderScheduler(options: {
  connection: Redis;
  prefix: string;
  schedule: string;
  service: NotificationService;
  logger: Logger;
  metrics: Metrics;
}): Promise<ReminderScheduler> {
  const { connection, prefix, schedule, service, logger, metrics } = options;
  const queue = new Queue(REMINDER_QUEUE, { connection, prefix });
  logQueueErrors(queue, logger, { queue: REMINDER_QUEUE });
  const ensure = async () => {
    await queue.upsertJobScheduler(
      REMINDER_SCHEDULER_ID,
      { pattern: schedule },
      { name: REMINDER_JOB, data: {}, opts: { ...FINISHED_JOB_RETENTION, attempts: 3, backoff: { type: 'exponential', delay: 10_000 } } },
    );
  };
  await ensure();
  const worker = new Worker(
    REMINDER_QUEUE,
    async () => {
      const summary = await service.processReminders();
      metrics.recordReminderRun(summary);
      return summary;
    },
    { connection, prefix, concurrency: 1 },
  );
  worker.on('failed', (job, error) => logger.error('reminder run failed', { job_id: job?.id, error }));
  logQueueErrors(worker, logger, { queue: REMINDER_QUEUE });
  logger.info('reminder scheduler registered', { schedule });
  return { queue, worker, ensure };
}
