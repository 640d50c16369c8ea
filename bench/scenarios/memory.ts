import { DeliveryQueues, createRedis } from '@notofine/queue';
import autocannon from 'autocannon';
import type { Context } from '../lib/context';
import { createScope, httpRequest } from '../lib/infra';
import { AUTH_HEADERS, loadResult, type LoadResult } from '../lib/load';
import { Observer } from '../lib/observe';
import { startService, type ServiceProcess } from '../lib/processes';
import { row, verdict, type ScenarioResult } from '../lib/report';
import { CHANNELS, channelOf, seedSealedDevices, seedTickets, seedUsers } from '../lib/seed';
import { fmt, round } from '../lib/stats';

const NAME = '5 memory';
const USERS = 10_000;
const TARGET_GROWTH = 10;
const SAMPLE_EVERY_MS = 2000;

interface Sample {
  readonly t: number;
  /** Taken after the warm-up. */
  readonly soak: boolean;
  /** RSS, MiB. */
  readonly api: number;
  readonly worker: number;
  /** V8 heap used, MiB (NaN when /metrics did not answer). */
  readonly apiHeap: number;
  readonly workerHeap: number;
}

/** nodejs_heap_size_used_bytes of a service's Prometheus metrics, in MiB. */
async function heapUsedMiB(url: string): Promise<number> {
  try {
    const answer = await httpRequest(url, { timeoutMs: 1500 });
    const bytes = Number(/^nodejs_heap_size_used_bytes(?:\{[^}]*\})? (\S+)/m.exec(answer.body)?.[1]);
    return round(bytes / 2 ** 20, 1);
  } catch {
    return Number.NaN;
  }
}

/**
 * RSS of the API and the worker at start, after a warm-up and after a sustained run of mixed load
 * at a fixed rate: in every 10 requests, 8 single sends (email, SMS, push in turn), 1 ticket notice
 * (3 notifications) and 1 listing, the worker delivering to the loopback providers.
 */
