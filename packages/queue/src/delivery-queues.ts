import type { Channel } from '@notofine/db';
import { Queue, type BackoffStrategy, type JobsOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import { DELIVERY_JOB, DELIVERY_QUEUES, PENDING_DEVICES_JOB, deliveryJobId, pendingDevicesJobId, type DeliveryJobData } from './names';

/**
 * How the workers retry a delivery: read by the worker processes (DELIVERY_ATTEMPTS,
 * DELIVERY_BACKOFF_MS), not by those that queue the jobs, so that rolling the workers with new
 * values changes the retries of every job, those already queued included.
 */
export interface DeliveryPolicy {
  /** Provider calls per notification, the first included. */
  readonly attempts: number;
  /** Delay before the first retry; each next one doubles, with jitter. */
  readonly backoffMs: number;
}

/**
 * The attempts a delivery job is queued with: the most DELIVERY_ATTEMPTS may be (the config
 * refuses more). The worker ends a job failed once its own DELIVERY_ATTEMPTS are spent, so that
 * BullMQ's count never decides first.
 */
export const MAX_DELIVERY_ATTEMPTS = 50;

/** The backoff type of delivery jobs: computed by the worker's {@link deliveryBackoff}, from its own DELIVERY_BACKOFF_MS. */
export const DELIVERY_BACKOFF = 'delivery';

/** Jitter of the delivery backoff: each delay is drawn between half and all of its exponential value. */
const BACKOFF_JITTER = 0.5;

/**
 * The worker's retry delays for delivery jobs: `backoffMs` before the first retry, doubling each
 * time, each drawn between half and all of that (jitter). Jobs queued with another backoff type
 * (BullMQ's own, by an earlier version) keep theirs.
 */
export function deliveryBackoff(policy: Pick<DeliveryPolicy, 'backoffMs'>): BackoffStrategy {
  return (attemptsMade) => {
    const exponential = Math.round(2 ** (attemptsMade - 1) * policy.backoffMs);
    return Math.floor(exponential * (1 - BACKOFF_JITTER) + Math.random() * exponential * BACKOFF_JITTER);
  };
}

/** A notification to hand to its channel's workers. */
export interface Delivery {
  readonly id: number;
  readonly channel: Channel;
  /** Not before then: the job waits, delayed, until that time. */
  readonly scheduledAt?: Date | null;
}

/** How long finished jobs stay in Redis, for Bull Board and for the job-id de-duplication. */
export const FINISHED_JOB_RETENTION = {
  removeOnComplete: { age: 24 * 3600, count: 10_000 },
  removeOnFail: { age: 7 * 24 * 3600, count: 50_000 },
} as const;

/** The producer side of the three delivery queues. */
export class DeliveryQueues {
  private readonly queues: Record<Channel, Queue<DeliveryJobData>>;
  private readonly jobOptions: JobsOptions;

  constructor(connection: Redis, prefix: string) {
    // The retry policy is the worker's: the job only names it.
    this.jobOptions = { attempts: MAX_DELIVERY_ATTEMPTS, backoff: { type: DELIVERY_BACKOFF }, ...FINISHED_JOB_RETENTION };
    const open = (name: string) => new Queue<DeliveryJobData>(name, { connection, prefix });
    this.queues = { email: open(DELIVERY_QUEUES.email), sms: open(DELIVERY_QUEUES.sms), push: open(DELIVERY_QUEUES.push) };
  }

  /** The queue of one channel. */
  queue(channel: Channel): Queue<DeliveryJobData> {
    return this.queues[channel];
  }

  /**
   * Queues one delivery job per notification, in one round trip per channel. Queuing a
   * notification whose job still exists does nothing (the job id is derived from the row id).
   */
  async enqueue(deliveries: readonly Delivery[]): Promise<void> {
    const byChannel = new Map<Channel, Delivery[]>();
    for (const delivery of deliveries) {
      const list = byChannel.get(delivery.channel) ?? [];
      list.push(delivery);
      byChannel.set(delivery.channel, list);
    }
    const now = Date.now();
    await Promise.all(
      [...byChannel].map(([channel, list]) =>
        this.queues[channel].addBulk(
          list.map(({ id, scheduledAt }) => ({
            name: DELIVERY_JOB,
            data: { notificationId: id },
            opts: { ...this.jobOptions, jobId: deliveryJobId(id), ...(scheduledAt && scheduledAt.getTime() > now && { delay: scheduledAt.getTime() - now }) },
          })),
        ),
      ),
    );
  }

  /**
   * Queues deliveries again whose previous job may still be kept (completed or failed, within the
   * retention): that job is removed first, or the new one, with the same id, would be ignored.
   */
  async requeue(deliveries: readonly Delivery[]): Promise<void> {
    await Promise.all(deliveries.map(({ id, channel }) => this.queues[channel].remove(deliveryJobId(id))));
    await this.enqueue(deliveries);
  }

  /**
   * Queues the delivery of sent pushes to their pending devices, not before `delayMs`, removing
   * first a finished job of the same notification's (still kept for its retention).
   */
  async enqueuePendingDevices(notificationIds: readonly number[], delayMs = 0): Promise<void> {
    const push = this.queues.push;
    await Promise.all(notificationIds.map((id) => push.remove(pendingDevicesJobId(id))));
    await push.addBulk(
      notificationIds.map((id) => ({
        name: PENDING_DEVICES_JOB,
        data: { notificationId: id },
        opts: { ...this.jobOptions, jobId: pendingDevicesJobId(id), ...(delayMs > 0 && { delay: delayMs }) },
      })),
    );
  }

  /** Removes the jobs of deliveries that will not happen (cancelled); a job running now stays. */
  async remove(deliveries: readonly Delivery[]): Promise<void> {
    await Promise.all(deliveries.map(({ id, channel }) => this.queues[channel].remove(deliveryJobId(id))));
  }

  async close(): Promise<void> {
    await Promise.all(Object.values(this.queues).map((queue) => queue.close()));
  }
}
