import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import type { Config } from '@notofine/config';
import { CHANNELS, resetFailedNotification } from '@notofine/db';
import type { Logger } from '@notofine/logger';
import { chainBlockedRetry } from '@notofine/notifications';
import { REMINDER_QUEUE, logQueueErrors, type DeliveryJobData, type DeliveryQueues } from '@notofine/queue';
import { Queue, type Job } from 'bullmq';
import type { Router } from 'express';
import type { Redis } from 'ioredis';
import type { EntityManager } from 'typeorm';

type RetryState = Parameters<Job['retry']>[0];

/** Reopens a failed notification for its job to be retried; why not when it may not be (its chain delivered it). */
type Reopen = (notificationId: number) => Promise<string | null>;

/**
 * A delivery queue as the board shows it. Retrying a failed job from the board means "send this
 * notification again", as `POST /notifications/{id}/retry` does: the row goes back to `pending`
 * first (the worker leaves a `failed` row alone), and the job gets a fresh set of attempts. A
 * notification whose fallback chain another one delivered (or is still trying) is not retried: one
 * job retried gets 409 saying why, "retry all" leaves it failed and retries the others.
 */
class DeliveryQueueAdapter extends BullMQAdapter {
  constructor(
    queue: Queue<DeliveryJobData>,
    options: Partial<ConstructorParameters<typeof BullMQAdapter>[1]>,
    private readonly reopen: Reopen,
  ) {
    super(queue, options);
  }

  override async getJob(id: string): Promise<Job | undefined> {
    const job = await super.getJob(id);
    return job && this.retryingTheRow(job, 'refuse');
  }

  override async getJobs(statuses: Parameters<BullMQAdapter['getJobs']>[0], start?: number, end?: number): Promise<Job[]> {
    return (await super.getJobs(statuses, start, end)).map((job) => this.retryingTheRow(job, 'skip'));
  }

  /** The board calls `job.retry(state)` on the jobs it gets from the adapter: that call is wrapped. */
  private retryingTheRow(job: Job, whenRefused: 'refuse' | 'skip'): Job {
    const retry = job.retry.bind(job);
    job.retry = async (state?: RetryState) => {
      const refusal = state === 'failed' ? await this.reopen((job.data as DeliveryJobData).notificationId) : null;
      if (refusal !== null) {
        // The board answers with an error's `statusCode` and shows its message.
        if (whenRefused === 'refuse') throw Object.assign(new Error(refusal), { statusCode: 409 });
        return;
      }
      await retry(state, { resetAttemptsMade: true, resetAttemptsStarted: true });
    };
    return job;
  }
}

/**
 * Bull Board over every queue: the three delivery queues and the reminder scheduler's. In
 * read-only mode it shows them and offers no action. Its menu has a "Log out" link.
 */
export function queueBoard(options: {
  basePath: string;
  /** The page the board's "Log out" link opens. */
  logoutPath: string;
  config: Config;
  queues: DeliveryQueues;
  /** The API's Redis connection: the board opens its handle on the scheduler's queue over it. */
  redis: Redis;
  manager: EntityManager;
  logger: Logger;
}): Router {
  const { config, logger, manager } = options;
  const readOnly = config.admin.boardReadOnly;
  const adapterOptions = { readOnlyMode: readOnly, allowRetries: !readOnly };
  const reopen: Reopen = async (notificationId) => {
    const reset = await resetFailedNotification(manager, notificationId);
    if (reset !== null && typeof reset === 'object' && 'blockedBy' in reset) {
      logger.info('notification not retried from the queue board: its fallback chain delivered it or is still trying', { notification_id: notificationId, blocked_by: reset.blockedBy.id });
      return chainBlockedRetry(notificationId, reset.blockedBy);
    }
    logger.info('notification retried from the queue board', { notification_id: notificationId, reopened: typeof reset === 'object' && reset !== null });
    return null;
  };

  // A handle on a shared connection holds nothing of its own to close.
  const reminders = new Queue(REMINDER_QUEUE, { connection: options.redis, prefix: config.redis.queuePrefix });
  logQueueErrors(reminders, logger, { queue: REMINDER_QUEUE });
  const board = new ExpressAdapter();
  board.setBasePath(options.basePath);
  createBullBoard({
    queues: [...CHANNELS.map((channel) => new DeliveryQueueAdapter(options.queues.queue(channel), adapterOptions, reopen)), new BullMQAdapter(reminders, adapterOptions)],
    serverAdapter: board,
    // "Log out" in the board's own menu of links, which can only open a page: the logout page.
    options: { uiConfig: { boardTitle: 'Notofine queues', miscLinks: [{ text: 'Log out', url: options.logoutPath }] } },
  });
  return board.getRouter() as Router;
}
