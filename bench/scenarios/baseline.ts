import { randomBytes } from 'node:crypto';
import { DELIVERY_JOB, FINISHED_JOB_RETENTION, deliveryJobId, type DeliveryJobData } from '@notofine/queue';
import { Queue, Worker, type JobsOptions } from 'bullmq';
import { connectBenchRedis, deleteKeys } from '../lib/infra';
import type { Settings } from '../lib/settings';
import { round } from '../lib/stats';

/** Jobs per addBulk: the service's reminder batch (REMINDER_BATCH_SIZE) and the bench's enqueue chunk. */
export const CHUNK = 1000;

export interface BaselineResult {
  readonly jobs: number;
  /** addBulk of no-op jobs, CHUNK at a time: jobs per second. */
  readonly addPerSecond: number;
  /** One Worker at concurrency 100 with a no-op processor: jobs per second. */
  readonly processPerSecond: number;
  /** The same, with the limiter every delivery worker has (to honour provider throttling). */
  readonly processWithLimiterPerSecond: number;
}

/** The job options the service gives delivery jobs (see DeliveryQueues), so that only the service's own work differs. */
const JOB_OPTIONS: JobsOptions = { attempts: 5, backoff: { type: 'exponential', delay: 1000, jitter: 0.5 }, ...FINISHED_JOB_RETENTION };

/**
 * Bare BullMQ on this machine, now: what the delivery and reminder figures are compared with.
 * `addBulk` of N no-op jobs shaped like delivery jobs, then one Worker at concurrency 100 taking them.
 */
export async function measureBaseline(settings: Settings, label: string): Promise<BaselineResult> {
  const n = settings.baselineJobs;
  const prefix = `bench_baseline_${process.pid}_${randomBytes(3).toString('hex')}`;
  const connection = await connectBenchRedis(settings, 'notofine-bench-baseline');
  try {
    const add = async (queue: Queue<DeliveryJobData>): Promise<number> => {
      const started = performance.now();
      for (let first = 0; first < n; first += CHUNK) {
        const ids = Array.from({ length: Math.min(CHUNK, n - first) }, (_, i) => first + i + 1);
        await queue.addBulk(ids.map((id) => ({ name: DELIVERY_JOB, data: { notificationId: id }, opts: { ...JOB_OPTIONS, jobId: deliveryJobId(id) } })));
      }
      return n / ((performance.now() - started) / 1000);
    };
    const processAll = async (queueName: string, limiter: boolean): Promise<number> => {
      const worker = new Worker<DeliveryJobData>(queueName, async () => 'sent', {
        connection,
        prefix,
        concurrency: 100,
        autorun: false,
        ...FINISHED_JOB_RETENTION,
        ...(limiter && { limiter: { max: Number.MAX_SAFE_INTEGER, duration: 1000 } }),
      });
      let done = 0;
      const finished = new Promise<void>((resolve) => {
        const count = () => {
          done += 1;
          if (done === n) resolve();
        };
        worker.on('completed', count);
        worker.on('failed', count);
      });
      const started = performance.now();
      void worker.run();
      await finished;
      const perSecond = n / ((performance.now() - started) / 1000);
      await worker.close();
      return perSecond;
    };

    const plain = new Queue<DeliveryJobData>('baseline', { connection, prefix });
    const limited = new Queue<DeliveryJobData>('baseline-limited', { connection, prefix });
    const addPerSecond = await add(plain);
    const processPerSecond = await processAll('baseline', false);
    await add(limited);
    const processWithLimiterPerSecond = await processAll('baseline-limited', true);
    await plain.close();
    await limited.close();
    const result = { jobs: n, addPerSecond: round(addPerSecond), processPerSecond: round(processPerSecond), processWithLimiterPerSecond: round(processWithLimiterPerSecond) };
    console.log(`  baseline (${label}): addBulk ${result.addPerSecond}/s, Worker c=100 ${result.processPerSecond}/s (${result.processWithLimiterPerSecond}/s with the limiter)`);
    return result;
  } finally {
    await deleteKeys(connection, `${prefix}:*`);
    await connection.quit();
  }
}
