import { Agent } from 'node:http';
import { User, createDataSource, listNotifications } from '@notofine/db';
import type { Client } from 'pg';
import type { DataSource, Logger as TypeOrmLogger } from 'typeorm';
import type { Context } from '../lib/context';
import { BENCH_API_KEY, createScope, httpRequest, type Scope } from '../lib/infra';
import { Observer, type Observation } from '../lib/observe';
import { startService, type ServiceProcess } from '../lib/processes';
import { wrkLoad, wrkScript } from '../lib/load';
import { row, verdict, type Row, type ScenarioResult } from '../lib/report';
import { seedUsers } from '../lib/seed';
import { fmt, round, summarise, timed, type LatencySummary } from '../lib/stats';

const NAME = '4 reads';
const TARGET_P99_MS = 10;
const LIMIT = 10;
/** Users of the small table (10 notifications each) and of the large one. */
const SMALL_USERS = 1_000;
const LARGE_USERS = 100_000;
/** Rows per INSERT of the large load (progress is printed after each). */
const LOAD_CHUNK = 1_000_000;

interface Phase {
  readonly rows: number;
  readonly users: number;
  readonly loadSeconds: number;
  readonly api: LatencySummary & { errors: number };
  /** The repository call the route makes (existsBy User + listNotifications), in-process through TypeORM: the database's share. */
  readonly repository: LatencySummary;
  readonly plan: { readonly sql: string; readonly summary: string; readonly indexScan: boolean; readonly executionMs: number };
  readonly observation: Observation;
}

/** TypeORM logger that keeps the last SELECT on notifications, with its parameters. */
class CaptureLogger implements TypeOrmLogger {
  last: { query: string; parameters: unknown[] } | undefined;
  logQuery(query: string, parameters?: unknown[]): void {
    if (/FROM notifications/i.test(query) && /ORDER BY/i.test(query)) this.last = { query, parameters: parameters ?? [] };
  }
  logQueryError(): void {}
  logQuerySlow(): void {}
  logSchemaBuild(): void {}
  logMigration(): void {}
  log(): void {}
}

/**
 * `GET /users/{id}/notifications?limit=10` latency over a few thousand requests (lightly
 * concurrent), with a small table and with a large one (rows from generate_series, spread over many
 * users and in time), next to the same repository calls made in-process; and the plan PostgreSQL
 * chooses for the listing's SQL, captured as listNotifications sends it.
 */
export async function runReads(ctx: Context): Promise<ScenarioResult> {
  const { settings, loopbacks } = ctx;
  console.log(`\n== ${NAME}: GET /users/{id}/notifications?limit=${LIMIT} with ${fmt(settings.readsSmallRows)} and ${fmt(settings.readsLargeRows)} rows`);
  const scope = await createScope(settings, 'reads');
  let api: ServiceProcess | undefined;
  const capture = new CaptureLogger();
  const captureDb = createDataSource({ url: settings.databaseUrl, schema: scope.id, poolSize: 1 }, { applicationName: 'notofine-bench-capture' });
  captureDb.setOptions({ logging: ['query'], logger: capture });
  try {
    const client = await scope.client();
    await seedUsers(scope.db, client, LARGE_USERS);
    await captureDb.initialize();

    const small = await timed(() => loadNotifications(client, 1, settings.readsSmallRows, SMALL_USERS, settings.readsLargeRows));
    api = await startService('api', 'reads-api', { ...scope.serviceEnv, ...loopbacks.env }, { profileDir: ctx.profileDir });
    const phases: Phase[] = [];
    phases.push(await measurePhase(ctx, scope, client, captureDb, capture, api, settings.readsSmallRows, SMALL_USERS, small.ms / 1000));

    const large = await timed(() => loadNotifications(client, settings.readsSmallRows + 1, settings.readsLargeRows, LARGE_USERS, settings.readsLargeRows));
    phases.push(await measurePhase(ctx, scope, client, captureDb, capture, api, settings.readsLargeRows, LARGE_USERS, large.ms / 1000));

    const rows: Row[] = [];
    for (const phase of phases) {
      const size = `${fmt(phase.rows)} rows, ${fmt(phase.users)} users`;
      rows.push(
        row(NAME, `GET /users/{id}/notifications?limit=10, ${size}: p50 / p99`, `${phase.api.p50} / ${phase.api.p99} ms`, {
          baseline: `repository in-process ${phase.repository.p50} / ${phase.repository.p99} ms`,
          target: `p99 < ${TARGET_P99_MS} ms`,
          verdict: verdict(phase.api.p99 < TARGET_P99_MS && phase.api.errors === 0),
        }),
        row(NAME, `plan, ${fmt(phase.rows)} rows`, phase.plan.summary, { target: 'index scan', verdict: verdict(phase.plan.indexScan) }),
      );
    }
    return {
      name: NAME,
      rows,
      details: {
        requests: settings.readsRequests,
        concurrency: settings.readsConcurrency,
        phases: phases.map(({ observation: _observation, ...phase }) => phase),
        apiRssMiB: round(api.rssMiB()),
      },
      observations: Object.fromEntries(phases.map((phase) => [`${fmt(phase.rows)} rows`, phase.observation])),
    };
  } finally {
    await api?.stop();
    if (captureDb.isInitialized) await captureDb.destroy();
    await scope.cleanup();
  }
}

