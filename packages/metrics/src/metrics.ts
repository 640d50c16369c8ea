import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** The job counts of one queue, as BullMQ's `getJobCounts()` gives them. */
export interface QueueCounts {
  readonly name: string;
  getJobCounts(...states: string[]): Promise<Record<string, number>>;
}

/** A Redis connection as ioredis shows its state (`ready` when connected). */
export interface RedisStatus {
  readonly status: string;
}

const QUEUE_STATES = ['waiting', 'active', 'delayed', 'failed'] as const;

/** The value, or undefined if it fails or takes more than a second (a scrape must not wait on Redis). */
async function withinSecond<T>(value: Promise<T>): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), 1000);
  });
  try {
    return await Promise.race([value.catch(() => undefined), late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * One process's metrics, in a registry of its own (so that tests can start several services in one
 * process). Names follow Prometheus conventions: `notofine_` prefix, base units, `_total` counters.
 */
export class Metrics {
  readonly registry = new Registry();

  /** HTTP requests of the API, by method, route pattern (not the raw path) and status. */
  readonly httpRequestDuration = new Histogram({
    name: 'notofine_http_request_duration_seconds',
    help: 'Duration of HTTP requests, by method, route and status',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });

  /** Notifications that reached a final status. */
  readonly notificationsFinished = new Counter({
    name: 'notofine_notifications_finished_total',
    help: 'Notifications that reached a final status, by channel and status',
    labelNames: ['channel', 'status'] as const,
    registers: [this.registry],
  });

  /** From the notification's creation to the provider's acceptance. */
  readonly sendLatency = new Histogram({
    name: 'notofine_send_latency_seconds',
    help: 'Time from a notification being accepted to its provider taking it, by channel',
    labelNames: ['channel'] as const,
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800],
    registers: [this.registry],
  });

  /** Each provider call, whatever its outcome (`ok`, `retry`, `throttle`, `fail`, `invalid-address`, `undeliverable`). */
  readonly providerCallDuration = new Histogram({
    name: 'notofine_provider_call_duration_seconds',
    help: 'Duration of provider calls, by provider and outcome',
    labelNames: ['provider', 'outcome'] as const,
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });

  /** Provider calls that did not deliver, by the class of their error. */
  readonly providerErrors = new Counter({
    name: 'notofine_provider_errors_total',
    help: 'Provider calls that did not deliver, by provider and error class',
    labelNames: ['provider', 'kind'] as const,
    registers: [this.registry],
  });

  /** Reminders handled by processing runs. */
  readonly remindersProcessed = new Counter({
    name: 'notofine_reminders_processed_total',
    help: 'Due reminders handled, by result (processed: notifications sent; skipped: nothing to send)',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });

  /** Jobs per queue and state, read from Redis at each scrape. */
  readonly queueJobs = new Gauge({
    name: 'notofine_queue_jobs',
    help: 'Jobs in each queue, by state (waiting, active, delayed, failed)',
    labelNames: ['queue', 'state'] as const,
    registers: [this.registry],
  });

  /** Each Redis connection of the process, read at each scrape. */
  readonly redisUp = new Gauge({
    name: 'notofine_redis_up',
    help: 'Whether each Redis connection of the process is connected (1) or not (0)',
    labelNames: ['connection'] as const,
    registers: [this.registry],
  });

  constructor(service: string) {
    this.registry.setDefaultLabels({ service });
    collectDefaultMetrics({ register: this.registry });
  }

  /** Counts the reminders of one processing run. */
  recordReminderRun(summary: { readonly processed: number; readonly skipped: number }): void {
    this.remindersProcessed.inc({ result: 'processed' }, summary.processed);
    this.remindersProcessed.inc({ result: 'skipped' }, summary.skipped);
  }

  /**
   * The text exposition of every metric, queue depths read first from `queues`, and whether each
   * of `redis` (by connection name) is connected. While Redis is away the rest is still served:
   * the depths it cannot give within a second are left out, not shown as they last were.
   */
  async render(queues: readonly QueueCounts[] = [], redis: Readonly<Record<string, RedisStatus>> = {}): Promise<{ contentType: string; body: string }> {
    for (const [connection, { status }] of Object.entries(redis)) this.redisUp.set({ connection }, status === 'ready' ? 1 : 0);
    await Promise.all(
      queues.map(async (queue) => {
        const counts = await withinSecond(queue.getJobCounts(...QUEUE_STATES));
        for (const state of QUEUE_STATES) {
          if (counts) this.queueJobs.set({ queue: queue.name, state }, counts[state] ?? 0);
          else this.queueJobs.remove({ queue: queue.name, state });
        }
      }),
    );
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
