import { insertPendingNotifications, Notification, type Channel } from '@notofine/db';
import { deliveryJobId, type DeliveryJobData } from '@notofine/queue';
import { waitFor } from '@test/wait-for';
import type { Job } from 'bullmq';
import type { DataSource } from 'typeorm';
import type { DeliveryOutcome } from '../src/delivery/deliver-notification';
import type { TestQueues } from './worker-harness';

/**
 * Inserts a pending notification as the API writes it once it accepted a send, without queuing its
 * delivery: the test changes the world in between, then queues it.
 */
export async function insertPendingNotification(
  db: DataSource,
  userId: number,
  channel: Channel,
  overrides: { message?: string; subject?: string | null } = {},
): Promise<Notification> {
  const [notification] = await insertPendingNotifications(db.manager, [
    { userId, channel, message: overrides.message ?? 'Votre contravention est due', subject: overrides.subject ?? null, ticketId: null, reminderId: null },
  ]);
  return notification!;
}

/** Waits until the notification leaves `pending`, and returns the row. */
export function settledNotification(db: DataSource, id: number): Promise<Notification> {
  return waitFor(`notification ${id} to leave pending`, async () => {
    const row = await db.manager.findOneByOrFail(Notification, { id });
    return row.status !== 'pending' && row;
  });
}

/** A delivery job as a test reads it back. */
export type DeliveryJob = Job<DeliveryJobData, DeliveryOutcome>;

/**
 * Waits until a notification's delivery job is over for BullMQ (completed, or in the failed set),
 * and returns it with its state. The row is final a moment before the job is: wait on the job to
 * assert on the job.
 */
export function finishedDeliveryJob(
  queues: TestQueues,
  channel: Channel,
  notificationId: number,
  jobId?: string,
): Promise<{ state: 'completed' | 'failed'; job: DeliveryJob }> {
  const queue = queues.channel(channel);
  const id = jobId ?? deliveryJobId(notificationId);
  return waitFor(`the delivery job of notification ${notificationId} to finish`, async () => {
    // State first: a job read before it finished would be a stale copy.
    const state = await queue.getJobState(id);
    if (state !== 'completed' && state !== 'failed') return null;
    const job = (await queue.getJob(id)) as DeliveryJob | undefined;
    return job && { state, job };
  });
}

/** A promise with its resolver at hand, to hold a scripted provider call until the test lets it go. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((settle) => {
    resolve = settle;
  });
  return { promise, resolve };
}
