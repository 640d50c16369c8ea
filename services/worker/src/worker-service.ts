import { loadConfig, type Config, type RateLimit } from '@notofine/config';
import { CHANNELS, PushTokenCipher, purgeExpiredIdempotencyKeys, type Channel } from '@notofine/db';
import { createLogger, redactText, withLogContext, type Logger } from '@notofine/logger';
import { UnsubscribeLinks, connectNotificationService, type NotificationService } from '@notofine/notifications';
import { closeProviders, createProviders, type Providers } from '@notofine/providers';
import { DELIVERY_QUEUES, FINISHED_JOB_RETENTION, PENDING_DEVICES_JOB, deliveryBackoff, logQueueErrors, type Delivery, type DeliveryJobData } from '@notofine/queue';
import { probe } from '@notofine/lifecycle';
import { Metrics } from '@notofine/metrics';
import { Worker, type Job } from 'bullmq';
import { deliverNotification, type DeliveryDeps, type DeliveryOutcome } from './delivery/deliver-notification';
import { deliverToPendingDevices } from './delivery/deliver-to-pending-devices';
import { batchedDeliveryStore } from './delivery/delivery-store';
import { emailSender } from './delivery/email-sender';
import { pushSender } from './delivery/push-sender';
import { smsSender } from './delivery/sms-sender';
import { startHealthServer, type HealthServer } from './health-server';
import { startReminderScheduler } from './reminders/reminder-scheduler';
import { startSweeper, type Sweeper } from './sweeper';

export interface WorkerServiceOptions {
  /** Read from the environment when absent. */
  readonly config?: Config;
  /** The configured providers when absent; tests pass their own. */
  readonly providers?: Providers;
  readonly logger?: Logger;
  /** Whether to register the reminder scheduler (default true). */
  readonly scheduleReminders?: boolean;
}

export interface WorkerService {
  readonly workers: Readonly<Record<Channel, Worker<DeliveryJobData, DeliveryOutcome>>>;
  readonly notifications: NotificationService;
  /** Queues again the pending notifications whose job is missing (runs by itself; exposed for tests). */
  readonly sweeper: Sweeper;
  /** The port of `/healthz` and `/readyz`. */
  readonly healthPort: number;
  /** Stops taking jobs, lets the ones in hand finish (within the shutdown timeout), closes everything. */
  stop(): Promise<void>;
}

/**
 * Claims, and `sent` records, per statement at most, and such statements running at once: two of
 * each kind keep the database busy while the next batch gathers, and leave the rest of the pool to
 * the other queries.
 */
const DELIVERY_BATCHING = { maxBatch: 250, maxInFlight: 2 } as const;

/**
 * BullMQ checks a queue's manual rate limit (set when a provider throttles, see
 * `deliverNotification`) only in workers that have a limiter: its `max` turns the check on. Without
 * one, the throttled job is taken again at once and other replicas ignore the pause. This limiter
 * never holds jobs back by itself.
 */
const HONOUR_PROVIDER_THROTTLING = { max: Number.MAX_SAFE_INTEGER, duration: 1000 } as const;

/**
 * A channel's BullMQ limiter: its configured rate limit (BullMQ counts it per queue in Redis, so it
 * holds across every worker process together), or one that only honours provider throttling.
 */
function limiterOf(limit: RateLimit | null): { max: number; duration: number } {
  return limit ? { max: limit.max, duration: limit.durationMs } : HONOUR_PROVIDER_THROTTLING;
}

/**
 * BullMQ keeps a failed attempt's message and stack trace in Redis, with the job and in its event
 * stream: they are masked as the logs are (emails, phone numbers, bearer tokens), in case a
 * provider quoted an address the provider code did not know to mask.
 */
function maskedFailure(error: unknown): never {
  if (error instanceof Error) {
    error.message = redactText(error.message);
    if (error.stack) error.stack = redactText(error.stack);
  }
  throw error;
}

