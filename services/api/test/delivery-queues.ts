import { CHANNELS, type Channel } from '@notofine/db';
import { DELIVERY_QUEUES, deliveryJobId, type DeliveryJobData } from '@notofine/queue';
import type { TestEnvironment } from '@test/test-environment';
import { Queue, type Job, type JobType } from 'bullmq';

/** The test file's three delivery queues, opened from the outside to look at the jobs the API queued. */
export interface DeliveryQueuesProbe {
  /** The delivery job of a notification on a channel's queue, or undefined. */
  job(channel: Channel, notificationId: number): Promise<Job<DeliveryJobData> | undefined>;
  /** A channel's queue itself. */
  queue(channel: Channel): Queue<DeliveryJobData>;
  /** How many jobs wait on each queue. */
  waiting(): Promise<Record<Channel, number>>;
  /** Every job of the three queues, whatever its state (waiting, delayed, active, done, failed), as `channel state id`. */
  jobs(): Promise<string[]>;
  close(): Promise<void>;
}

const JOB_STATES: JobType[] = ['waiting', 'delayed', 'prioritized', 'active', 'completed', 'failed', 'waiting-children'];

export function openDeliveryQueues(env: TestEnvironment): DeliveryQueuesProbe {
  const open = (channel: Channel) => new Queue<DeliveryJobData>(DELIVERY_QUEUES[channel], { connection: { url: env.config.redis.url }, prefix: env.id });
  const queues: Record<Channel, Queue<DeliveryJobData>> = { email: open('email'), sms: open('sms'), push: open('push') };
  return {
    job: (channel, notificationId) => queues[channel].getJob(deliveryJobId(notificationId)),
    queue: (channel) => queues[channel],
    async waiting() {
      const counts = await Promise.all(CHANNELS.map((channel) => queues[channel].getWaitingCount()));
      return { email: counts[0]!, sms: counts[1]!, push: counts[2]! };
    },
    async jobs() {
      const found = await Promise.all(
        CHANNELS.map(async (channel) => {
          const jobs = await queues[channel].getJobs(JOB_STATES);
          return Promise.all(jobs.map(async (job) => `${channel} ${await job.getState()} ${job.id ?? '?'}`));
        }),
      );
      return found.flat().sort();
    },
    async close() {
      await Promise.all(CHANNELS.map((channel) => queues[channel].close()));
    },
  };
}
