import { loadConfig } from '@notofine/config';
import { insertPendingNotifications, type NewNotification } from '@notofine/db';
import { DeliveryQueues, closeRedis, createRedis } from '@notofine/queue';
import type { Context } from '../lib/context';
import { createScope, sleep } from '../lib/infra';
import { Observer } from '../lib/observe';
import { startService, type ServiceProcess } from '../lib/processes';
import { measureProviderCalls } from '../lib/provider-calls';
import { row, verdict, type ScenarioResult } from '../lib/report';
import { CHANNELS, channelOf, seedSealedDevices, seedUsers } from '../lib/seed';
import { fmt, ratio, round } from '../lib/stats';
import { CHUNK, measureBaseline } from './baseline';

const NAME = '1 delivery';
const TARGET = 0.4;

/**
 * N pending notifications (email, SMS and push in turn, users with an address, a phone and a
 * device), written and queued by the service's own bulk path — insertPendingNotifications, then
 * DeliveryQueues.enqueue, 1000 at a time, as a reminder run does — on paused queues; then the
 * worker process(es) start, the queues resume, and the clock runs until every row is `sent`.
 */
export async function runDelivery(ctx: Context): Promise<ScenarioResult> {
  const { settings, loopbacks } = ctx;
  const n = settings.deliveryN;
  console.log(`\n== ${NAME}: ${fmt(n)} notifications, ${settings.deliveryWorkers} worker process(es)`);
  const baseline = await measureBaseline(settings, 'before delivery');
  // What the providers' SDKs cost per call, alone: the floor under the worker's CPU per notification.
  const calls = await measureProviderCalls(loopbacks.env, settings.quick ? 1_000 : 4_000);
  const sdkMixMs = (calls.emailMs + calls.smsMs + calls.pushMs) / 3;
  const sdkOnlyPerSecond = 1000 / sdkMixMs;
  const ms = (value: number) => round(value, 3);
  console.log(
    `  one provider call, caller's CPU: ${calls.providers.email} ${ms(calls.emailMs)} ms, ${calls.providers.sms} ${ms(calls.smsMs)} ms, ${calls.providers.push} ${ms(calls.pushMs)} ms; bare node:http ${ms(calls.bareHttpMs)} ms, fetch ${ms(calls.bareFetchMs)} ms`,
  );

  const scope = await createScope(settings, 'delivery');
  const workers: ServiceProcess[] = [];
  const redis = createRedis(settings.redisUrl, 'producer', 'notofine-bench-producer');
  let queues: DeliveryQueues | undefined;
  try {
    const client = await scope.client();
    const users = Math.max(100, Math.ceil(n / 4));
    await seedUsers(scope.db, client, users);
    await seedSealedDevices(client, users);
    await client.query('ANALYZE');

    const env = { ...scope.serviceEnv, ...loopbacks.env };
    const config = loadConfig(env);
    await redis.connect();
    queues = new DeliveryQueues(redis, scope.id);
    for (const channel of CHANNELS) await queues.queue(channel).pause();

    const enqueueObserver = await Observer.start(settings, ctx.pgStatements);
    const enqueueStarted = performance.now();
    for (let first = 0; first < n; first += CHUNK) {
      const wanted: NewNotification[] = [];
      for (let i = first; i < Math.min(n, first + CHUNK); i += 1) {
        wanted.push({
          userId: 1 + (i % users),
          channel: channelOf(i),
          message: `Votre contravention REF${i} de 135,00 € est à régler avant le 15 janvier 2027.`,
          subject: 'Rappel de paiement',
          ticketId: null,
          reminderId: null,
        });
      }
      const rows = await insertPendingNotifications(scope.db.manager, wanted);
      await queues.enqueue(rows);
    }
    const enqueueSeconds = (performance.now() - enqueueStarted) / 1000;
    const enqueueObservation = await enqueueObserver.stop();
    const enqueuePerSecond = n / enqueueSeconds;
    console.log(`  enqueue: ${fmt(enqueuePerSecond)} notifications/s (${round(enqueueSeconds, 1)} s)`);

    const spawnStarted = performance.now();
    for (let k = 0; k < settings.deliveryWorkers; k += 1) {
      workers.push(await startService('worker', `delivery-worker-${k + 1}`, env, { profileDir: ctx.profileDir }));
    }
    const startupSeconds = (performance.now() - spawnStarted) / 1000;
    const rssReady = workers.map((w) => round(w.rssMiB()));

    const observer = await Observer.start(settings, ctx.pgStatements);
    const cpuBefore = workers.map((w) => w.cpuSeconds());
    const benchCpuBefore = process.cpuUsage();
    const resumedAt = Date.now();
    for (const channel of CHANNELS) await queues.queue(channel).resume();
    const deadline = resumedAt + Math.max(120_000, n * 20);
    let counts = { sent: 0, failed: 0, last: null as Date | null };
    for (;;) {
      const [current] = (await scope.db.query(
        `SELECT count(*) FILTER (WHERE status = 'sent')::int AS sent, count(*) FILTER (WHERE status = 'failed')::int AS failed, max(sent_at) AS last FROM notifications`,
      )) as Array<{ sent: number; failed: number; last: Date | null }>;
      counts = current!;
      if (counts.sent + counts.failed >= n) break;
      if (Date.now() > deadline) throw new Error(`only ${counts.sent} of ${n} notifications sent after ${(Date.now() - resumedAt) / 1000} s`);
      await sleep(200);
    }
    const cpuAfter = workers.map((w) => w.cpuSeconds());
    const benchCpu = process.cpuUsage(benchCpuBefore);
    const wallSeconds = (Date.now() - resumedAt) / 1000;
    const observation = await observer.stop();
    const deliverySeconds = ((counts.last?.getTime() ?? Date.now()) - resumedAt) / 1000;
    const workerCpuSeconds = cpuAfter.reduce((sum, cpu, i) => sum + cpu - cpuBefore[i]!, 0);
    const deliveredPerSecond = counts.sent / deliverySeconds;
    const rssAfter = workers.map((w) => round(w.rssMiB()));
    const providerCalls = loopbacks.counts();
    const workerCpuMsPerNotification = round((workerCpuSeconds * 1000) / Math.max(1, counts.sent), 2);
    const workerCores = round(workerCpuSeconds / wallSeconds, 2);
    const loopbackCores = round((benchCpu.user + benchCpu.system) / 1e6 / wallSeconds, 2);
    console.log(
      `  delivery: ${fmt(deliveredPerSecond)} notifications/s (${round(deliverySeconds, 1)} s, ${counts.failed} failed); worker ${workerCpuMsPerNotification} ms CPU/notification, ${workerCores} cores`,
    );

    const deliveryRatio = ratio(deliveredPerSecond, baseline.processPerSecond);
    const concurrency = config.delivery.concurrency;
    return {
      name: NAME,
      rows: [
        row(NAME, 'bare BullMQ: addBulk, 1000/chunk', `${fmt(baseline.addPerSecond)} jobs/s`, { baseline: `${fmt(baseline.jobs)} no-op jobs` }),
        row(NAME, 'bare BullMQ: 1 Worker c=100, no-op', `${fmt(baseline.processPerSecond)} jobs/s`, { baseline: `${fmt(baseline.processWithLimiterPerSecond)}/s with limiter` }),
        row(NAME, 'enqueue: insertPendingNotifications + DeliveryQueues.enqueue, 1000/batch', `${fmt(enqueuePerSecond)} notif/s`, {
          baseline: `addBulk ${fmt(baseline.addPerSecond)}/s`,
          ratio: `${ratio(enqueuePerSecond, baseline.addPerSecond)}×`,
        }),
        row(
          NAME,
          `pending → sent, ${workers.length} worker proc (3 queues × c=${concurrency}), loopback SendGrid/Vonage/FCM`,
          `${fmt(deliveredPerSecond)} notif/s`,
          {
            baseline: `Worker ${fmt(baseline.processPerSecond)}/s`,
            ratio: `${deliveryRatio}×`,
            target: `≥ ${TARGET}×`,
            verdict: verdict(deliveryRatio >= TARGET && counts.failed === 0),
          },
        ),
        row(NAME, 'worker CPU per notification; cores busy (worker / PostgreSQL / Redis / bench+loopbacks)', `${workerCpuMsPerNotification} ms`, {
          baseline: `${workerCores} / ${observation.cpu.postgresCores} / ${observation.cpu.redisCores} / ${loopbackCores} of ${String(observation.cpu.machineBusyPct)}% busy`,
        }),
        row(
          NAME,
          `one provider call alone, caller's CPU (${calls.concurrency} at a time): ${calls.providers.email} / ${calls.providers.sms} / ${calls.providers.push} SDK`,
          `${ms(calls.emailMs)} / ${ms(calls.smsMs)} / ${ms(calls.pushMs)} ms`,
          {
            baseline: `node:http ${ms(calls.bareHttpMs)} ms, fetch ${ms(calls.bareFetchMs)} ms`,
            ratio: `${[calls.emailMs, calls.smsMs, calls.pushMs].map((cost) => ratio(cost, calls.bareHttpMs)).join(' / ')}× node:http`,
          },
        ),
        row(NAME, "a core making the mix's SDK calls and nothing else (no queue, no database)", `${fmt(sdkOnlyPerSecond)} calls/s`, {
          baseline: `Worker ${fmt(baseline.processPerSecond)}/s`,
          ratio: `${ratio(sdkOnlyPerSecond, baseline.processPerSecond)}×`,
        }),
      ],
      details: {
        notifications: n,
        users,
        baseline,
        providerCallCosts: { ...calls, mixMs: round(sdkMixMs, 4), sdkOnlyPerSecond: round(sdkOnlyPerSecond) },
        enqueue: { seconds: round(enqueueSeconds, 2), perSecond: round(enqueuePerSecond) },
        delivery: {
          seconds: round(deliverySeconds, 2),
          perSecond: round(deliveredPerSecond),
          sent: counts.sent,
          failed: counts.failed,
          workerStartupSeconds: round(startupSeconds, 2),
          workerConcurrencyPerQueue: concurrency,
          databasePoolSize: config.database.poolSize,
          ratioToBaseline: deliveryRatio,
          workerCpuMsPerNotification,
          workerCores,
          benchAndLoopbackCores: loopbackCores,
        },
        providerCalls,
        workerRssMiB: { ready: rssReady, afterDelivery: rssAfter },
      },
      observations: { enqueue: enqueueObservation, delivery: observation },
    };
  } finally {
    for (const worker of workers) await worker.stop();
    await queues?.close();
    await closeRedis(redis);
    await scope.cleanup();
  }
}