/**
 * Notifications first..last (1-based), `sent`, spread over `users` users (the i-th to user
 * 1 + i % users, so each user's rows are scattered in the table as in real life) and in time (30 ms
 * apart, the newest now). Foreign-key triggers are skipped for the load (the users exist), then
 * VACUUM ANALYZE and a CHECKPOINT, as autovacuum and the checkpointer would have done by the time
 * such a table is read.
 */
async function loadNotifications(client: Client, first: number, last: number, users: number, total: number): Promise<void> {
  await client.query(`SET session_replication_role = replica`);
  try {
    for (let from = first; from <= last; from += LOAD_CHUNK) {
      const to = Math.min(last, from + LOAD_CHUNK - 1);
      const { ms } = await timed(() =>
        client.query(
          `INSERT INTO notifications (user_id, channel, message, subject, status, attempts, provider, provider_message_id, sent_at, created_at, updated_at)
           SELECT 1 + i % $3::bigint, x.channel, 'Rappel Notofine : votre contravention REF' || i || ' est à régler avant le 15 janvier 2027.', NULL, 'sent', 1,
                  CASE x.channel WHEN 'email' THEN 'sendgrid' WHEN 'sms' THEN 'vonage' ELSE 'fcm' END, 'msg-' || i, x.at, x.at, x.at
           FROM generate_series($1::bigint, $2::bigint) AS i
           CROSS JOIN LATERAL (SELECT (ARRAY['email', 'sms', 'push'])[1 + (i % 3)::int] AS channel, now() - ($4::bigint - i) * interval '30 ms' AS at) AS x`,
          [from, to, users, total],
        ),
      );
      if (last - first >= LOAD_CHUNK) console.log(`  loaded notifications ${fmt(from)}..${fmt(to)} in ${round(ms / 1000, 1)} s`);
    }
  } finally {
    await client.query(`SET session_replication_role = DEFAULT`);
  }
  const { ms } = await timed(() => client.query('VACUUM ANALYZE notifications'));
  console.log(`  VACUUM ANALYZE notifications: ${round(ms / 1000, 1)} s`);
  // The load leaves shared buffers full of dirty pages and a checkpoint under way (its WAL is
  // past max_wal_size): reads would write those pages out to make room, and share the disk with
  // the checkpoint. A table at rest has been checkpointed long since.
  try {
    const checkpoint = await timed(() => client.query('CHECKPOINT'));
    console.log(`  CHECKPOINT: ${round(checkpoint.ms / 1000, 1)} s`);
  } catch (error) {
    console.log(`  CHECKPOINT skipped (${(error as Error).message}): reads may write the load's dirty pages out`);
  }
}

