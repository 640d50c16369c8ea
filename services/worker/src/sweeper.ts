import { randomUUID } from 'node:crypto';
import { findStalePending } from '@notofine/db';
import type { Logger } from '@notofine/logger';
import { deliveryJobId, isRedisConnectionError, type Delivery, type DeliveryQueues } from '@notofine/queue';
import type { Redis } from 'ioredis';
import type { EntityManager } from 'typeorm';

export interface SweepResult {
  /** Pending notifications looked at. */
  readonly checked: number;
  /** Of those, queued again: their job was missing, or had ended while the row was still pending. */
  readonly requeued: number;
}

export interface Sweeper {
  /** One pass, whoever holds the lock (for tests and operators). */
  sweep(): Promise<SweepResult>;
  stop(): Promise<void>;
}

const PAGE = 1000;

/**
 * PostgreSQL is the truth: the sweeper makes Redis agree with it. Every `intervalMs`, one worker
 * of the deployment (a Redis lock elects it for the period) looks for pending notifications
 * without a live job and queues them again:
 * - a row committed by an API killed before it queued the job;
 * - every pending row after Redis lost its data (restarted without persistence, flushed);
 * - a row whose job ended (its attempts spent while PostgreSQL was down, or a redelivered copy
 *   that found the row leased by an attempt that then died).
 * It also re-registers the reminder scheduler, which a Redis that lost its data forgets, and runs
 * the deployment's housekeeping.
 */
export function startSweeper(options: {
  manager: EntityManager;
  queues: DeliveryQueues;
  connection: Redis;
  prefix: string;
  intervalMs: number;
  graceMs: number;
  logger: Logger;
  /** Re-registers the job schedulers (idempotent). */
  ensureSchedulers?: () => Promise<void>;
  /** Other periodic cleaning the elected worker does after each pass (expired idempotency keys). */
  housekeeping?: () => Promise<void>;
}): Sweeper {
  const { manager, queues, connection, prefix, intervalMs, graceMs, logger } = options;
  const me = randomUUID();
  const lockKey = `${prefix}:sweeper:lock`;

  async function sweep(): Promise<SweepResult> {
    const started = Date.now();
    let checked = 0;
    let requeued = 0;
    let afterId = 0;
    // Within half an interval, so that passes never overlap.
    while (Date.now() - started < intervalMs / 2) {
      const rows = await findStalePending(manager, { graceMs, limit: PAGE, afterId });
      if (rows.length === 0) break;
      afterId = rows.at(-1)!.id;
      checked += rows.length;
      requeued += await requeueWithoutLiveJob(rows);
      if (rows.length < PAGE) break;
    }
    if (requeued > 0) logger.warn('sweeper queued notifications again', { checked, requeued });
    return { checked, requeued };
  }

  /** Queues the rows whose job is missing or ended; leaves those whose job waits or runs. */
  async function requeueWithoutLiveJob(rows: ReadonlyArray<Delivery>): Promise<number> {
    const pipeline = connection.pipeline();
    for (const row of rows) {
      const key = queues.queue(row.channel).toKey(deliveryJobId(row.id));
      pipeline.exists(key);
      pipeline.hget(key, 'finishedOn');
    }
    const replies = (await pipeline.exec()) ?? [];
    const missing: Delivery[] = [];
    const ended: Delivery[] = [];
    rows.forEach((row, index) => {
      const exists = replies[index * 2]?.[1] === 1;
      const finishedOn = replies[index * 2 + 1]?.[1];
      if (!exists) missing.push(row);
      else if (finishedOn) ended.push(row);
    });
    if (missing.length > 0) await queues.enqueue(missing);
    if (ended.length > 0) await queues.requeue(ended);
    return missing.length + ended.length;
  }

  async function tick(): Promise<void> {
    try {
      const elected = await connection.set(lockKey, me, 'PX', intervalMs, 'NX');
      if (elected !== 'OK') return;
      await options.ensureSchedulers?.();
      await sweep();
      await options.housekeeping?.();
    } catch (error) {
      // Redis away: its connection's watcher says so, once; not every interval.
      if (!isRedisConnectionError(error)) logger.warn('sweep failed, next one in an interval', { error });
    }
  }

  let running: Promise<void> | undefined;
  const timer = setInterval(() => {
    running ??= tick().finally(() => {
      running = undefined;
    });
  }, intervalMs);

  return {
    sweep,
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
