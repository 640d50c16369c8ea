import type { Channel } from '@notofine/db';

// Queue names are part of the data in Redis: renaming one strands the jobs still waiting under
// the old name. Drain a queue (or move its jobs) before renaming it.

/** One delivery queue per channel, so that a slow provider never holds up the others. */
export const DELIVERY_QUEUES = { email: 'email', sms: 'sms', push: 'push' } as const satisfies Record<Channel, string>;

/** The queue of the reminder scheduler's ticks. */
export const REMINDER_QUEUE = 'reminders';

export const ALL_QUEUES = [...Object.values(DELIVERY_QUEUES), REMINDER_QUEUE] as const;

/** Name of every job on a delivery queue, but the one below. */
export const DELIVERY_JOB = 'deliver';

/**
 * Name of the job, on the push queue, that sends a sent push to the devices of its user still
 * pending (they refused it for now while another device took it). Same payload.
 */
export const PENDING_DEVICES_JOB = 'deliver-to-pending-devices';

/**
 * A delivery job carries the notification's id and nothing else: the row in PostgreSQL is the
 * truth, and no message text, address or token ever sits in Redis.
 */
export interface DeliveryJobData {
  readonly notificationId: number;
  /** How many times the provider throttled this job (counted by the worker; absent at first). */
  readonly throttles?: number;
}

/**
 * The job id of a notification's delivery: the same notification is never queued twice while its
 * job exists. BullMQ forbids ids that are all digits or contain ':', hence the prefix.
 */
export function deliveryJobId(notificationId: number): string {
  return `notification-${notificationId}`;
}

/** The job id of the delivery of a push to its pending devices (one such job at a time, per notification). */
export function pendingDevicesJobId(notificationId: number): string {
  return `notification-${notificationId}-devices`;
}

/** Id of the job scheduler that ticks reminder processing (one per deployment, whatever the replicas). */
export const REMINDER_SCHEDULER_ID = 'process-reminders';

/** Name of the scheduler's jobs on {@link REMINDER_QUEUE}. */
export const REMINDER_JOB = 'process-reminders';