export async function runMemory(ctx: Context): Promise<ScenarioResult> {
  const { settings, loopbacks } = ctx;
  const { warmupSeconds, soakSeconds, soakRate } = settings;
  console.log(`\n== ${NAME}: ${warmupSeconds} s warm-up + ${soakSeconds} s of mixed load at ${soakRate} req/s`);
  const scope = await createScope(settings, 'memory');
  const services: ServiceProcess[] = [];
  try {
    const client = await scope.client();
    await seedUsers(scope.db, client, USERS);
    await seedSealedDevices(client, USERS);
    await seedTickets(client, USERS);
    await client.query('ANALYZE');

    const env = { ...scope.serviceEnv, ...loopbacks.env };
    const api = await startService('api', 'memory-api', env, { profileDir: ctx.profileDir });
    const worker = await startService('worker', 'memory-worker', env, { profileDir: ctx.profileDir });
    services.push(api, worker);
    const start = { api: round(api.rssMiB(), 1), worker: round(worker.rssMiB(), 1) };

    // RSS (/proc) and V8 heap used (the services' own /metrics) of both, every 2 s.
    const series: Sample[] = [];
    const started = performance.now();
    let warmedAt = Number.POSITIVE_INFINITY;
    const timer = setInterval(() => {
      const t = round((performance.now() - started) / 1000, 1);
      let rss: { api: number; worker: number };
      try {
        rss = { api: round(api.rssMiB(), 1), worker: round(worker.rssMiB(), 1) };
      } catch {
        return; // a process gone: the scenario fails below
      }
      void Promise.all([heapUsedMiB(`${api.url}/metrics`), heapUsedMiB(`${worker.url}/metrics`)]).then(([apiHeap, workerHeap]) =>
        series.push({ t, soak: t >= warmedAt, api: rss.api, worker: rss.worker, apiHeap, workerHeap }),
      );
    }, SAMPLE_EVERY_MS);

    let warmup: LoadResult;
    let soak: LoadResult;
    let warm: { api: number; worker: number };
    const observer = await Observer.start(settings, ctx.pgStatements);
    let cpu: { api: number; worker: number };
    try {
      warmup = await mixedLoad(api.url, warmupSeconds, soakRate);
      warm = { api: round(api.rssMiB(), 1), worker: round(worker.rssMiB(), 1) };
      warmedAt = (performance.now() - started) / 1000;
      const cpuBefore = { api: api.cpuSeconds(), worker: worker.cpuSeconds() };
      soak = await mixedLoad(api.url, soakSeconds, soakRate);
      cpu = { api: round((api.cpuSeconds() - cpuBefore.api) / soak.seconds, 2), worker: round((worker.cpuSeconds() - cpuBefore.worker) / soak.seconds, 2) };
    } finally {
      clearInterval(timer);
    }
    const end = { api: round(api.rssMiB(), 1), worker: round(worker.rssMiB(), 1) };
    const observation = await observer.stop();

    // Did the worker keep up? What is still queued, and what the rows say.
    const redis = createRedis(settings.redisUrl, 'producer', 'notofine-bench-memory');
    await redis.connect();
    const queues = new DeliveryQueues(redis, scope.id);
    let backlog = 0;
    for (const channel of CHANNELS) {
      const counts = await queues.queue(channel).getJobCounts('waiting', 'active', 'delayed');
      backlog += Object.values(counts).reduce((sum, count) => sum + count, 0);
    }
    await queues.close();
    await redis.quit();
    const statuses = Object.fromEntries(
      ((await scope.db.query(`SELECT status, count(*)::int AS n FROM notifications GROUP BY status`)) as Array<{ status: string; n: number }>).map((r) => [r.status, r.n]),
    );

    // A busy Node process's RSS swings by half with its GC cycles: single readings compare random
    // points of that saw-tooth. What is retained shows in the troughs: the lowest reading of the
    // soak's first third against that of its last third.
    const soakSamples = series.filter((sample) => sample.soak);
    const third = Math.max(1, Math.floor(soakSamples.length / 3));
    const trough = (samples: Sample[], key: keyof Omit<Sample, 't' | 'soak'>) => {
      const values = samples.map((sample) => sample[key]).filter((value) => Number.isFinite(value));
      return values.length > 0 ? Math.min(...values) : Number.NaN;
    };
    const troughs = (key: keyof Omit<Sample, 't' | 'soak'>) => {
      const first = trough(soakSamples.slice(0, third), key);
      const last = trough(soakSamples.slice(-third), key);
      return { first: round(first, 1), last: round(last, 1), growth: round(((last - first) / first) * 100, 1) };
    };
    const growth = {
      api: { rss: troughs('api'), heap: troughs('apiHeap'), raw: round(((end.api - warm.api) / warm.api) * 100, 1) },
      worker: { rss: troughs('worker'), heap: troughs('workerHeap'), raw: round(((end.worker - warm.worker) / warm.worker) * 100, 1) },
    };
    const peak = (kind: 'api' | 'worker') => Math.max(end[kind], ...series.map((sample) => sample[kind]));
    const signed = (value: number) => `${value >= 0 ? '+' : ''}${value} %`;
    console.log(
      `  api RSS ${start.api} → ${warm.api} → ${end.api} MiB (troughs ${growth.api.rss.first} → ${growth.api.rss.last}, ${signed(growth.api.rss.growth)}), worker ${start.worker} → ${warm.worker} → ${end.worker} MiB (troughs ${growth.worker.rss.first} → ${growth.worker.rss.last}, ${signed(growth.worker.rss.growth)}); ${fmt(soak.requestsPerSecond)} req/s, backlog ${backlog}`,
    );
    const rssRow = (kind: 'api' | 'worker') =>
      row(NAME, `${kind} RSS start → warm → after ${soakSeconds} s (peak); troughs of 1st → last third`, `${start[kind]} → ${warm[kind]} → ${end[kind]} MiB (${peak(kind)}); ${growth[kind].rss.first} → ${growth[kind].rss.last}`, {
        baseline: `warm-up ${warmupSeconds} s; heap troughs ${growth[kind].heap.first} → ${growth[kind].heap.last} MiB`,
        ratio: `${signed(growth[kind].rss.growth)} (end/warm ${signed(growth[kind].raw)})`,
        target: `< ${TARGET_GROWTH} %`,
        verdict: verdict(growth[kind].rss.growth < TARGET_GROWTH),
      });
    return {
      name: NAME,
      rows: [
        rssRow('api'),
        rssRow('worker'),
        row(NAME, `mixed load offered at ${soakRate} req/s`, `${fmt(soak.requestsPerSecond)} req/s, p99 ${soak.p99} ms`, {
          baseline: `non-2xx ${soak.non2xx}, errors ${soak.errors}`,
          ratio: `backlog ${backlog}`,
          target: 'no errors, no backlog',
          verdict: verdict(soak.non2xx === 0 && soak.errors === 0 && backlog < soakRate * 5),
        }),
      ],
      details: { users: USERS, rssMiB: { start, warm, end }, growth, samples: series, coresDuringSoak: cpu, warmup, soak, backlogAtEnd: backlog, notificationStatuses: statuses, providerCalls: loopbacks.counts() },
      observations: { soak: observation },
    };
  } finally {
    for (const service of services.reverse()) await service.stop();
    await scope.cleanup();
  }
}

/** The mixed load: per 10 requests, 8 sends, 1 ticket notice, 1 listing; random users. */
async function mixedLoad(baseUrl: string, seconds: number, rate: number): Promise<LoadResult> {
  let i = 0;
  const user = () => 1 + Math.floor(Math.random() * USERS);
  const send: autocannon.Request = {
    method: 'POST',
    path: '/notifications/send',
    setupRequest: (request) => {
      i += 1;
      return {
        ...request,
        body: JSON.stringify({ user_id: user(), channel: channelOf(i), message: `Votre contravention REF${i} est à régler avant le 15 janvier 2027.`, subject: 'Rappel de paiement' }),
      };
    },
  };
  const notify: autocannon.Request = {
    method: 'POST',
    setupRequest: (request) => ({ ...request, path: `/tickets/${user()}/notify`, body: JSON.stringify({ message: 'Votre contravention est due.', subject: 'Rappel de paiement' }) }),
  };
  const list: autocannon.Request = {
    method: 'GET',
    setupRequest: (request) => ({ ...request, path: `/users/${user()}/notifications?limit=10`, body: undefined }),
  };
  const result = await autocannon({
    url: baseUrl,
    connections: 20,
    duration: seconds,
    overallRate: rate,
    headers: AUTH_HEADERS,
    requests: [send, send, send, send, notify, send, send, send, send, list],
  });
  return loadResult(result);
}
