import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '@notofine/config';
import { connectDatabase } from '@notofine/db';
import { createLogger } from '@notofine/logger';
import { NotificationService } from '@notofine/notifications';
import { DeliveryQueues, connectRedis, createRedis, type Delivery } from '@notofine/queue';
import type { Context } from '../lib/context';
import { createScope } from '../lib/infra';
import { Observer } from '../lib/observe';
import { LOG_DIR } from '../lib/processes';
import { row, verdict, type ScenarioResult } from '../lib/report';
import { profileSelf } from '../lib/self-profile';
import { CHANNELS, seedTickets, seedUsers } from '../lib/seed';
import { fmt, ratio, round, timed } from '../lib/stats';
import { measureBaseline } from './baseline';

const NAME = '3 reminders';
const TARGET = 0.5;

/** The service's producer, timing its own calls: how much of a reminder run is queuing. */
class TimedQueues extends DeliveryQueues {
  enqueueMs = 0;
  enqueueCalls = 0;

  override async enqueue(deliveries: readonly Delivery[]): Promise<void> {
    const started = performance.now();
    try {
      await super.enqueue(deliveries);
    } finally {
      this.enqueueMs += performance.now() - started;
      this.enqueueCalls += 1;
    }
  }
}

/**
 * N due reminders (one channel each, in turn email, SMS, push; each user with one unpaid ticket, an
 * email address, a phone, and a device for the push ones), created with set-based SQL; then one
 * `processReminders()` in this process, built as the worker builds it, workers not running: what is
 * measured is claim + write + enqueue.
 */