async function measurePhase(
  ctx: Context,
  scope: Scope,
  client: Client,
  captureDb: DataSource,
  capture: CaptureLogger,
  api: ServiceProcess,
  rows: number,
  users: number,
  loadSeconds: number,
): Promise<Phase> {
  const { settings } = ctx;
  const count = settings.readsRequests;
  const concurrency = settings.readsConcurrency;
  const randomUser = () => 1 + Math.floor(Math.random() * users);

  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const headers = { authorization: `Bearer ${BENCH_API_KEY}` };
  const first = await httpRequest(`${api.url}/users/1/notifications?limit=${LIMIT}`, { headers, agent });
  const listed = (JSON.parse(first.body) as { notifications?: unknown[] }).notifications?.length;
  if (first.status !== 200 || listed !== LIMIT) throw new Error(`GET /users/1/notifications answered ${first.status} with ${listed} notifications: ${first.body.slice(0, 300)}`);

  const run = async (n: number, one: () => Promise<void>): Promise<number[]> => {
    const latencies: number[] = [];
    let next = 0;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < n) {
          next += 1;
          const started = performance.now();
          await one();
          latencies.push(performance.now() - started);
        }
      }),
    );
    return latencies;
  };
  let errors = 0;
  const get = async () => {
    const answer = await httpRequest(`${api.url}/users/${randomUser()}/notifications?limit=${LIMIT}`, { headers, agent });
    if (answer.status !== 200) errors += 1;
  };
  await run(Math.min(300, count), get); // warm-up
  errors = 0;
  let apiSummary: LatencySummary;
  const observer = await Observer.start(settings, ctx.pgStatements);
  if (settings.loadTool === 'wrk') {
    // The clock in a C client of its own, as in production: not in this process, which also samples PostgreSQL.
    const script = wrkScript('', `return wrk.format("GET", "/users/" .. math.random(${users}) .. "/notifications?limit=${LIMIT}")`);
    const load = await wrkLoad(`${api.url}/`, script, { connections: concurrency, seconds: settings.readsSeconds });
    errors = load.non2xx + load.errors + load.timeouts;
    apiSummary = { count: load.requests, p50: load.p50, p90: load.p90, p99: load.p99, max: load.max, mean: load.mean };
  } else {
    apiSummary = summarise(await run(count, get));
  }
  const observation = await observer.stop();
  agent.destroy();

  const repository = async () => {
    const userId = randomUser();
    await scope.db.manager.existsBy(User, { id: userId });
    await listNotifications(scope.db.manager, { userId, limit: LIMIT });
  };
  await run(Math.min(300, count), repository);
  const repositoryLatencies = await run(count, repository);

  await listNotifications(captureDb.manager, { userId: randomUser(), limit: LIMIT });
  if (!capture.last) throw new Error('listNotifications ran no SELECT on notifications');
  const plan = await explain(client, capture.last.query, capture.last.parameters);

  const phase: Phase = {
    rows,
    users,
    loadSeconds: round(loadSeconds, 1),
    api: { ...apiSummary, errors },
    repository: summarise(repositoryLatencies),
    plan,
    observation,
  };
  console.log(
    `  ${fmt(rows)} rows: API p50 ${phase.api.p50} ms, p99 ${phase.api.p99} ms (repository ${phase.repository.p50} / ${phase.repository.p99} ms); plan: ${plan.summary}`,
  );
  return phase;
}

interface PlanNode {
  'Node Type': string;
  'Index Name'?: string;
  'Scan Direction'?: string;
  'Relation Name'?: string;
  'Actual Rows'?: number;
  'Shared Hit Blocks'?: number;
  'Shared Read Blocks'?: number;
  Plans?: PlanNode[];
}

/** EXPLAIN (ANALYZE, BUFFERS) of the listing's SQL with its parameters, summed up on one line. */
async function explain(client: Client, sql: string, parameters: unknown[]): Promise<Phase['plan']> {
  const { rows } = await client.query<{ 'QUERY PLAN': Array<{ Plan: PlanNode; 'Execution Time': number }> }>(`EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) ${sql}`, parameters);
  const top = rows[0]!['QUERY PLAN'][0]!;
  const nodes: string[] = [];
  let indexScan = false;
  let seqScan = false;
  const walk = (node: PlanNode) => {
    const scan = node['Index Name']
      ? `${node['Node Type']}${node['Scan Direction'] === 'Backward' ? ' Backward' : ''} using ${node['Index Name']}`
      : `${node['Node Type']}${node['Relation Name'] ? ` on ${node['Relation Name']}` : ''}`;
    nodes.push(scan);
    // A bitmap scan (with a Sort of the user's few rows) is what the planner picks while users have a handful of rows each.
    if (/Index (Only )?Scan/.test(node['Node Type']) && node['Index Name']?.includes('notifications')) indexScan = true;
    if (node['Node Type'] === 'Seq Scan' && node['Relation Name'] === 'notifications') seqScan = true;
    for (const child of node.Plans ?? []) walk(child);
  };
  walk(top.Plan);
  const buffers = (top.Plan['Shared Hit Blocks'] ?? 0) + (top.Plan['Shared Read Blocks'] ?? 0);
  return {
    sql: sql.replace(/\s+/g, ' ').trim(),
    summary: `${nodes.join(' → ')} (${buffers} buffers, ${round(top['Execution Time'], 3)} ms)`,
    indexScan: indexScan && !seqScan,
    executionMs: top['Execution Time'],
  };
}
