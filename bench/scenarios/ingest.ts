import type { Context } from '../lib/context';
import { createScope } from '../lib/infra';
import { BATCH_SIZE, batchLoad, sendLoad, startBareHttpServer, type LoadResult } from '../lib/load';
import { Observer } from '../lib/observe';
import { startService, type ServiceProcess } from '../lib/processes';
import { row, verdict, type ScenarioResult } from '../lib/report';
import { seedSealedDevices, seedUsers } from '../lib/seed';
import { fmt, ratio, round } from '../lib/stats';

const NAME = '2 ingest';
const USERS = 10_000;
const TARGET_RPS = 3000;
const TARGET_P99_MS = 50;
const TARGET_BATCH_NPS = 20_000;
/** Batches in flight at once: one per core the API could use, and one being parsed. */
const BATCH_CONNECTIONS = 4;

/**
 * `POST /notifications/send` under wrk or autocannon (keep-alive, 100 connections) against one API
 * process, workers not running (the jobs wait in Redis); next to the same load against a bare
 * node:http server that parses the body and answers 202.
 */
export async function runIngest(ctx: Context): Promise<ScenarioResult> {
  const { settings, loopbacks } = ctx;
  const seconds = settings.ingestSeconds;
  const connections = settings.ingestConnections;
  const tool = settings.loadTool;
  console.log(`\n== ${NAME}: POST /notifications/send, ${connections} connections, ${seconds} s, load from ${tool}`);
  const scope = await createScope(settings, 'ingest');
  let api: ServiceProcess | undefined;
  try {
    const client = await scope.client();
    await seedUsers(scope.db, client, USERS);
    await seedSealedDevices(client, USERS);
    await client.query('ANALYZE');

    api = await startService('api', 'ingest-api', { ...scope.serviceEnv, ...loopbacks.env }, { profileDir: ctx.profileDir });
    const rssReady = round(api.rssMiB());
    await sendLoad(api.url, USERS, { connections: 10, seconds: 3, tool }); // JIT, pools, key cache
    const observer = await Observer.start(settings, ctx.pgStatements);
    const cpuBefore = api.cpuSeconds();
    const load = await sendLoad(api.url, USERS, { connections, seconds, tool });
    const apiCpuSeconds = api.cpuSeconds() - cpuBefore;
    const observation = await observer.stop();
    const apiCpuMsPerRequest = round((apiCpuSeconds * 1000) / Math.max(1, load.requests), 3);
    const apiCores = round(apiCpuSeconds / load.seconds, 2);
    const rssAfter = round(api.rssMiB());
    console.log(
      `  api: ${fmt(load.requestsPerSecond)} req/s, p50 ${load.p50} ms, p90 ${load.p90} ms, p99 ${load.p99} ms, max ${load.max} ms, non-2xx ${load.non2xx}, errors ${load.errors}; ${apiCpuMsPerRequest} ms CPU/request, ${apiCores} cores`,
    );

    const batchCpuBefore = api.cpuSeconds();
    const batch = await batchLoad(api.url, USERS, { connections: BATCH_CONNECTIONS, seconds, tool });
    const batchCpuMsPerNotification = round(((api.cpuSeconds() - batchCpuBefore) * 1000) / Math.max(1, batch.notificationsPerSecond * batch.seconds), 4);
    console.log(
      `  batch: ${fmt(batch.notificationsPerSecond)} notif/s (${BATCH_SIZE} a request, ${BATCH_CONNECTIONS} conns), p50 ${batch.p50} ms, p99 ${batch.p99} ms, non-2xx ${batch.non2xx}, errors ${batch.errors}; ${batchCpuMsPerNotification} ms API CPU/notification`,
    );

    await api.stop();
    api = undefined;

    const bare = await startBareHttpServer();
    let bareLoad: LoadResult;
    let bareBatch: Awaited<ReturnType<typeof batchLoad>>;
    try {
      bareLoad = await sendLoad(bare.url, USERS, { connections, seconds, tool });
      bareBatch = await batchLoad(bare.url, USERS, { connections: BATCH_CONNECTIONS, seconds, tool });
    } finally {
      bare.stop();
    }
    console.log(`  bare node:http: ${fmt(bareLoad.requestsPerSecond)} req/s, p50 ${bareLoad.p50} ms, p99 ${bareLoad.p99} ms; batches ${fmt(bareBatch.notificationsPerSecond)} notif/s`);

    const { rows: accepted } = await client.query<{ n: number }>(`SELECT count(*)::int AS n FROM notifications`);
    return {
      name: NAME,
      rows: [
        row(NAME, `POST /notifications/send, 1 API proc, ${connections} conns, ${seconds} s, ${tool}`, `${fmt(load.requestsPerSecond)} req/s`, {
          baseline: `bare node:http ${fmt(bareLoad.requestsPerSecond)} req/s`,
          ratio: `${ratio(load.requestsPerSecond, bareLoad.requestsPerSecond)}×`,
          target: `≥ ${fmt(TARGET_RPS)} req/s`,
          verdict: verdict(load.requestsPerSecond >= TARGET_RPS),
        }),
        row(NAME, 'latency p50 / p99', `${load.p50} / ${load.p99} ms`, {
          baseline: `bare ${bareLoad.p50} / ${bareLoad.p99} ms`,
          target: `p99 ≤ ${TARGET_P99_MS} ms`,
          verdict: verdict(load.p99 <= TARGET_P99_MS),
        }),
        row(NAME, 'non-2xx / errors', `${load.non2xx} / ${load.errors}`, { baseline: `bare ${bareLoad.non2xx} / ${bareLoad.errors}`, target: '0', verdict: verdict(load.non2xx === 0 && load.errors === 0) }),
        row(NAME, 'API CPU per request; cores busy (API / PostgreSQL / Redis)', `${apiCpuMsPerRequest} ms`, {
          baseline: `${apiCores} / ${observation.cpu.postgresCores} / ${observation.cpu.redisCores} of ${String(observation.cpu.machineBusyPct)}% busy`,
        }),
        row(NAME, `POST /notifications/batch, ${BATCH_SIZE} a request, ${BATCH_CONNECTIONS} conns`, `${fmt(batch.notificationsPerSecond)} notif/s`, {
          baseline: `bare node:http ${fmt(bareBatch.notificationsPerSecond)} notif/s`,
          ratio: `${ratio(batch.notificationsPerSecond, bareBatch.notificationsPerSecond)}×`,
          target: `≥ ${fmt(TARGET_BATCH_NPS)} notif/s`,
          verdict: verdict(batch.notificationsPerSecond >= TARGET_BATCH_NPS && batch.non2xx === 0 && batch.errors === 0),
        }),
        row(NAME, 'batch: latency p50 / p99; non-2xx / errors; API CPU per notification', `${batch.p50} / ${batch.p99} ms; ${batch.non2xx} / ${batch.errors}`, { baseline: `${batchCpuMsPerNotification} ms` }),
      ],
      details: {
        users: USERS,
        api: load,
        bareHttp: bareLoad,
        rowsWritten: accepted[0]?.n,
        apiRssMiB: { ready: rssReady, afterLoad: rssAfter },
        apiCpu: { msPerRequest: apiCpuMsPerRequest, cores: apiCores },
        batch: { ...batch, bare: bareBatch, cpuMsPerNotification: batchCpuMsPerNotification },
      },
      observations: { load: observation },
    };
  } finally {
    await api?.stop();
    await scope.cleanup();
  }
}