/** Starts the delivery workers, one per channel queue, and the reminder scheduler. */
export async function start(options: WorkerServiceOptions = {}): Promise<WorkerService> {
  const config = options.config ?? loadConfig();
  const logger = options.logger ?? createLogger({ service: 'worker', level: config.log.level, format: config.log.format });

  const { service: notifications, dataSource, redis: connection, queues, close } = await connectNotificationService(config, {
    name: 'notofine-worker',
    redisRole: 'worker',
    logger,
  });
  const prefix = config.redis.queuePrefix;
  const providers = options.providers ?? createProviders(config.providers, logger, config.publicBaseUrl);
  const senders: DeliveryDeps['senders'] = {
    email: emailSender(providers.email, new UnsubscribeLinks(config.security.unsubscribeSecret, config.publicBaseUrl)),
    sms: smsSender(providers.sms),
    push: pushSender(providers.push, dataSource.manager, new PushTokenCipher(config.security.pushTokenKeys), logger),
  };
  const metrics = new Metrics('worker');
  const deps: DeliveryDeps = {
    manager: dataSource.manager,
    store: batchedDeliveryStore(dataSource.manager, { leaseMs: config.delivery.leaseMs, ...DELIVERY_BATCHING }),
    metrics,
    // A second more than the providers' own timeouts, so that their errors, more precise, come first.
    providerTimeoutMs: config.providers.timeoutMs + 1000,
    leaseMs: config.delivery.leaseMs,
    maxThrottles: config.providers.maxThrottles,
    attempts: config.delivery.attempts,
    smsDailyCap: config.security.smsDailyCap,
    senders,
    pauseChannel: (channel: Channel, ms: number) => queues.queue(channel).rateLimit(ms),
    enqueue: (deliveries: readonly Delivery[]) => queues.enqueue(deliveries),
    enqueuePendingDevices: (notificationId: number, delayMs: number) => queues.enqueuePendingDevices([notificationId], delayMs),
    backoffMs: config.delivery.backoffMs,
    logger,
  };
  /** A channel's jobs: deliveries, and on the push queue the deliveries of sent pushes to their pending devices. */
  const processJob = (job: Job<DeliveryJobData, DeliveryOutcome>, channel: Channel, token: string | undefined): Promise<DeliveryOutcome> =>
    job.name === PENDING_DEVICES_JOB ? deliverToPendingDevices(job, deps, token) : deliverNotification(job, deps, channel, token);

  const workers = Object.fromEntries(
    CHANNELS.map((channel) => {
      const worker = new Worker<DeliveryJobData, DeliveryOutcome>(
        DELIVERY_QUEUES[channel],
        (job, token) => withLogContext({ job_id: job.id, queue: channel }, () => processJob(job, channel, token).catch(maskedFailure)),
        {
          connection,
          prefix,
          concurrency: config.delivery.concurrency,
          lockDuration: config.delivery.lockMs,
          stalledInterval: config.delivery.lockMs,
          limiter: limiterOf(config.providers.rateLimits[channel]),
          // Retries wait as this worker's DELIVERY_BACKOFF_MS says, whoever queued the job.
          settings: { backoffStrategy: deliveryBackoff(config.delivery) },
          ...FINISHED_JOB_RETENTION,
        },
      );
      logQueueErrors(worker, logger, { queue: channel });
      return [channel, worker];
    }),
  ) as Record<Channel, Worker<DeliveryJobData, DeliveryOutcome>>;

  const scheduler =
    options.scheduleReminders === false
      ? null
      : await startReminderScheduler({ connection, prefix, schedule: config.reminders.schedule, service: notifications, logger, metrics });

  const sweeper = startSweeper({
    manager: dataSource.manager,
    queues,
    connection,
    prefix,
    intervalMs: config.sweeper.intervalMs,
    graceMs: config.sweeper.graceMs,
    logger,
    ...(scheduler && { ensureSchedulers: scheduler.ensure }),
    housekeeping: async () => {
      const purged = await purgeExpiredIdempotencyKeys(dataSource.manager, config.idempotencyTtlMs);
      if (purged > 0) logger.info('expired idempotency keys deleted', { purged });
    },
  });

  let stopping = false;
  let stopped: Promise<void> | undefined;
  const allWorkers = [...Object.values(workers), ...(scheduler ? [scheduler.worker] : [])];
  let health: HealthServer;
  try {
    health = await startHealthServer({
      host: config.http.host,
      port: config.http.healthPort,
      logger,
      readiness: async () => {
        const [postgres, redis] = await Promise.all([probe(() => dataSource.query('SELECT 1')), probe(() => connection.ping())]);
        const running = stopping ? 'stopping' : allWorkers.every((worker) => worker.isRunning()) ? 'ok' : 'not running';
        return { ready: postgres === 'ok' && redis === 'ok' && running === 'ok', checks: { postgres, redis, workers: running } };
      },
      routes: { '/metrics': () => metrics.render([...CHANNELS.map((channel) => queues.queue(channel)), ...(scheduler ? [scheduler.queue] : [])], { queues: connection }) },
    });
  } catch (error) {
    await sweeper.stop();
    await Promise.all(allWorkers.map((worker) => worker.close()));
    await scheduler?.queue.close();
    await closeProviders(providers);
    await close();
    throw error;
  }

  logger.info('worker started', { queues: Object.values(DELIVERY_QUEUES), concurrency: config.delivery.concurrency, health_port: health.port });

  return {
    workers,
    notifications,
    sweeper,
    healthPort: health.port,
    stop() {
      // Once: a second call (a second signal, a test's cleanup) waits for the first.
      stopped ??= (async () => {
        stopping = true;
        logger.info('worker stopping');
        await sweeper.stop();
        await closeWithin(allWorkers, config.shutdownTimeoutMs, logger);
        await scheduler?.queue.close();
        await closeProviders(providers);
        await close();
        await health.close();
        logger.info('worker stopped');
      })();
      return stopped;
    },
  };
}

/**
 * Closes workers gracefully (no new jobs, the active ones finished); past the timeout, stops
 * waiting for them. BullMQ cannot hurry a close under way (`close(true)` then only returns the
 * pending close), so the jobs still in hand are left behind: once the process exits their locks
 * lapse, and BullMQ's stalled-job check redelivers them.
 */
async function closeWithin(workers: readonly Worker[], timeoutMs: number, logger: Logger): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const graceful = Promise.all(workers.map((worker) => worker.close())).then(() => true);
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs);
  });
  const closed = await Promise.race([graceful, timeout]);
  clearTimeout(timer);
  if (!closed) {
    logger.warn('jobs still running at the shutdown timeout, leaving them to be redelivered', { timeout_ms: timeoutMs });
  }
}
