import type { Config } from '@notofine/config';
import type { Channel } from '@notofine/db';
import type { ReminderRunSummary } from '@notofine/notifications';
import { DeliveryQueues, REMINDER_QUEUE, connectRedis, createRedis, deliveryJobId, type DeliveryJobData } from '@notofine/queue';
import { ScriptedProviders } from '@test/scripted-providers';
import { createTestEnvironment, type TestEnvironment } from '@test/test-environment';
import { Queue, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { start, type WorkerService, type WorkerServiceOptions } from '../src/worker-service';

export interface WorkerHarness {
  readonly env: TestEnvironment;
  readonly worker: WorkerService;
  /** The providers the worker sends through: scripted, recording every call. */
  readonly providers: ScriptedProviders;
  /** The queues as a producer (or an operator) sees them, on a connection of the test's own. */
  readonly queues: TestQueues;
  stop(): Promise<void>;
}

/** One worker service started by a test, with its own scripted providers. */
export interface WorkerInstance {
  readonly worker: WorkerService;
  readonly providers: ScriptedProviders;
  /** Stops the service; calling it again does nothing more. */
  stop(): Promise<void>;
}

export interface WorkerStartOptions {
  readonly scheduleReminders?: boolean;
  /** Settings of this service that differ from the environment's, e.g. its shutdown timeout. */
  readonly config?: Partial<Config>;
  readonly providers?: WorkerServiceOptions['providers'];
}

/**
 * A test file's environment on which any number of worker services start, as replicas of one
 * deployment do: same schema, same queue prefix.
 */
export interface WorkerCluster {
  readonly env: TestEnvironment;
  readonly queues: TestQueues;
  /** Starts one more worker service on the environment. */
  startWorker(options?: WorkerStartOptions): Promise<WorkerInstance>;
  /** Stops every service still running, then cleans the environment up. */
  stop(): Promise<void>;
}

/**
 * The worker in-process, on the test file's own schema and queue prefix, sending through scripted
 * providers. The reminder scheduler is off unless asked for.
 */
export async function startWorker(options: { env?: Record<string, string> } & WorkerStartOptions = {}): Promise<WorkerHarness> {
  const cluster = await startWorkerCluster({ env: options.env });
  const instance = await cluster.startWorker(options);
  return { env: cluster.env, queues: cluster.queues, worker: instance.worker, providers: instance.providers, stop: () => cluster.stop() };
}

/** An environment for several worker services; none is started yet. */
export async function startWorkerCluster(options: { env?: Record<string, string> | undefined } = {}): Promise<WorkerCluster> {
  const env = await createTestEnvironment(options.env);
  const queues = await openTestQueues(env);
  const instances: WorkerInstance[] = [];
  return {
    env,
    queues,
    async startWorker(startOptions = {}) {
      const providers = new ScriptedProviders();
      const worker = await start({
        config: { ...env.config, ...startOptions.config },
        logger: env.logger,
        providers: startOptions.providers ?? providers,
        scheduleReminders: startOptions.scheduleReminders ?? false,
      });
      let stopping: Promise<void> | undefined;
      const instance: WorkerInstance = {
        worker,
        providers,
        stop: () => (stopping ??= worker.stop()),
      };
      instances.push(instance);
      return instance;
    },
    async stop() {
      await Promise.all(instances.map((instance) => instance.stop()));
      await queues.close();
      await env.cleanup();
    },
  };
}

/** The delivery and reminder queues, opened by the test rather than by the worker under test. */
export interface TestQueues {
  /** The producer side, as the API uses it. */
  readonly delivery: DeliveryQueues;
  /** A channel's delivery queue. */
  channel(channel: Channel): Queue<DeliveryJobData>;
  /** The scheduler's ticks; each one's return value is the summary of its reminder run. */
  readonly reminders: Queue<Record<string, never>, ReminderRunSummary>;
  /** The delivery job of a notification, as BullMQ holds it now. */
  deliveryJob(channel: Channel, notificationId: number): Promise<Job<DeliveryJobData> | undefined>;
  close(): Promise<void>;
}

async function openTestQueues(env: TestEnvironment): Promise<TestQueues> {
  const connection: Redis = createRedis(env.config.redis.url, 'worker', 'notofine-tests');
  await connectRedis(connection, env.config.redis.url);
  const prefix = env.config.redis.queuePrefix;
  const delivery = new DeliveryQueues(connection, prefix);
  const reminders = new Queue<Record<string, never>, ReminderRunSummary>(REMINDER_QUEUE, { connection, prefix });
  return {
    delivery,
    channel: (channel) => delivery.queue(channel),
    reminders,
    deliveryJob: (channel, notificationId) => delivery.queue(channel).getJob(deliveryJobId(notificationId)),
    async close() {
      await Promise.all([delivery.close(), reminders.close()]);
      await connection.quit();
    },
  };
}