export async function runReminders(ctx: Context): Promise<ScenarioResult> {
  const { settings } = ctx;
  const n = settings.reminders;
  console.log(`\n== ${NAME}: ${fmt(n)} due reminders`);
  const baseline = await measureBaseline(settings, 'before reminders');
  const scope = await createScope(settings, 'reminders');
  try {
    const client = await scope.client();
    const { ms: seedMs } = await timed(async () => {
      await seedUsers(scope.db, client, n);
      await seedTickets(client, n);
      // Push reminders' users have a device; its token is never opened here (no worker runs).
      await client.query(
        `INSERT INTO devices (user_id, token_hash, token_ciphertext, token_key_id, token_preview, platform)
         SELECT i, encode(sha256(('bench-token-' || i)::bytea), 'hex'), 'not-opened-by-this-scenario', 'bench', lpad((i % 1000000)::text, 6, '0'), 'android'
         FROM generate_series(1, $1::bigint) AS i WHERE i % 3 = 2`,
        [n],
      );
      await client.query(
        `INSERT INTO reminders (id, user_id, frequency_days, next_run_at)
         SELECT i, i, 7, now() - interval '1 hour' FROM generate_series(1, $1::bigint) AS i`,
        [n],
      );
      await client.query(`SELECT setval(pg_get_serial_sequence('reminders', 'id'), $1::bigint)`, [n]);
      await client.query(
        `INSERT INTO reminder_channels (reminder_id, channel)
         SELECT i, (ARRAY['email', 'sms', 'push'])[1 + i % 3] FROM generate_series(1, $1::bigint) AS i`,
        [n],
      );
      await client.query('VACUUM ANALYZE');
    });
    console.log(`  created ${fmt(n)} users, tickets, reminders in ${round(seedMs / 1000, 1)} s`);

    // As the worker builds it (see connectNotificationService), with a producer that times itself.
    const config = loadConfig({ ...scope.serviceEnv, NODE_ENV: 'development' });
    const dataSource = await connectDatabase(config.database, { applicationName: 'notofine-bench-reminders' });
    const redis = createRedis(config.redis.url, 'worker', 'notofine-bench-reminders');
    await connectRedis(redis, config.redis.url);
    const queues = new TimedQueues(redis, config.redis.queuePrefix);
    const logger = createLogger({ service: 'bench-reminders', level: 'info', format: 'json', stream: createWriteStream(join(LOG_DIR, 'reminders-in-process.log')) });
    const service = new NotificationService({ dataSource, queues, logger, reminderBatchSize: config.reminders.batchSize, smsDailyCap: config.security.smsDailyCap });
    try {
      // Progress from the notifications' identity (cheap): a rate falling along the run shows a cost growing with the work done.
      const progress: Array<[number, number]> = [];
      const { rows: sequence } = await client.query<{ name: string }>(`SELECT pg_get_serial_sequence('notifications', 'id') AS name`);
      const progressStarted = performance.now();
      const progressTimer = setInterval(() => {
        void client.query<{ n: string }>(`SELECT last_value AS n FROM ${sequence[0]!.name}`).then(
          ({ rows }) => progress.push([round((performance.now() - progressStarted) / 1000, 1), Number(rows[0]?.n ?? 0)]),
          () => undefined,
        );
      }, 2000);
      const observer = await Observer.start(settings, ctx.pgStatements);
      const { result: summary, ms } = await profileSelf(ctx.profileDir, 'reminders-in-process', () => timed(() => service.processReminders())).finally(() =>
        clearInterval(progressTimer),
      );
      const observation = await observer.stop();
      const rates = progressRates(progress, n, ms / 1000);
      const perSecond = n / (ms / 1000);
      const [{ notifications }] = (await dataSource.query(`SELECT count(*)::int AS notifications FROM notifications`)) as [{ notifications: number }];
      let jobs = 0;
      for (const channel of CHANNELS) {
        const counts = await queues.queue(channel).getJobCounts('waiting', 'delayed', 'prioritized');
        jobs += Object.values(counts).reduce((sum, count) => sum + count, 0);
      }
      const enqueueShare = round((queues.enqueueMs / ms) * 100, 1);
      console.log(
        `  processReminders: ${fmt(perSecond)} reminders/s (${round(ms / 1000, 1)} s; processed ${summary.processed}, skipped ${summary.skipped}; ${notifications} rows, ${jobs} jobs; enqueue ${enqueueShare}% of the time)`,
      );
      const reminderRatio = ratio(perSecond, baseline.addPerSecond);
      const complete = summary.processed === n && notifications === n && jobs === n;
      return {
        name: NAME,
        rows: [
          row(NAME, 'bare BullMQ: addBulk, 1000/chunk', `${fmt(baseline.addPerSecond)} jobs/s`, { baseline: `${fmt(baseline.jobs)} no-op jobs` }),
          row(NAME, `processReminders() in-process, batch ${config.reminders.batchSize}, ${fmt(n)} due (claim + write + enqueue)`, `${fmt(perSecond)} reminders/s`, {
            baseline: `addBulk ${fmt(baseline.addPerSecond)}/s`,
            ratio: `${reminderRatio}×`,
            target: `≥ ${TARGET}×`,
            verdict: verdict(reminderRatio >= TARGET && complete),
          }),
          row(NAME, 'of which DeliveryQueues.enqueue', `${enqueueShare}% of the time`, { baseline: `${fmt(queues.enqueueCalls)} calls` }),
          row(NAME, 'rate over the first / last quarter of the reminders', `${fmt(rates.first)} / ${fmt(rates.last)} reminders/s`),
        ],
        details: {
          reminders: n,
          batchSize: config.reminders.batchSize,
          seedSeconds: round(seedMs / 1000, 1),
          baseline,
          seconds: round(ms / 1000, 2),
          perSecond: round(perSecond),
          summary,
          notifications,
          jobs,
          enqueue: { ms: round(queues.enqueueMs), calls: queues.enqueueCalls, share: enqueueShare },
          rateFirstQuarter: rates.first,
          rateLastQuarter: rates.last,
          progress,
          ratioToBaseline: reminderRatio,
        },
        observations: { processReminders: observation },
      };
    } finally {
      await queues.close();
      await redis.quit();
      await dataSource.destroy();
    }
  } finally {
    await scope.cleanup();
  }
}

/** Reminders per second over the first and the last quarter of the work, from [seconds, rows] samples. */
function progressRates(progress: ReadonlyArray<[number, number]>, n: number, seconds: number): { first: number; last: number } {
  const points: Array<[number, number]> = [[0, 0], ...progress, [seconds, n]];
  const at = (rows: number): number => {
    for (let i = 1; i < points.length; i += 1) {
      const [t0, r0] = points[i - 1]!;
      const [t1, r1] = points[i]!;
      if (r1 >= rows) return r1 === r0 ? t1 : t0 + ((rows - r0) / (r1 - r0)) * (t1 - t0);
    }
    return seconds;
  };
  const quarter = n / 4;
  return { first: round(quarter / Math.max(0.001, at(quarter))), last: round(quarter / Math.max(0.001, seconds - at(3 * quarter))) };
}
