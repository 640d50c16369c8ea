import { randomUUID } from 'node:crypto';
import { findStalePending, findStalePendingPushDevices } from '@notofine/db';
import type { Logger } from '@notofine/logger';
import { deliveryJobId, isRedisConnectionError, pendingDevicesJobId, type Delivery, type DeliveryQueues } from '@notofine/queue';
import type { Redis } from 'ioredis';
import type { EntityManager } from 'typeorm';

export interface SweepResult {
  /** Pending notifications looked at, and sent pushes with devices still pending. */
  readonly checked: number;
  /** Of those, queued again: their job was missing, or had ended while there was still work. */
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
 *   that found the row leased by an attempt that then died);
 * - a sent push whose devices still pending (they refused it for now while another device took
 *   it) have no job to send it to them.
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
    afterId = 0;
    while (Date.now() - started < intervalMs / 2) {
      const rows = await findStalePendingPushDevices(manager, { graceMs, limit: PAGE, afterId });
      if (rows.length === 0) break;
      afterId = rows.at(-1)!.id;
      checked += rows.length;
      const { missing, ended } = await withoutLiveJob(rows.map((row) => queues.queue('push').toKey(pendingDevicesJobId(row.id))));
      const stranded = rows.filter((_row, index) => missing.has(index) || ended.has(index)).map((row) => row.id);
      if (stranded.length > 0) await queues.enqueuePendingDevices(stranded);
      requeued += stranded.length;
      if (rows.length < PAGE) break;
    }
    if (requeued > 0) logger.warn('sweeper queued notifications again', { checked, requeued });
    return { checked, requeued };
  }

  /** Queues the rows whose job is missing or ended; leaves those whose job waits or runs. */
  async function requeueWithoutLiveJob(rows: ReadonlyArray<Delivery>): Promise<number> {
    const { missing, ended } = await withoutLiveJob(rows.map((row) => queues.queue(row.channel).toKey(deliveryJobId(row.id))));
    const missingRows = rows.filter((_row, index) => missing.has(index));
    const endedRows = rows.filter((_row, index) => ended.has(index));
    if (missingRows.length > 0) await queues.enqueue(missingRows);
    if (endedRows.length > 0) await queues.requeue(endedRows);
    return missingRows.length + endedRows.length;
  }

  /** Of jobs' keys, in one round trip: the positions of those missing, and of those that ended. */
  async function withoutLiveJob(keys: readonly string[]): Promise<{ missing: Set<number>; ended: Set<number> }> {
    const pipeline = connection.pipeline();
    for (const key of keys) {
      pipeline.exists(key);
      pipeline.hget(key, 'finishedOn');
    }
    const replies = (await pipeline.exec()) ?? [];
    const missing = new Set<number>();
    const ended = new Set<number>();
    keys.forEach((_key, index) => {
      const exists = replies[index * 2]?.[1] === 1;
      const finishedOn = replies[index * 2 + 1]?.[1];
      if (!exists) missing.add(index);
      else if (finishedOn) ended.add(index);
    });
    return { missing, ended };
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
