import type { Context } from '../lib/context';
import { createScope, httpRequest } from '../lib/infra';
import { AUTH_HEADERS, sendLoad, startBareHttpServer, type LoadResult } from '../lib/load';
import { Observer } from '../lib/observe';
import { startService, type ServiceProcess } from '../lib/processes';
import { row, verdict, type ScenarioResult } from '../lib/report';
import { seedSealedDevices, seedUsers } from '../lib/seed';
import { fmt, ratio, round } from '../lib/stats';

const NAME = '2 ingest';
const USERS = 10_000;
const TARGET_RPS = 3000;
const TARGET_P99_MS = 50;

/**
 * `POST /notifications/send` under autocannon (keep-alive, 100 connections) against one API
 * process, workers not running (the jobs wait in Redis); next to the same load against a bare
 * node:http server that parses the body and answers 202.
 */
export async function runIngest(ctx: Context): Promise<ScenarioResult> {
  const { settings, loopbacks } = ctx;
  const seconds = settings.ingestSeconds;
  const connections = settings.ingestConnections;
  console.log(`\n== ${NAME}: POST /notifications/send, ${connections} connections, ${seconds} s`);
  const scope = await createScope(settings, 'ingest');
  let api: ServiceProcess | undefined;
  try {
    const client = await scope.client();
    await seedUsers(scope.db, client, USERS);
    await seedSealedDevices(client, USERS);
    await client.query('ANALYZE');

    api = await startService('api', 'ingest-api', { ...scope.serviceEnv, ...loopbacks.env }, { profileDir: ctx.profileDir });
    const rssReady = round(api.rssMiB());
    await sendLoad(api.url, USERS, { connections: 10, seconds: 3 }); // JIT, pools, key cache
    const observer = await Observer.start(settings, ctx.pgStatements);
    const cpuBefore = api.cpuSeconds();
    const load = await sendLoad(api.url, USERS, { connections, seconds });
    const apiCpuSeconds = api.cpuSeconds() - cpuBefore;
    const observation = await observer.stop();
    const apiCpuMsPerRequest = round((apiCpuSeconds * 1000) / Math.max(1, load.requests), 3);
    const apiCores = round(apiCpuSeconds / load.seconds, 2);
    const rssAfter = round(api.rssMiB());
    console.log(
      `  api: ${fmt(load.requestsPerSecond)} req/s, p50 ${load.p50} ms, p99 ${load.p99} ms, non-2xx ${load.non2xx}, errors ${load.errors}; ${apiCpuMsPerRequest} ms CPU/request, ${apiCores} cores`,
    );

    const batch = await httpRequest(`${api.url}/notifications/batch`, { method: 'POST', headers: AUTH_HEADERS, body: JSON.stringify({ notifications: [] }) });
    const batchBuilt = batch.status !== 404;

    await api.stop();
    api = undefined;

    const bare = await startBareHttpServer();
    let bareLoad: LoadResult;
    try {
      bareLoad = await sendLoad(bare.url, USERS, { connections, seconds });
    } finally {
      bare.stop();
    }
    console.log(`  bare node:http: ${fmt(bareLoad.requestsPerSecond)} req/s, p50 ${bareLoad.p50} ms, p99 ${bareLoad.p99} ms`);

    const { rows: accepted } = await client.query<{ n: number }>(`SELECT count(*)::int AS n FROM notifications`);
    return {
      name: NAME,
      rows: [
        row(NAME, `POST /notifications/send, 1 API proc, ${connections} conns, ${seconds} s`, `${fmt(load.requestsPerSecond)} req/s`, {
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
        row(NAME, 'POST /notifications/batch', batchBuilt ? `route answers ${batch.status}: add its load here` : 'not built yet', { target: '' }),
      ],
      details: {
        users: USERS,
        api: load,
        bareHttp: bareLoad,
        rowsWritten: accepted[0]?.n,
        apiRssMiB: { ready: rssReady, afterLoad: rssAfter },
        apiCpu: { msPerRequest: apiCpuMsPerRequest, cores: apiCores },
        batchRoute: { status: batch.status },
      },
      observations: { load: observation },
    };
  } finally {
    await api?.stop();
    await scope.cleanup();
  }
}
